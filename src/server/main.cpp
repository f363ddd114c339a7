// keydird: the key directory server and its maintenance commands.
//   import  bulk import of key files and keyserver dumps
//   dump    a keydump SKS and Hockeypuck can load (full or --since SEQ)
//   check   consistency of the store (and --deep re-verification)
//   backup  online checkpoint of the store
//   stats   counts and size
//   serve   the HKP server, WKD, the VKS API and the web pages
//   wkd-export  the static WKD tree of a domain
#include <fcntl.h>
#include <openssl/rand.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>
#include <curl/curl.h>
#include <toml++/toml.h>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include "api/router.hpp"
#include "server/http_server.hpp"
#include "server/recon_peer.hpp"
#include "server/secrets.hpp"
#include "service/check.hpp"
#include "service/dump.hpp"
#include "service/importer.hpp"
#include "service/verification.hpp"
#include "service/wkd.hpp"
#include "common/port.hpp"
#include "common/time_format.hpp"
#include "storage/rocksdb/rocks_key_store.hpp"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
// Imports that store at least this many certificates end with a compaction.
constexpr std::uint64_t kCompactAfterImport = 50000;

using keydir::service::KeyDirectory;

std::unique_ptr<keydir::storage::RocksKeyStore> open_store(const std::string& dir, bool sync,
                                                           bool create, std::size_t cache_mb,
                                                           std::size_t row_cache_mb = 0) {
  keydir::storage::RocksOptions o;
  o.sync_writes = sync;
  o.create_if_missing = create;
  o.block_cache_bytes = cache_mb << 20;
  o.row_cache_bytes = row_cache_mb << 20;
  auto store = keydir::storage::RocksKeyStore::open(dir, o);
  if (!store) {
    std::cerr << "keydird: " << store.error().detail << "\n";
    return nullptr;
  }
  return std::move(*store);
}

// A small text file (a policy), or nullopt.
std::optional<std::string> read_small_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    return std::nullopt;
  }
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (text.size() > 64 * 1024) {
    return std::nullopt;
  }
  return text;
}

// The HMAC key of VKS upload tokens: 32 random octets in DATA/token.key
// (mode 0600), made on first use, so that tokens outlive a restart.
std::optional<std::string> token_secret(const std::string& data_dir) {
  const std::string path = data_dir + "/token.key";
  if (auto existing = read_small_file(path); existing && existing->size() == 32) {
    return existing;
  }
  std::string key(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), 32) != 1) {
    return std::nullopt;
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    return std::nullopt;
  }
  bool ok = ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  return ok ? std::optional<std::string>(key) : std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CLI::App app{"keydird — OpenPGP key directory server"};
  app.require_subcommand(1);
  std::string data;
  bool sync = false;

  auto* serve = app.add_subcommand("serve", "Serve HKP (and HKPS with --tls-cert/--tls-key)");
  std::string listen = "127.0.0.1:11371";
  keydir::server::HttpOptions http;
  std::string tls_cert;
  std::string tls_key;
  std::vector<std::string> wkd_domains;
  std::size_t max_results = 100;
  std::size_t row_cache_mb = 256;
  std::size_t answer_cache_mb = 64;
  std::uint64_t answer_cache_ttl = 60;
  bool no_query_log = false;
  std::string access_log = "-";
  double add_per_minute = 30;
  double add_burst = 10;
  serve->add_option("--listen", listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  serve->add_option("--data", data, "Data folder")->capture_default_str();
  serve->add_option("--threads", http.threads,
                    "HTTP worker threads (0: two per core; measured faster than one per core)")
      ->capture_default_str()
      ->check(CLI::Range(0, 256));
  serve->add_option("--tls-cert", tls_cert, "TLS certificate chain (PEM) for HKPS");
  serve->add_option("--tls-key", tls_key, "TLS private key (PEM)");
  serve->add_option("--wkd-domain", wkd_domains,
                    "Domain whose Web Key Directory this server publishes (repeatable)");
  std::string wkd_policy_file;
  std::string wkd_submission;
  std::string site_name = "keydir";
  serve->add_option("--wkd-policy", wkd_policy_file,
                    "File served as the WKD policy (default: a comment line)");
  serve->add_option("--wkd-submission-address", wkd_submission,
                    "Address served as WKD submission-address (default: none)");
  serve->add_option("--site-name", site_name, "Name shown on the web pages")
      ->capture_default_str();
  std::string mode_text = "open";
  std::string public_url;
  keydir::service::SmtpOptions smtp;
  double verify_token_hours = 24;
  std::vector<std::string> operator_tokens;
  std::string managed_uploads = "token";
  serve->add_option("--mode", mode_text,
                    "Who may publish an address: open (everything valid), verified (the "
                    "address's owner confirms by e-mail), managed (an organization's domains)")
      ->check(CLI::IsMember({"open", "verified", "managed"}))
      ->capture_default_str();
  serve->add_option("--public-url", public_url,
                    "Base URL of the links in confirmation mails (default: http://LISTEN)");
  serve->add_option("--smtp-url", smtp.url,
                    "Mail relay: smtp://HOST:PORT (STARTTLS when offered) or smtps://HOST:PORT");
  serve->add_option("--smtp-from", smtp.from, "Sender address of confirmation mails");
  serve->add_option("--smtp-user", smtp.user, "Login at the mail relay (optional)");
  serve->add_option("--smtp-password", smtp.password,
                    "Deprecated: visible to every local user in ps; use --smtp-password-file "
                    "or KEYDIRD_SMTP_PASSWORD");
  std::string smtp_password_file;
  serve->add_option("--smtp-password-file", smtp_password_file,
                    "File whose first line is the password at the mail relay (not readable by "
                    "every user); or the environment variable KEYDIRD_SMTP_PASSWORD");
  serve->add_flag("--smtp-insecure-loopback", smtp.insecure_loopback,
                  "Allow the SMTP login without TLS, for a relay on 127.0.0.1, ::1 or "
                  "localhost only (by default a login requires STARTTLS or smtps://)");
  serve->add_option("--verify-token-hours", verify_token_hours,
                    "Lifetime of the links in confirmation mails")
      ->capture_default_str();
  serve->add_option("--operator-token", operator_tokens,
                    "Managed mode: a bearer token that lets an operator upload and publish "
                    "(repeatable; at least 128 bits: 32 hex digits or 22 base64 characters). "
                    "On the command line it is deprecated (ps shows it): use "
                    "--operator-token-file, KEYDIRD_OPERATOR_TOKEN or the config file");
  std::string operator_token_file;
  serve->add_option("--operator-token-file", operator_token_file,
                    "Managed mode: file of operator tokens, one a line (# comments; not "
                    "readable by every user); or the environment variable "
                    "KEYDIRD_OPERATOR_TOKEN (tokens separated by spaces or commas)");
  double auth_per_minute = 30;
  double auth_burst = 10;
  serve->add_option("--auth-rate", auth_per_minute,
                    "Managed mode: uploads presenting an operator token (right or wrong) per "
                    "minute and client address (0: no limit)")
      ->capture_default_str();
  serve->add_option("--auth-burst", auth_burst,
                    "Managed mode: uploads presenting an operator token a client may send at once")
      ->capture_default_str();
  serve->add_option("--managed-uploads", managed_uploads,
                    "Managed mode: uploads without an operator token are refused (token) or "
                    "go through e-mail verification (verify)")
      ->check(CLI::IsMember({"token", "verify"}))
      ->capture_default_str();
  serve->add_option("--max-results", max_results, "Most keys in one lookup answer")
      ->capture_default_str();
  serve->add_option("--row-cache-mb", row_cache_mb, "RocksDB row cache for lookups (MiB)")
      ->capture_default_str();
  serve->add_option("--answer-cache-mb", answer_cache_mb,
                    "Cache of lookup answers: HKP, HKPv2, VKS, WKD (MiB; 0: off); any write makes it miss")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));
  serve->add_option("--answer-cache-ttl", answer_cache_ttl,
                    "Seconds a cached lookup answer may be served (index answers show expiry)")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  serve->add_flag("--sync", sync, "fsync every upload (survives power loss)");
  bool keep_third_party = false;
  bool keep_attributes = false;
  bool refuse_sha1 = false;
  serve->add_flag("--keep-third-party", keep_third_party,
                  "Keep third-party certifications (capped); default: only attested ones");
  serve->add_flag("--keep-user-attributes", keep_attributes, "Keep photo IDs (size-capped)");
  serve->add_flag("--refuse-sha1", refuse_sha1, "Refuse SHA-1 self-signatures");
  std::string config_path;
  serve->add_option("--config", config_path,
                    "TOML file with any of these options, by long name without the dashes "
                    "(deploy/config/keydird.toml.example); flags override it");
  serve->add_flag("--no-query-log", no_query_log, "Leave query strings out of the access log");
  serve->add_option("--add-rate", add_per_minute,
                    "Uploads per minute and client address (0: no limit)")
      ->capture_default_str();
  serve->add_option("--add-burst", add_burst, "Uploads a client may send at once")
      ->capture_default_str();
  serve->add_option("--idle-timeout", http.idle_timeout_seconds,
                    "Close keep-alive connections idle this many seconds (0: never)")
      ->capture_default_str();
  serve->add_option("--trusted-proxy", http.trusted_proxies,
                    "Address of a reverse proxy whose X-Forwarded-For is believed");
  serve->add_option("--ipv6-prefix", http.ipv6_prefix,
                    "Rate limits count an IPv6 client by its network of this many bits")
      ->capture_default_str()
      ->check(CLI::Range(1, 128));
  serve->add_option("--request-timeout", http.body_timeout_seconds,
                    "Seconds a client has to send a whole request, body included (else 408)")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  std::string recon_listen;
  std::vector<std::string> peer_specs;
  std::vector<std::string> recon_allow;
  int gossip_interval = 60;
  serve->add_option("--recon-listen", recon_listen,
                    "SKS reconciliation: HOST:PORT to listen on for peers (e.g. "
                    "127.0.0.1:11370); peering needs --mode open");
  serve->add_option("--peer", peer_specs,
                    "SKS reconciliation partner HOST:RECONPORT:HKPPORT (repeatable; in the config "
                    "file: [[peer]] tables with host, recon-port, hkp-port)");
  serve->add_option("--recon-allow", recon_allow,
                    "Address allowed to connect to the recon port besides the peers and "
                    "loopback (repeatable)");
  serve->add_option("--gossip-interval", gossip_interval,
                    "Seconds between reconciliations with a random peer (±10%; 0: only answer)")
      ->capture_default_str()
      ->check(CLI::Range(0, 86400));
  serve->add_option("--access-log", access_log,
                    "Access log: a file (flushed every second), - for stdout, off for none")
      ->capture_default_str();

  auto* import = app.add_subcommand("import", "Import key files and keyserver dumps");
  std::vector<std::string> files;
  unsigned threads = 0;
  std::string ack_path;
  import->add_option("--data", data, "Data folder")->required();
  import->add_option("FILE", files, "Armored or binary files")->required();
  import->add_option("--threads", threads, "Verification threads (default: one per core)");
  import->add_flag("--sync", sync, "fsync every batch (survives power loss)");
  bool verify_only = false;
  import->add_flag("--verify-only", verify_only,
                   "Parse and verify only; store nothing (checks a dump, measures validation)");
  import->add_option("--ack", ack_path,
                     "Append the fingerprint of every certificate once it is durable");

  auto* dump = app.add_subcommand("dump", "Write a keydump (numbered binary files)");
  std::string out;
  std::size_t per_file = 15000;
  std::optional<std::uint64_t> since;
  dump->add_option("--data", data, "Data folder")->required();
  dump->add_option("--out", out, "Output folder (new or empty)")->required();
  dump->add_option("--per-file", per_file, "Certificates per file")->check(CLI::PositiveNumber);
  dump->add_option("--since", since, "Only certificates changed after this sequence number");

  auto* check = app.add_subcommand("check", "Check the store's consistency");
  bool deep = false;
  std::string expect;
  check->add_option("--data", data, "Data folder")->required();
  check->add_flag("--deep", deep, "Also parse and re-verify every certificate");
  check->add_option("--expect", expect, "File of fingerprints that must be stored");

  auto* backup = app.add_subcommand("backup", "Online backup (RocksDB checkpoint)");
  backup->add_option("--data", data, "Data folder")->required();
  backup->add_option("--out", out, "Backup folder (must not exist)")->required();

  auto* compact = app.add_subcommand("compact", "Compact the store (after a bulk import)");
  compact->add_option("--data", data, "Data folder")->required();

  auto* reindex = app.add_subcommand(
      "reindex", "Recompute which keys each certificate may be found by (once, after an upgrade "
                 "from a version that let any subkey claim its fingerprint)");
  reindex->add_option("--data", data, "Data folder")->required();

  auto* wkd_export = app.add_subcommand("wkd-export",
                                        "Write the static Web Key Directory of a domain");
  std::string wkd_export_domain;
  wkd_export->add_option("--data", data, "Data folder")->required();
  wkd_export->add_option("--domain", wkd_export_domain, "Mail domain")->required();
  wkd_export->add_option("--out", out, "Output folder (new or empty)")->required();
  wkd_export->add_option("--policy", wkd_policy_file, "File to use as the policy file");

  auto* admin = app.add_subcommand("admin", "Operator commands on a stopped server's store");
  admin->require_subcommand(1);
  std::string admin_fpr;
  std::string admin_email;
  std::string admin_reason = "deleted by the operator";
  admin->add_option("--data", data, "Data folder")->required();
  auto* admin_pending = admin->add_subcommand("list-pending", "Addresses awaiting confirmation");
  auto* admin_publish = admin->add_subcommand("publish", "Publish an address of a key");
  admin_publish->add_option("FPR", admin_fpr, "Fingerprint of the key")->required();
  admin_publish->add_option("EMAIL", admin_email, "Address to publish")->required();
  auto* admin_unpublish = admin->add_subcommand("unpublish", "Unpublish an address of a key");
  admin_unpublish->add_option("FPR", admin_fpr, "Fingerprint of the key")->required();
  admin_unpublish->add_option("EMAIL", admin_email, "Address to unpublish")->required();
  auto* admin_delete = admin->add_subcommand(
      "delete", "Delete a key, its index entries and its verification state (leaves a tombstone)");
  admin_delete->add_option("FPR", admin_fpr, "Fingerprint of the key")->required();
  admin_delete->add_option("--reason", admin_reason, "Kept with the tombstone");
  auto* admin_restore =
      admin->add_subcommand("restore", "Lift a deleted key's tombstone (it may be uploaded again)");
  admin_restore->add_option("FPR", admin_fpr, "Fingerprint of the key")->required();

  auto* recon_cmd = app.add_subcommand("recon", "SKS reconciliation: the prefix tree of a store");
  recon_cmd->require_subcommand(1);
  auto* recon_status = recon_cmd->add_subcommand(
      "status", "Show the store's prefix tree (elements, shape, root digest: two stores hold the "
                "same keys exactly when their digests are equal)");
  recon_status->add_option("--data", data, "Data folder")->required();
  auto* recon_rebuild = recon_cmd->add_subcommand(
      "rebuild", "Recompute the prefix tree from the store's SKS hash index (after damage; "
                 "`keydird check` says when)");
  recon_rebuild->add_option("--data", data, "Data folder")->required();

  auto* stats = app.add_subcommand("stats", "Counts and size of the store");
  stats->add_option("--data", data, "Data folder")->required();

  try {
    app.parse(argc, argv);
    // Secrets given on the command line: parsed, now hidden from ps.
    keydir::server::scrub_arguments(argc, argv, {"--operator-token", "--smtp-password"});
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  // Before the config file adds its values: what came from the command line.
  const bool tokens_on_command_line = serve->get_option("--operator-token")->count() > 0;
  const bool smtp_password_on_command_line =
      serve->get_option("--smtp-password")->count() > 0;

  if (serve->parsed() && !config_path.empty()) {
    // Each key is an option's long name; a flag on the command line wins.
    toml::table config;
    try {
      config = toml::parse_file(config_path);
    } catch (const toml::parse_error& e) {
      std::cerr << "keydird serve: " << config_path << ": " << e.description() << " (line "
                << e.source().begin.line << ")\n";
      return kExitUsage;
    }
    for (const auto& [key, node] : config) {
      std::string name(key.str());
      if (name == "peer" && node.is_array_of_tables()) {
        // [[peer]] host = "..." recon-port = 11370 hkp-port = 11371
        if (serve->get_option("--peer")->count() > 0) {
          continue;
        }
        for (const auto& t : *node.as_array()) {
          const auto& tab = *t.as_table();
          auto host = tab["host"].value<std::string>();
          if (!host) {
            std::cerr << "keydird serve: " << config_path << ": a [[peer]] needs a host\n";
            return kExitUsage;
          }
          peer_specs.push_back(*host + ":" + std::to_string(tab["recon-port"].value_or(11370)) +
                               ":" + std::to_string(tab["hkp-port"].value_or(11371)));
        }
        continue;
      }
      CLI::Option* opt = nullptr;
      try {
        opt = serve->get_option("--" + name);
      } catch (const CLI::OptionNotFound&) {
        std::cerr << "keydird serve: " << config_path << ": unknown setting '" << name << "'\n";
        return kExitUsage;
      }
      if (opt->count() > 0 || name == "config") {
        continue;
      }
      std::vector<std::string> values;
      if (auto* arr = node.as_array()) {
        for (const auto& v : *arr) {
          values.push_back(v.value_or(std::string()));
        }
      } else if (node.is_boolean()) {
        if (!node.value_or(false)) {
          continue;
        }
        values.push_back("true");
      } else if (node.is_integer()) {
        values.push_back(std::to_string(node.value_or(std::int64_t{0})));
      } else if (node.is_floating_point()) {
        values.push_back(std::to_string(node.value_or(0.0)));
      } else {
        values.push_back(node.value_or(std::string()));
      }
      try {
        opt->add_result(values);
        opt->run_callback();
      } catch (const CLI::Error& e) {
        std::cerr << "keydird serve: " << config_path << ": " << name << ": " << e.what() << "\n";
        return kExitUsage;
      }
    }
  }
  if (serve->parsed() && data.empty()) {
    data = "data";
  }
  if (serve->parsed() && tls_cert.empty() != tls_key.empty()) {
    std::cerr << "keydird serve: --tls-cert and --tls-key go together\n";
    return kExitUsage;
  }
  if (serve->parsed()) {
    // Secrets: operator tokens from the command line or config file, a token
    // file and the environment, each at least 128 bits (server/secrets.hpp);
    // the SMTP password from one place; a login only over TLS.
    const std::string token_source =
        tokens_on_command_line ? std::string("--operator-token")
                               : "operator-token in " + config_path;
    for (const auto& t : operator_tokens) {
      if (auto ok = keydir::server::check_operator_token(t, token_source); !ok) {
        std::cerr << "keydird serve: " << ok.error().detail << "\n";
        return kExitUsage;
      }
    }
    // A config file that holds a secret is as private as a token file.
    if (!config_path.empty() &&
        ((!tokens_on_command_line && !operator_tokens.empty()) ||
         (!smtp_password_on_command_line && !smtp.password.empty()))) {
      if (auto ok = keydir::server::check_private_file(config_path, "the config file"); !ok) {
        std::cerr << "keydird serve: " << ok.error().detail
                  << " (it holds an operator token or the SMTP password)\n";
        return kExitUsage;
      }
    }
    if (!operator_token_file.empty()) {
      auto read = keydir::server::read_token_file(operator_token_file);
      if (!read) {
        std::cerr << "keydird serve: " << read.error().detail << "\n";
        return kExitUsage;
      }
      operator_tokens.insert(operator_tokens.end(), read->begin(), read->end());
    }
    if (const char* env = std::getenv("KEYDIRD_OPERATOR_TOKEN")) {
      auto read = keydir::server::tokens_from_env(env, "KEYDIRD_OPERATOR_TOKEN");
      if (!read) {
        std::cerr << "keydird serve: " << read.error().detail << "\n";
        return kExitUsage;
      }
      operator_tokens.insert(operator_tokens.end(), read->begin(), read->end());
      unsetenv("KEYDIRD_OPERATOR_TOKEN");
    }
    if (tokens_on_command_line) {
      std::cerr << "keydird serve: warning: --operator-token on the command line is deprecated: "
                   "every local user could read it with ps until keydird hid it; use "
                   "--operator-token-file or KEYDIRD_OPERATOR_TOKEN\n";
    }
    const char* env_password = std::getenv("KEYDIRD_SMTP_PASSWORD");
    if (static_cast<int>(!smtp.password.empty()) + static_cast<int>(!smtp_password_file.empty()) +
            static_cast<int>(env_password != nullptr) > 1) {
      std::cerr << "keydird serve: give the SMTP password in one place: --smtp-password-file, "
                   "KEYDIRD_SMTP_PASSWORD or smtp-password in the config file\n";
      return kExitUsage;
    }
    if (!smtp_password_file.empty()) {
      auto read = keydir::server::read_secret_file(smtp_password_file);
      if (!read) {
        std::cerr << "keydird serve: " << read.error().detail << "\n";
        return kExitUsage;
      }
      smtp.password = *read;
    } else if (env_password) {
      smtp.password = env_password;
      unsetenv("KEYDIRD_SMTP_PASSWORD");
    }
    if (smtp_password_on_command_line) {
      std::cerr << "keydird serve: warning: --smtp-password on the command line is deprecated: "
                   "use --smtp-password-file or KEYDIRD_SMTP_PASSWORD\n";
    }
    if (!smtp.url.empty()) {
      if (auto ok = keydir::service::check_smtp_options(smtp); !ok) {
        std::cerr << "keydird serve: " << ok.error().detail << "\n";
        return kExitUsage;
      }
    } else if (smtp.insecure_loopback || !smtp.user.empty() || !smtp.password.empty()) {
      std::cerr << "keydird serve: an SMTP login or smtp-insecure-loopback without --smtp-url\n";
      return kExitUsage;
    }
  }
  if (serve->parsed() && mode_text != "open") {
    if (smtp.url.empty() || smtp.from.empty()) {
      std::cerr << "keydird serve: --mode " << mode_text
                << " mails confirmation links: set --smtp-url and --smtp-from\n";
      return kExitUsage;
    }
    if (mode_text == "managed" && wkd_domains.empty()) {
      std::cerr << "keydird serve: --mode managed serves the organization's domains: set "
                   "--wkd-domain\n";
      return kExitUsage;
    }
    if (mode_text == "managed" && managed_uploads == "token" && operator_tokens.empty()) {
      std::cerr << "keydird serve: --mode managed with --managed-uploads token needs an "
                   "operator token: --operator-token-file, KEYDIRD_OPERATOR_TOKEN or "
                   "operator-token in the config file\n";
      return kExitUsage;
    }
  }
  bool create = import->parsed() || serve->parsed();
  // Bulk import reads little back: a small cache keeps its memory bounded.
  auto store = open_store(data, sync, create, import->parsed() ? 64 : 256,
                          serve->parsed() ? row_cache_mb : 0);
  if (!store) {
    return kExitFailure;
  }
  keydir::service::DirectoryOptions directory_options;
  directory_options.mode = mode_text == "verified"  ? keydir::service::PublishMode::Verified
                           : mode_text == "managed" ? keydir::service::PublishMode::Managed
                                                    : keydir::service::PublishMode::Open;
  for (auto& d : wkd_domains) {
    // The form every address's domain is compared in: lower-case A-labels.
    auto normal = keydir::openpgp::normalize_domain(d);
    if (!normal) {
      std::cerr << "keydird: --wkd-domain " << d << ": " << normal.error().detail << "\n";
      return kExitUsage;
    }
    d = *normal;
    directory_options.managed_domains.push_back(d);
  }
  directory_options.policy.keep_third_party_certifications = keep_third_party;
  directory_options.policy.keep_user_attributes = keep_attributes;
  directory_options.policy.accept_sha1_self_signatures = !refuse_sha1;
  KeyDirectory directory(*store, directory_options, keydir::service::system_clock());

  if (serve->parsed()) {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos) {
      std::cerr << "keydird serve: --listen takes HOST:PORT\n";
      return kExitUsage;
    }
    http.host = listen.substr(0, colon);
    if (http.threads == 0) {
      // With one reactor thread per core, a thread preempted in send()
      // (which wakes the client on the same core) stalls its connections;
      // twice as many served 20-25% more lookups (README, issue #4).
      http.threads = static_cast<int>(std::max(2u, 2 * std::thread::hardware_concurrency()));
    }
    if (auto port = keydir::parse_port(std::string_view(listen).substr(colon + 1), true)) {
      http.port = *port;
    } else {
      std::cerr << "keydird serve: bad port in --listen " << listen << "\n";
      return kExitUsage;
    }
    if (!tls_cert.empty()) {
      http.tls_cert = tls_cert;
      http.tls_key = tls_key;
    }
    http.log_queries = !no_query_log;
    // Access lines go through AccessLog (no lock shared by the workers);
    // everything else through spdlog, to the same file when one is given.
    std::unique_ptr<keydir::server::AccessLog> access;
    if (access_log == "off") {
      spdlog::set_level(spdlog::level::warn);
    } else {
      if (access_log != "-") {
        try {
          spdlog::set_default_logger(spdlog::basic_logger_mt("keydird", access_log));
          spdlog::flush_every(std::chrono::seconds(1));
        } catch (const spdlog::spdlog_ex& e) {
          std::cerr << "keydird serve: cannot open the access log " << access_log << "\n";
          return kExitUsage;
        }
      }
      auto opened = keydir::server::AccessLog::open(access_log);
      if (!opened) {
        std::cerr << "keydird serve: " << opened.error().detail << "\n";
        return kExitUsage;
      }
      access = std::move(*opened);
      http.access_log = access.get();
    }
    // SIGINT/SIGTERM are taken by sigwait below, in this thread only.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    keydir::api::ApiOptions api_options;
    api_options.hkp.max_results = max_results;
    api_options.answer_cache_bytes = answer_cache_mb << 20;
    api_options.answer_cache_ttl = answer_cache_ttl;
    api_options.wkd.domains = wkd_domains;
    api_options.wkd.submission_address = wkd_submission;
    api_options.wkd.max_results = max_results;
    if (!wkd_policy_file.empty()) {
      auto policy = read_small_file(wkd_policy_file);
      if (!policy) {
        std::cerr << "keydird serve: cannot read --wkd-policy " << wkd_policy_file << "\n";
        return kExitUsage;
      }
      api_options.wkd.policy = *policy;
    }
    auto secret = token_secret(data);
    if (!secret) {
      std::cerr << "keydird serve: cannot keep the token key in " << data << "\n";
      return kExitFailure;
    }
    api_options.token_secret = *secret;
    if (public_url.empty()) {
      public_url = std::string(http.tls_cert ? "https://" : "http://") + listen;
    }
    while (!public_url.empty() && public_url.back() == '/') {
      public_url.pop_back();
    }
    keydir::service::SmtpMailer mailer(smtp);
    keydir::service::VerificationOptions vo;
    vo.public_url = public_url;
    vo.site_name = site_name;
    vo.token_lifetime = static_cast<std::uint64_t>(verify_token_hours * 3600);
    keydir::service::Verification verification(directory, mailer, vo);
    if (directory_options.mode != keydir::service::PublishMode::Open) {
      api_options.verification = &verification;
    }
    api_options.operator_tokens = operator_tokens;
    api_options.managed_uploads_need_token = managed_uploads == "token";
    api_options.auth_per_minute = auth_per_minute;
    api_options.auth_burst = auth_burst;
    api_options.pages.site_name = site_name;
    api_options.pages.tls = !tls_cert.empty();
    api_options.pages.wkd_domains = wkd_domains;
    api_options.pages.max_results = max_results;
    api_options.add_per_minute = add_per_minute;
    api_options.add_burst = add_burst;
    const bool peering = !recon_listen.empty() || !peer_specs.empty();
    keydir::server::ReconOptions recon_options;
    if (peering) {
      if (directory_options.mode != keydir::service::PublishMode::Open) {
        std::cerr << "keydird serve: SKS reconciliation (--recon-listen, --peer) needs --mode "
                     "open: peers would receive addresses whose owners have not confirmed them\n";
        return kExitUsage;
      }
      for (const auto& spec : peer_specs) {
        auto p = keydir::server::parse_peer(spec);
        if (!p) {
          std::cerr << "keydird serve: " << p.error().detail << "\n";
          return kExitUsage;
        }
        recon_options.peers.push_back(*p);
      }
      recon_options.listen = !recon_listen.empty();
      if (recon_options.listen) {
        auto rcolon = recon_listen.rfind(':');
        auto rport = rcolon == std::string::npos
                         ? std::nullopt
                         : keydir::parse_port(std::string_view(recon_listen).substr(rcolon + 1), true);
        if (!rport) {
          std::cerr << "keydird serve: --recon-listen takes HOST:PORT\n";
          return kExitUsage;
        }
        recon_options.listen_host = recon_listen.substr(0, rcolon);
        if (recon_options.listen_host.starts_with("[")) {
          recon_options.listen_host =
              recon_options.listen_host.substr(1, recon_options.listen_host.size() - 2);
        }
        recon_options.listen_port = *rport;
      }
      recon_options.gossip_interval_seconds = gossip_interval;
      recon_options.allow = recon_allow;
    }
    std::atomic<keydir::server::ReconPeer*> recon_live{nullptr};
    api_options.extra_metrics = [&recon_live] {
      auto* r = recon_live.load();
      return r ? r->metrics() : std::string();
    };
    keydir::api::Api api(directory, api_options);
    keydir::server::HttpServer server(api, http);
    auto port = server.start();
    if (!port) {
      std::cerr << "keydird serve: " << port.error().detail << "\n";
      return kExitFailure;
    }
    if (directory_options.mode == keydir::service::PublishMode::Open) {
      spdlog::warn("publishing mode open: anyone can publish any address with any key "
                   "(use --mode verified on a public server)");
    } else {
      spdlog::info("publishing mode {}: an address is published once its owner confirms it; "
                   "links go out through {} and point to {}",
                   mode_text, smtp.url, public_url);
    }
    spdlog::info("{} HTTP worker threads", http.threads);
    std::unique_ptr<keydir::server::ReconPeer> recon;
    if (peering) {
      recon_options.http_port = *port;
      recon = std::make_unique<keydir::server::ReconPeer>(directory, recon_options);
      auto rport = recon->start();
      if (!rport) {
        std::cerr << "keydird serve: " << rport.error().detail << "\n";
        server.stop();
        return kExitFailure;
      }
      recon_live = recon.get();
      if (recon_options.listen) {
        std::cout << "keydird: recon on " << recon_options.listen_host << ":" << *rport
                  << std::endl;
      }
      spdlog::info("recon: {} peers, gossip every {} s", recon_options.peers.size(),
                   recon_options.gossip_interval_seconds);
    }
    auto st = store->stats();
    std::cout << "keydird: serving " << (st ? st->certificates : 0) << " certificates from "
              << data << " on " << (http.tls_cert ? "https" : "http") << "://" << http.host
              << ":" << *port << std::endl;
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("signal {}: shutting down", sig);
    if (recon) {
      recon_live = nullptr;
      recon->stop();
    }
    server.stop();
    std::cout << "keydird: stopped" << std::endl;
    return kExitOk;
  }
  if (import->parsed()) {
    keydir::service::ImportOptions o;
    o.threads = threads;
    o.progress = &std::cerr;
    o.progress_is_tty = isatty(STDERR_FILENO) != 0;
    o.verify_only = verify_only;
    std::ofstream ack;
    if (!ack_path.empty()) {
      ack.open(ack_path, std::ios::app);
      if (!ack) {
        std::cerr << "keydird import: cannot write " << ack_path << "\n";
        return kExitUsage;
      }
      o.ack = &ack;
    }
    auto summary = keydir::service::import_files(directory, files, o);
    keydir::service::print_summary(std::cout, summary);
    // A bulk load leaves many overlapping files in the upper levels; one
    // compaction puts them in the last level, so that a lookup reads one file
    // (measured: +7% op=get by fingerprint on a 1M store, 7 s to compact).
    if (!verify_only && summary.created + summary.updated >= kCompactAfterImport) {
      std::cerr << "compacting the store after a bulk import..." << std::endl;
      if (auto c = store->compact(); !c) {
        std::cerr << "keydird import: compaction failed: " << c.error().detail << "\n";
        return kExitFailure;
      }
    }
    return summary.file_errors.empty() ? kExitOk : kExitFailure;
  }
  if (recon_rebuild->parsed()) {
    auto t0 = std::chrono::steady_clock::now();
    auto n = store->rebuild_recon_tree();
    if (!n) {
      std::cerr << "keydird recon rebuild: " << n.error().detail << "\n";
      return kExitFailure;
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - t0)
                  .count();
    std::cout << "rebuilt the prefix tree of " << *n << " elements in " << ms << " ms\n";
    return kExitOk;
  }
  if (recon_status->parsed()) {
    keydir::server::ReconOptions ro;
    ro.listen = false;
    ro.gossip_interval_seconds = 0;
    keydir::server::ReconPeer peer(directory, ro);
    auto t0 = std::chrono::steady_clock::now();
    auto s = peer.summary();
    if (!s) {
      std::cerr << "keydird recon status: " << s.error().detail << "\n";
      return kExitFailure;
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - t0)
                  .count();
    auto st = store->stats();
    std::cout << "certificates  " << (st ? st->certificates : 0) << "\n"
              << "elements      " << s->elements << "\n"
              << "nodes         " << s->nodes << " (" << s->leaves << " leaves, depth " << s->depth
              << ")\n"
              << "root digest   " << s->root_digest << "\n"
              << "read in       " << ms << " ms (bit quantum 2, mbar 5, split above 50)\n";
    return kExitOk;
  }
  if (dump->parsed()) {
    keydir::service::DumpOptions o;
    o.per_file = per_file;
    o.since = since;
    auto r = keydir::service::dump(*store, out, o);
    if (!r) {
      std::cerr << "keydird dump: " << r.error().detail << "\n";
      return kExitFailure;
    }
    std::cout << "dumped " << r->certificates << " certificates in " << r->files << " files to "
              << out << (r->deleted ? ", " + std::to_string(r->deleted) + " deleted" : "")
              << "; next incremental dump: --since " << r->last_seq << "\n";
    return kExitOk;
  }
  if (check->parsed()) {
    auto r = keydir::service::check(directory, deep);
    if (!r) {
      std::cerr << "keydird check: " << r.error().detail << "\n";
      return kExitFailure;
    }
    std::uint64_t missing = 0;
    if (!expect.empty()) {
      std::ifstream in(expect);
      if (!in) {
        std::cerr << "keydird check: cannot read " << expect << "\n";
        return kExitUsage;
      }
      std::string line;
      while (std::getline(in, line)) {
        auto fpr = keydir::openpgp::Fingerprint::from_hex(line);
        if (!fpr) {
          continue;
        }
        auto rec = store->get(*fpr);
        if (!rec || !*rec) {
          if (++missing <= 10) {
            std::cout << "missing: " << line << "\n";
          }
        }
      }
    }
    for (const auto& p : r->store.problems) {
      std::cout << "problem: " << p << "\n";
    }
    for (const auto& p : r->problems) {
      std::cout << "problem: " << p << "\n";
    }
    std::cout << r->store.certificates << " certificates, " << r->store.index_entries
              << " index entries" << (deep ? ", " + std::to_string(r->verified) + " re-verified" : "")
              << ": " << (r->ok() && missing == 0 ? "consistent" : "PROBLEMS FOUND")
              << (missing ? " (" + std::to_string(missing) + " expected certificates missing)" : "")
              << "\n";
    return r->ok() && missing == 0 ? kExitOk : kExitFailure;
  }
  if (backup->parsed()) {
    auto r = store->checkpoint(out);
    if (!r) {
      std::cerr << "keydird backup: " << r.error().detail << "\n";
      return kExitFailure;
    }
    std::cout << "backup written to " << out << " (restore: use it as --data)\n";
    return kExitOk;
  }
  if (reindex->parsed()) {
    auto n = directory.reindex_claims();
    if (!n) {
      std::cerr << "keydird reindex: " << n.error().detail << "\n";
      return kExitFailure;
    }
    std::cout << "rewrote the key index of " << *n << " certificates\n";
    return kExitOk;
  }
  if (compact->parsed()) {
    auto r = store->compact();
    if (!r) {
      std::cerr << "keydird compact: " << r.error().detail << "\n";
      return kExitFailure;
    }
    std::cout << "compacted " << data << "\n";
    return kExitOk;
  }
  if (admin->parsed()) {
    auto fpr = keydir::openpgp::Fingerprint::from_hex(admin_fpr);
    if (!admin_pending->parsed() && !fpr) {
      std::cerr << "keydird admin: not a fingerprint: " << admin_fpr << "\n";
      return kExitUsage;
    }
    std::string email;
    if (admin_publish->parsed() || admin_unpublish->parsed()) {
      auto e = keydir::openpgp::Email::parse(admin_email);
      if (!e) {
        std::cerr << "keydird admin: not an e-mail address: " << admin_email << "\n";
        return kExitUsage;
      }
      email = e->address();
    }
    keydir::Result<void> r;
    if (admin_pending->parsed()) {
      std::uint64_t n = 0;
      auto walked = store->for_each_token([&](keydir::ByteView, const keydir::storage::VerifyToken& t) {
        if (t.kind == keydir::storage::VerifyToken::Kind::Verify) {
          std::cout << t.fingerprint.to_hex() << " " << t.email << " expires "
                    << keydir::utc_timestamp(t.expires) << "\n";
          ++n;
        }
        return true;
      });
      if (!walked) {
        std::cerr << "keydird admin: " << walked.error().detail << "\n";
        return kExitFailure;
      }
      std::cerr << n << " pending\n";
      return kExitOk;
    }
    if (admin_publish->parsed()) {
      r = directory.set_published(*fpr, {email}, {});
    } else if (admin_unpublish->parsed()) {
      r = directory.set_published(*fpr, {}, {email});
    } else if (admin_delete->parsed()) {
      r = directory.remove(*fpr, admin_reason);
    } else if (admin_restore->parsed()) {
      r = store->clear_tombstone(*fpr);
    }
    if (!r) {
      std::cerr << "keydird admin: " << r.error().detail << "\n";
      return r.error().code == keydir::ErrorCode::NotFound ? kExitFailure : kExitFailure;
    }
    std::cout << "done\n";
    return kExitOk;
  }
  if (wkd_export->parsed()) {
    std::string policy;
    if (!wkd_policy_file.empty()) {
      auto p = read_small_file(wkd_policy_file);
      if (!p) {
        std::cerr << "keydird wkd-export: cannot read --policy " << wkd_policy_file << "\n";
        return kExitUsage;
      }
      policy = *p;
    }
    auto r = keydir::service::wkd_export(directory, wkd_export_domain, out, policy);
    if (!r) {
      std::cerr << "keydird wkd-export: " << r.error().detail << "\n";
      return r.error().code == keydir::ErrorCode::BadQuery ? kExitUsage : kExitFailure;
    }
    std::cout << "wrote " << r->addresses << " addresses (" << r->certificates
              << " certificates) of " << wkd_export_domain << " to " << out << "\n";
    return kExitOk;
  }
  if (stats->parsed()) {
    auto r = store->stats();
    if (!r) {
      std::cerr << "keydird stats: " << r.error().detail << "\n";
      return kExitFailure;
    }
    std::cout << "certificates " << r->certificates << "\nlast_seq " << r->last_seq
              << "\ndisk_bytes " << r->disk_bytes << "\n";
    return kExitOk;
  }
  return kExitUsage;
}
