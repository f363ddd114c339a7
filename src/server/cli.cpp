#include "server/cli.hpp"

#include "common/limits.hpp"
#include "service/roster.hpp"

namespace keydir::server {

std::string Cli::command_name() const {
  for (CLI::App* s : app.get_subcommands()) {
    auto inner = s->get_subcommands();
    return inner.empty() ? s->get_name() : s->get_name() + " " + inner.front()->get_name();
  }
  return "";
}

std::unique_ptr<Cli> make_cli() {
  auto c = std::make_unique<Cli>();
  CLI::App& app = c->app;
  // Options of a command may come before or after its subcommand
  // (`keydird --data D dump` and `keydird dump --data D`).
  app.fallthrough();
  app.require_subcommand(1);
  auto& data = c->data;
  auto& sync = c->sync;

  auto* serve = c->serve =
      app.add_subcommand("serve", "Serve HKP (and HKPS with --tls-cert/--tls-key)");
  auto& listen = c->listen;
  auto& http = c->http;
  auto& tls_cert = c->tls_cert;
  auto& tls_key = c->tls_key;
  auto& wkd_domains = c->wkd_domains;
  auto& max_results = c->max_results;
  auto& row_cache_mb = c->row_cache_mb;
  auto& answer_cache_mb = c->answer_cache_mb;
  auto& answer_cache_ttl = c->answer_cache_ttl;
  auto& no_query_log = c->no_query_log;
  auto& access_log = c->access_log;
  auto& add_per_minute = c->add_per_minute;
  auto& add_burst = c->add_burst;
  serve->add_option("--listen", listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  serve->add_option("--data", data, "Data folder")->capture_default_str();
  serve
      ->add_option("--threads", http.threads,
                   "HTTP worker threads (0: two per core; measured faster than one per core)")
      ->capture_default_str()
      ->check(CLI::Range(0, 256));
  serve->add_option("--tls-cert", tls_cert, "TLS certificate chain (PEM) for HKPS");
  serve->add_option("--tls-key", tls_key, "TLS private key (PEM)");
  serve->add_option("--wkd-domain", wkd_domains,
                    "Domain whose Web Key Directory this server publishes (repeatable)");
  serve
      ->add_option("--log-checkpoint-interval", c->log_checkpoint_interval,
                   "Seconds after which the transparency log's checkpoint is signed and dated "
                   "again, even when nothing changed (default 300)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{86400}));
  serve->add_option("--log-witness", c->log_witnesses,
                    "A witness of the transparency log: \"URL VKEY\", its C2SP tlog-witness URL "
                    "and cosignature key (repeatable)");
  auto& wkd_policy_file = c->wkd_policy_file;
  auto& wkd_submission = c->wkd_submission;
  auto& site_name = c->site_name;
  serve->add_option("--wkd-policy", wkd_policy_file,
                    "File served as the WKD policy (default: a comment line)");
  serve->add_option("--wkd-submission-address", wkd_submission,
                    "Address served as WKD submission-address (default: none)");
  serve->add_option("--site-name", site_name, "Name shown on the web pages")->capture_default_str();
  serve->add_option("--contact", c->contact,
                    "Who runs the directory and how to reach them, shown on /about, /policy and "
                    "the managed-mode pages (e.g. \"the IT desk, it@example.org\")");
  serve->add_option("--policy-file", c->policy_file,
                    "Privacy and usage policy for /policy: Markdown or plain text, shown as "
                    "escaped text (default: what the mode in force stores and publishes)");
  auto& mode_text = c->mode_text;
  auto& public_url = c->public_url;
  auto& smtp = c->smtp;
  auto& verify_token_hours = c->verify_token_hours;
  auto& operator_tokens = c->operator_tokens;
  auto& managed_uploads = c->managed_uploads;
  serve
      ->add_option(
          "--mode", mode_text,
          "Who may publish an address: open (everything valid), verified (the "
          "address's owner confirms by e-mail), managed (an organization's domains). Default: "
          "the mode the store records; open for a new store")
      ->check(CLI::IsMember({"open", "verified", "managed"}));
  serve->add_option("--public-url", public_url,
                    "Base URL of the links in confirmation mails (default: http://LISTEN)");
  serve->add_option("--smtp-url", smtp.url,
                    "Mail relay: smtp://HOST:PORT (STARTTLS when offered) or smtps://HOST:PORT");
  serve->add_option("--smtp-from", smtp.from, "Sender address of confirmation mails");
  serve->add_option("--smtp-user", smtp.user, "Login at the mail relay (optional)");
  serve->add_option("--smtp-password", smtp.password,
                    "Deprecated: visible to every local user in ps; use --smtp-password-file "
                    "or KEYDIRD_SMTP_PASSWORD");
  auto& smtp_password_file = c->smtp_password_file;
  serve->add_option("--smtp-password-file", smtp_password_file,
                    "File whose first line is the password at the mail relay (not readable by "
                    "every user); or the environment variable KEYDIRD_SMTP_PASSWORD");
  serve->add_flag("--smtp-insecure-loopback", smtp.insecure_loopback,
                  "Allow the SMTP login without TLS, for a relay on 127.0.0.1, ::1 or "
                  "localhost only (by default a login requires STARTTLS or smtps://)");
  serve
      ->add_option("--verify-token-hours", verify_token_hours,
                   "Lifetime of the links in confirmation mails")
      ->capture_default_str();
  serve->add_option("--operator-token", operator_tokens,
                    "Managed mode: a bearer token that lets an operator upload and publish "
                    "(repeatable; at least 128 bits: 32 hex digits or 22 base64 characters). "
                    "On the command line it is deprecated (ps shows it): use "
                    "--operator-token-file, KEYDIRD_OPERATOR_TOKEN or the config file");
  auto& operator_token_file = c->operator_token_file;
  serve->add_option("--operator-token-file", operator_token_file,
                    "Managed mode: file of operator tokens, one a line (# comments; not "
                    "readable by every user); or the environment variable "
                    "KEYDIRD_OPERATOR_TOKEN (tokens separated by spaces or commas)");
  auto& auth_per_minute = c->auth_per_minute;
  auto& auth_burst = c->auth_burst;
  serve
      ->add_option("--auth-rate", auth_per_minute,
                   "Managed mode: uploads presenting an operator token (right or wrong) per "
                   "minute and client address (0: no limit)")
      ->capture_default_str();
  serve
      ->add_option("--auth-burst", auth_burst,
                   "Managed mode: uploads presenting an operator token a client may send at once")
      ->capture_default_str();
  serve
      ->add_option("--managed-uploads", managed_uploads,
                   "Managed mode: uploads without an operator token are refused and nothing is "
                   "mailed, so no --smtp-url is needed (token), or they go through e-mail "
                   "verification (verify: needs --smtp-url and --smtp-from)")
      ->check(CLI::IsMember({"token", "verify"}))
      ->capture_default_str();
  serve->add_option("--max-results", max_results, "Most keys in one lookup answer")
      ->capture_default_str();
  serve->add_option("--row-cache-mb", row_cache_mb, "RocksDB row cache for lookups (MiB)")
      ->capture_default_str();
  serve
      ->add_option(
          "--answer-cache-mb", answer_cache_mb,
          "Cache of lookup answers: HKP, HKPv2, VKS, WKD (MiB; 0: off); any write makes it miss")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));
  serve
      ->add_option("--answer-cache-ttl", answer_cache_ttl,
                   "Seconds a cached lookup answer may be served (index answers show expiry)")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  serve->add_flag("--sync", sync, "fsync every upload (survives power loss)");
  auto& keep_third_party = c->keep_third_party;
  auto& keep_attributes = c->keep_attributes;
  auto& refuse_sha1 = c->refuse_sha1;
  serve->add_flag("--keep-third-party", keep_third_party,
                  "Keep third-party certifications (capped); default: only attested ones");
  serve->add_flag("--keep-user-attributes", keep_attributes, "Keep photo IDs (size-capped)");
  serve->add_flag("--refuse-sha1", refuse_sha1, "Refuse SHA-1 self-signatures");
  auto& config_path = c->config_path;
  serve->add_option("--config", config_path,
                    "TOML file with any of these options, by long name without the dashes "
                    "(deploy/config/keydird.toml.example); flags override it");
  serve->add_flag("--no-query-log", no_query_log, "Leave query strings out of the access log");
  serve
      ->add_option("--add-rate", add_per_minute,
                   "Keys uploaded per minute and client address, counted in keys: an upload "
                   "of a keyring costs one per key, uploads with an operator token nothing "
                   "(0: no limit)")
      ->capture_default_str();
  serve
      ->add_option("--add-burst", add_burst,
                   "Keys a client may upload at once; a larger keyring is let in and the "
                   "client waits afterwards")
      ->capture_default_str();
  serve
      ->add_option("--idle-timeout", http.idle_timeout_seconds,
                   "Close keep-alive connections idle this many seconds (0: never)")
      ->capture_default_str();
  serve->add_option("--trusted-proxy", http.trusted_proxies,
                    "Address of a reverse proxy whose X-Forwarded-For is believed");
  serve->add_option("--metrics-allow", c->metrics_allow,
                    "Address or network (CIDR) that may read /metrics besides loopback "
                    "(repeatable); behind a trusted proxy, the address it forwards counts");
  serve
      ->add_option("--ipv6-prefix", http.ipv6_prefix,
                   "Rate limits count an IPv6 client by its network of this many bits")
      ->capture_default_str()
      ->check(CLI::Range(1, 128));
  serve
      ->add_option("--request-timeout", http.body_timeout_seconds,
                   "Seconds a client has to send a whole request, body included (else 408)")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  auto& recon_listen = c->recon_listen;
  auto& peer_specs = c->peer_specs;
  auto& recon_allow = c->recon_allow;
  auto& gossip_interval = c->gossip_interval;
  serve->add_option("--recon-listen", recon_listen,
                    "SKS reconciliation: HOST:PORT to listen on for peers (e.g. "
                    "127.0.0.1:11370); peering needs --mode open");
  serve->add_option("--peer", peer_specs,
                    "SKS reconciliation partner \"HOST:RECONPORT:HKPPORT [filters=F]\" "
                    "(repeatable; in the config file: [[peer]] tables with host, recon-port, "
                    "hkp-port, filters)");
  serve
      ->add_option("--recon-filters", c->recon_filters,
                   "Filters announced to peers that have none of their own: sks (SKS and "
                   "keydird), hockeypuck-2.3 (Hockeypuck 2.2 and 2.3), or a comma-separated "
                   "list of the filters keydird applies (docs/peering.md)")
      ->capture_default_str();
  serve
      ->add_option("--recon-hkp-port", c->recon_hkp_port,
                   "HKP port announced to peers, where they fetch keys (default: the --listen "
                   "port; behind a proxy: the proxy's public HKP port)")
      ->check(CLI::Range(1, 65535));
  serve->add_option("--recon-allow", recon_allow,
                    "Address allowed to connect to the recon port besides the peers and "
                    "loopback (repeatable)");
  serve
      ->add_option("--gossip-interval", gossip_interval,
                   "Seconds between reconciliations with a random peer (±10%; 0: only answer)")
      ->capture_default_str()
      ->check(CLI::Range(0, 86400));
  serve
      ->add_option("--access-log", access_log,
                   "Access log: a file (flushed every second), - for stdout, off for none")
      ->capture_default_str();

  auto* import = c->import = app.add_subcommand("import", "Import key files and keyserver dumps");
  auto& files = c->files;
  auto& threads = c->threads;
  auto& ack_path = c->ack_path;
  import->add_option("--data", data, "Data folder (required)");
  import->add_option("FILE", files, "Armored or binary files")->required();
  import->add_option("--threads", threads, "Verification threads (default: one per core)")
      ->check(CLI::Range(0u, limits::kMaxWorkerThreads));
  import->add_flag("--sync", sync, "fsync every batch (survives power loss)");
  auto& verify_only = c->verify_only;
  import->add_flag("--verify-only", verify_only,
                   "Parse and verify only; store nothing (checks a dump, measures validation)");
  import->add_option("--ack", ack_path,
                     "Append the fingerprint of every certificate once it is durable");

  auto* dump = c->dump = app.add_subcommand(
      "dump",
      "Write a keydump (numbered binary files): what the directory publishes (safe to "
      "share with a mirror or a peer), or with --full everything needed to restore it");
  auto& out = c->out;
  auto& per_file = c->per_file;
  auto& since = c->since;
  dump->add_option("--data", data, "Data folder (required)");
  dump->add_option("--out", out, "Output folder (new or empty)")->required();
  dump->add_option("--per-file", per_file, "Certificates per file")->check(CLI::PositiveNumber);
  dump->add_option("--since", since, "Only certificates changed after this sequence number");

  auto* check = c->check = app.add_subcommand("check", "Check the store's consistency");
  auto& deep = c->deep;
  auto& expect = c->expect;
  check->add_option("--data", data, "Data folder (required)");
  check->add_flag("--deep", deep, "Also parse and re-verify every certificate");
  check->add_option("--expect", expect, "File of fingerprints that must be stored");
  check
      ->add_option("--threads", threads,
                   "--deep verification threads (default: one per core; one through the admin "
                   "socket of a running server)")
      ->check(CLI::Range(0u, limits::kMaxWorkerThreads));

  auto* log_cmd = app.add_subcommand("log", "The transparency log");
  log_cmd->require_subcommand(1);
  auto* log_verify = c->log_verify = log_cmd->add_subcommand(
      "verify", "Recompute the log's tree from its entries and check the last checkpoint");
  log_verify->add_option("--data", data, "Data folder (required)");

  auto* backup = c->backup = app.add_subcommand("backup", "Online backup (RocksDB checkpoint)");
  backup->add_option("--data", data, "Data folder (required)");
  backup->add_option("--out", out, "Backup folder (must not exist)")->required();

  auto* compact = c->compact =
      app.add_subcommand("compact", "Compact the store (after a bulk import)");
  compact->add_option("--data", data, "Data folder (required)");

  auto* reindex = c->reindex = app.add_subcommand(
      "reindex",
      "Recompute which keys each certificate may be found by (once, after an upgrade "
      "from a version that let any subkey claim its fingerprint)");
  reindex->add_option("--data", data, "Data folder (required)");

  auto* wkd_export = c->wkd_export =
      app.add_subcommand("wkd-export", "Write the static Web Key Directory of a domain");
  auto& wkd_export_domain = c->wkd_export_domain;
  wkd_export->add_option("--data", data, "Data folder (required)");
  wkd_export->add_option("--domain", wkd_export_domain, "Mail domain")->required();
  wkd_export->add_option("--out", out, "Output folder (new or empty)")->required();
  wkd_export->add_option("--policy", wkd_policy_file, "File to use as the policy file");
  wkd_export
      ->add_option("--max-results", max_results,
                   "Most keys in one file (as the server's --max-results)")
      ->capture_default_str();

  auto* admin = c->admin = app.add_subcommand(
      "admin",
      "Operator commands: through the running server (its admin socket in the data folder) or on a "
      "stopped store; each change is kept in the audit log");
  admin->require_subcommand(1);
  auto& admin_fpr = c->admin_fpr;
  auto& admin_email = c->admin_email;
  auto& admin_reason = c->admin_reason;
  admin->add_option("--data", data, "Data folder (required)");
  c->admin_pending = admin->add_subcommand("list-pending", "Addresses awaiting confirmation");
  auto* admin_publish = c->admin_publish =
      admin->add_subcommand("publish", "Publish an address of a key");
  admin_publish->add_option("FPR", admin_fpr, "Fingerprint of the key")->required();
  admin_publish->add_option("EMAIL", admin_email, "Address to publish")->required();
  auto* admin_unpublish = c->admin_unpublish =
      admin->add_subcommand("unpublish", "Unpublish an address of a key");
  admin_unpublish->add_option("FPR", admin_fpr, "Fingerprint of the key")->required();
  admin_unpublish->add_option("EMAIL", admin_email, "Address to unpublish")->required();
  auto* admin_delete = c->admin_delete = admin->add_subcommand(
      "delete", "Delete a key, its index entries and its verification state (leaves a tombstone)");
  admin_delete->add_option("FPR", admin_fpr, "Fingerprint of the key")->required();
  admin_delete->add_option("--reason", admin_reason, "Kept with the tombstone");
  auto* admin_restore = c->admin_restore =
      admin->add_subcommand("restore", "Lift a deleted key's tombstone (it may be uploaded again)");
  admin_restore->add_option("FPR", admin_fpr, "Fingerprint of the key")->required();

  auto* recon_cmd = c->recon_cmd =
      app.add_subcommand("recon", "SKS reconciliation: the prefix tree of a store");
  recon_cmd->require_subcommand(1);
  auto* recon_status = c->recon_status = recon_cmd->add_subcommand(
      "status",
      "Show the store's prefix tree (elements, shape, root digest: two stores hold the "
      "same keys exactly when their digests are equal)");
  recon_status->add_option("--data", data, "Data folder (required)");
  recon_status->add_flag("--json", c->json_output, "One JSON object (with the peers when online)");
  auto* recon_rebuild = c->recon_rebuild = recon_cmd->add_subcommand(
      "rebuild",
      "Recompute the prefix tree from the store's SKS hash index (after damage; "
      "`keydird check` says when)");
  recon_rebuild->add_option("--data", data, "Data folder (required)");

  auto* stats = c->stats = app.add_subcommand("stats", "Counts and size of the store");
  stats->add_option("--data", data, "Data folder (required)");

  auto* migrate = c->migrate = app.add_subcommand(
      "migrate",
      "Bring a store written by an earlier keydird to the schema this one reads, a backup of it "
      "first (in DATA/backups/); every command does it when it opens such a store, this one only "
      "that");
  migrate->add_option("--data", data, "Data folder (required)");

  import
      ->add_option("--mode", c->import_mode,
                   "A new store: its publishing mode (default open); a store that has one: "
                   "must agree with it")
      ->check(CLI::IsMember({"open", "verified", "managed"}));
  import->add_option("--domain", c->import_domains,
                     "A new managed store: a domain it manages (repeatable)");
  import->add_flag("--publish-addresses", c->publish_addresses,
                   "Verified or managed store: publish the imported keys' addresses as if their "
                   "owners had confirmed them (managed: of its domains only). Without it an "
                   "import publishes no address there; only for keys whose owners agreed");
  dump->add_flag("--full", c->full,
                 "A full backup: every user ID, the publication state of every address, pending "
                 "tokens (hashed), tombstones, the audit log, the token key and the mode (keep "
                 "it private; `keydird restore` reads it)");

  auto* restore = c->restore =
      app.add_subcommand("restore", "Restore a full backup (keydird dump --full) into a new store");
  restore->add_option("--data", data, "New data folder (required)");
  restore->add_option("--from", c->restore_from, "Folder of the full backup")->required();

  auto* set_mode = c->admin_set_mode = admin->add_subcommand(
      "set-mode",
      "Change the store's publishing mode (re-indexes every key; says what it implies "
      "first)");
  set_mode->add_option("MODE", c->set_mode_name, "open, verified or managed")
      ->required()
      ->check(CLI::IsMember({"open", "verified", "managed"}));
  set_mode->add_option("--domain", c->set_mode_domains,
                       "Managed: a domain it manages (repeatable)");
  set_mode->add_flag("--yes", c->yes, "Make a change that publishes addresses nobody confirmed");
  set_mode->add_flag("--dry-run", c->dry_run, "Only say what the change would do");
  auto* log = c->admin_log = admin->add_subcommand("log", "The audit log of admin actions");
  log->add_flag("--json", c->json_output, "One JSON object a line");
  auto* list = c->admin_list = admin->add_subcommand(
      "list",
      "The directory's keys and addresses, a page at a time: one row per key and address with "
      "its state (published, pending: a confirmation link is out, withheld: neither)");
  list->add_option("--domain", c->list_domains, "Only addresses of this domain (repeatable)");
  list->add_option("--state", c->list_state, "published, pending, withheld or all")
      ->check(CLI::IsMember({"published", "pending", "withheld", "all"}))
      ->capture_default_str();
  list->add_option("--match", c->list_match,
                   "Only rows whose name or address holds this text (any case)");
  list->add_option("--limit", c->list_limit, "Rows in the page")
      ->check(CLI::Range(std::size_t{1}, service::kMaxRosterPage))
      ->capture_default_str();
  list->add_option("--after", c->list_after,
                   "Start after this row (the cursor the previous page ended with)");
  list->add_option("--format", c->list_format, "text, csv or json")
      ->check(CLI::IsMember({"text", "csv", "json"}))
      ->capture_default_str();
  auto* roster = c->admin_roster = admin->add_subcommand(
      "roster", "Write the whole roster (every row of admin list) to a file only its owner reads");
  roster->add_option("--out", out, "File to write (mode 0600; replaced if it exists)")->required();
  roster->add_option("--format", c->list_format, "csv or json (default csv)")
      ->check(CLI::IsMember({"csv", "json"}));
  roster->add_option("--domain", c->list_domains, "Only addresses of this domain (repeatable)");
  roster->add_option("--state", c->list_state, "published, pending, withheld or all")
      ->check(CLI::IsMember({"published", "pending", "withheld", "all"}));
  for (CLI::App* a : admin->get_subcommands({})) {
    if (!a->get_option_no_throw("--data")) {
      a->add_option("--data", data, "Data folder (required)");
    }
  }
  app.add_option("--data", data, "Data folder");
  return c;
}

}  // namespace keydir::server
