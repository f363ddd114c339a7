#include "client/commands.hpp"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <optional>

#include <unistd.h>

#include <toml++/toml.h>

#include "client/audit.hpp"
#include "client/exit_codes.hpp"
#include "client/inspect.hpp"
#include "client/refresh.hpp"
#include "client/remote.hpp"
#include "common/limits.hpp"
#include "openpgp/armor.hpp"

namespace keydir::client {

Defaults load_defaults(std::string& warning) {
  Defaults d;
  std::string path;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) {
    path = std::string(x) + "/keydir/config.toml";
  } else if (const char* h = std::getenv("HOME"); h && *h) {
    path = std::string(h) + "/.config/keydir/config.toml";
  }
  if (!path.empty() && std::ifstream(path)) {
    try {
      auto t = toml::parse_file(path);
      d.server = t["server"].value_or(std::string());
      d.cacert = t["cacert"].value_or(std::string());
      d.timeout = t["timeout"].value_or(30L);
      if (auto f = t["token-file"].value<std::string>(); f && !f->empty()) {
        d.token_file = *f;
        d.token_file_from = "token-file in " + path;
        if (d.token_file.starts_with("~/")) {
          if (const char* h = std::getenv("HOME"); h && *h) {
            d.token_file = std::string(h) + d.token_file.substr(1);
          }
        }
      }
    } catch (const toml::parse_error& e) {
      warning = path + ": " + std::string(e.description());
    }
  }
  if (const char* s = std::getenv("KEYDIR_SERVER"); s && *s) {
    d.server = s;
  }
  if (const char* f = std::getenv("KEYDIR_TOKEN_FILE"); f && *f) {
    d.token_file = f;
    d.token_file_from = "KEYDIR_TOKEN_FILE";
  }
  return d;
}

namespace {

// keydir inspect FILE: offline, no server.
class Inspect final : public Command {
 public:
  explicit Inspect(CLI::App& app)
      : Command(app.add_subcommand(
            "inspect", "Check certificates offline: fingerprints, user IDs, subkeys, verdict")) {
    app_->add_flag("--json", json_, "Print a JSON document instead of text");
    app_->add_option("FILE", path_, "Armored or binary key file, or - for standard input")
        ->required();
    app_->add_flag("--keep-third-party", keep_third_party_,
                   "Keep third-party certifications (the server's default drops them)");
    app_->add_flag("--keep-user-attributes", keep_attributes_, "Keep user attributes (photo IDs)");
  }

  int run() override {
    std::string error;
    auto data = read_input(path_, limits::kMaxImportCertBytes, error);
    if (!data) {
      std::cerr << "keydir inspect: " << error << "\n";
      return kExitUsage;
    }
    openpgp::Policy policy;
    policy.keep_third_party_certifications = keep_third_party_;
    policy.keep_user_attributes = keep_attributes_;
    auto now = static_cast<std::uint64_t>(std::time(nullptr));
    auto report = inspect(*data, policy, now);
    if (json_) {
      // ASCII only (\uXXXX): user IDs and reasons may hold DEL, C1 controls
      // or bidirectional overrides, which JSON would otherwise pass raw.
      std::cout << to_json(report, now).dump(2, ' ', true, nlohmann::json::error_handler_t::replace)
                << "\n";
    } else {
      print_text(std::cout, report, now);
      if (report.input_error) {
        std::cerr << "keydir inspect: " << path_ << ": " << report.input_error->detail << "\n";
      }
    }
    // The verdict, not the ErrorCode table: 1 for any refused input.
    return report.exit_code();
  }

 private:
  bool json_ = false;
  std::string path_;
  bool keep_third_party_ = false;
  bool keep_attributes_ = false;
};

// Progress lines for slow steps: on a terminal, or always with
// KEYDIR_PROGRESS=1 (one line each: tests, logs).
void set_progress(FetchOptions& fo) {
  const char* forced = std::getenv("KEYDIR_PROGRESS");
  fo.progress_terminal = isatty(STDERR_FILENO) != 0;
  fo.progress = fo.progress_terminal || (forced && std::string(forced) == "1");
  if (forced && std::string(forced) == "0") {
    fo.progress = false;
  }
}

// A command that talks to a server: --server, --cacert, --timeout, then
// its own options; run() checks the server URL before run_with().
class NetCommand : public Command {
 public:
  NetCommand(CLI::App* sub, const Defaults& defaults) : Command(sub), server_(defaults.server) {
    http_.cacert = defaults.cacert;
    http_.timeout = defaults.timeout;
    app_->add_option(
        "--server", server_,
        "Key server: hkp://, hkps://, http:// or https:// URL (default: KEYDIR_SERVER, "
        "then ~/.config/keydir/config.toml)");
    app_->add_option("--cacert", http_.cacert, "PEM file of CAs to trust (HKPS with a private CA)");
    app_->add_option("--timeout", http_.timeout, "Seconds for a whole request");
  }

  [[nodiscard]] bool uses_network() const final { return true; }

  int run() final {
    ClientOptions o;
    o.http = http_;
    if (!server_.empty()) {
      auto base = net::server_base(server_);
      if (!base) {
        std::cerr << "keydir: not a server URL: " << server_
                  << " (use hkp://, hkps://, http:// or https://)\n";
        return kExitUsage;
      }
      o.server = *base;
    } else if (needs_server()) {
      std::cerr << "keydir: no server: give --server URL or set KEYDIR_SERVER\n";
      return kExitUsage;
    }
    return run_with(o);
  }

 protected:
  [[nodiscard]] virtual bool needs_server() const { return true; }
  virtual int run_with(const ClientOptions& o) = 0;

 private:
  std::string server_;
  net::HttpOptions http_;
};

// The options upload and verify share: the operator token and the waits.
class UploadFlags {
 public:
  UploadFlags(CLI::App* app, const Defaults& defaults)
      : default_file_(defaults.token_file), default_from_(defaults.token_file_from) {
    app->add_option("--token-file", file_,
                    "Operator token (managed mode), sent as Authorization: Bearer: the first line "
                    "of FILE that is not blank or # (default: KEYDIR_TOKEN_FILE, then token-file "
                    "in ~/.config/keydir/config.toml); the file must not be open to every user");
    app->add_flag("--no-wait", no_wait_,
                  "When the server asks to wait (429 Retry-After), stop and say when to retry");
    app->add_option("--max-wait", max_wait_,
                    "Longest wait honoured, in seconds (default 600); longer: stop and say when "
                    "to retry")
        ->check(CLI::Range(0, 86400));
  }

  // The token read and checked before anything is sent: 0, or the exit code
  // after the reason on stderr.
  int resolve(const char* command, const ClientOptions& o, UploadOptions& uo) const {
    uo.max_wait = no_wait_ ? 0 : max_wait_;
    const std::string file = file_.empty() ? default_file_ : file_;
    if (file.empty()) {
      return kExitOk;
    }
    uo.token_source = file_.empty() ? file + " (" + default_from_ + ")" : file;
    auto token = read_token_file(file);
    if (!token) {
      std::cerr << "keydir " << command << ": " << token.error().detail
                << (file_.empty() ? " (named by " + default_from_ + ")" : "") << "\n";
      return kExitUsage;
    }
    if (auto why = token_transport_refusal(o.server)) {
      std::cerr << "keydir " << command << ": refusing to send the operator token: " << *why
                << "\n";
      return kExitUsage;
    }
    uo.token = std::move(*token);
    return kExitOk;
  }

 private:
  std::string file_;
  std::string default_file_;
  std::string default_from_;
  bool no_wait_ = false;
  std::uint64_t max_wait_ = 600;
};

class Upload final : public NetCommand {
 public:
  Upload(CLI::App& app, const Defaults& defaults)
      : NetCommand(
            app.add_subcommand(
                "upload", "Publish public keys (checked here first; secret keys are never sent)"),
            defaults) {
    app_->add_option("FILE", files_, "Armored or binary key files, or - for standard input")
        ->required();
    app_->add_flag("--verify", verify_,
                   "Also mail confirmation links to addresses that await them (verified mode): "
                   "one key per request (VKS API) instead of batches");
    flags_.emplace(app_, defaults);
    app_->footer(
        "Example: gpg --export --armor alice@example.org | keydir upload --server "
        "hkps://keys.example.org -\n"
        "Keys go in as few requests as the server takes (/pks/add, up to 1000 keys or 1 MiB\n"
        "each); a 429 or 503 with Retry-After is waited out (up to --max-wait), visibly.\n"
        "Report: FILE: new|updated|unchanged FPR, then each address published or withheld.");
  }

 private:
  int run_with(const ClientOptions& o) override {
    UploadOptions uo;
    uo.verify_addresses = verify_;
    if (int rc = flags_->resolve("upload", o, uo); rc != kExitOk) {
      return rc;
    }
    return upload(o, files_, uo, std::cout, std::cerr);
  }
  std::vector<std::string> files_;
  bool verify_ = false;
  std::optional<UploadFlags> flags_;
};

// The checks of the log's checkpoint that --audit and monitor make: its
// date, and its witnesses.
void add_log_checks(CLI::App& app, LogOptions& lo) {
  app.add_option("--log-max-age", lo.max_age,
                 "The log's checkpoint must be dated by the log within this many seconds "
                 "(default 86400; 0: any age)");
  app.add_option("--log-witness", lo.witnesses,
                 "A witness's cosignature key (NAME+HASH+KEY, type 0x04): the checkpoint must "
                 "be cosigned by it (repeat; see --log-witness-quorum)")
      ->allow_extra_args(false);
  app.add_option("--log-witness-quorum", lo.witness_quorum,
                 "How many of the --log-witness keys must have cosigned (default: all)");
}

class Fetch final : public NetCommand {
 public:
  Fetch(CLI::App& app, const Defaults& defaults)
      : NetCommand(app.add_subcommand("fetch",
                                      "Get a key by fingerprint, key ID or e-mail address, "
                                      "checked before it is printed"),
                   defaults) {
    app_->add_option("QUERY", query_, "Fingerprint, key ID (0x optional) or e-mail address")
        ->required();
    app_->add_flag("--no-wkd", no_wkd_, "For an address, skip the Web Key Directory");
    app_->add_option("--wkd-host", wkd_host_,
                     "Send WKD requests to this [http://|https://]HOST[:PORT] instead of the "
                     "address's domain (tests, internal hosts)");
    app_->add_flag("--vks", vks_, "Ask the server through its VKS API instead of HKP");
    app_->add_flag("--subkey", by_subkey_,
                   "Also accept a fingerprint or key ID that names a signing subkey proving "
                   "possession (back-signature); by default only the primary key counts");
    app_->add_flag("--binary", binary_, "Binary output instead of armor");
    app_->add_option("--output,-o", output_, "Write to this file instead of standard output");
    app_->add_flag("--import", import_, "Hand the checked key to gpg --import");
    app_->add_flag("-v,--verbose", verbose_,
                   "Say on standard error each step: the URL tried, why it failed or was "
                   "skipped, which one answered");
    app_->add_flag("--audit", audit_,
                   "Ask the server only, for its transparency log's proof: every certificate "
                   "answered must be in the log it signed (exit 4 otherwise), the log "
                   "consistent with the one seen before (exit 8 otherwise)");
    app_->add_option("--log-key", log_key_,
                     "--audit: the log's verifier key (NAME+HASH+KEY); default: the one pinned "
                     "for this server, else the server's /log/vkey, pinned on first use");
    add_log_checks(*app_, lo_);
    app_->footer(
        "Examples: keydir fetch alice@example.org\n"
        "          keydir fetch --server hkps://keys.example.org 0x1234567890ABCDEF\n"
        "          keydir fetch -v alice@example.org\n"
        "Addresses: WKD advanced, WKD direct, then the server. A fingerprint or key ID\n"
        "must be the primary key of the one certificate answered (exit 6 otherwise).\n"
        "A step that takes more than a second shows \"trying URL (N s)\" when standard\n"
        "error is a terminal (KEYDIR_PROGRESS=1: always, one line each).");
  }

 private:
  // An address can be found through WKD alone.
  [[nodiscard]] bool needs_server() const override { return false; }

  int run_with(const ClientOptions& o) override {
    auto q = classify(query_);
    if (!q) {
      std::cerr << "keydir fetch: " << q.error().detail << "\n";
      return exit_code(q.error().code);
    }
    q->subkey = by_subkey_;
    if (!q->email && o.server.empty()) {
      std::cerr << "keydir fetch: no server: give --server URL or set KEYDIR_SERVER\n";
      return kExitUsage;
    }
    if (!audit_ && (!lo_.witnesses.empty() || lo_.witness_quorum != 0)) {
      std::cerr << "keydir fetch: --log-witness and --log-witness-quorum need --audit\n";
      return kExitUsage;
    }
    if (audit_ && o.server.empty()) {
      std::cerr << "keydir fetch: --audit needs a server: give --server URL or set "
                   "KEYDIR_SERVER\n";
      return kExitUsage;
    }
    FetchOptions fo;
    fo.wkd = !no_wkd_;
    fo.wkd_host = wkd_host_;
    fo.server = !o.server.empty();
    fo.vks = vks_;
    fo.verbose = verbose_;
    fo.log_proof = audit_;
    set_progress(fo);
    Bytes certs;
    FetchReport report;
    int rc = fetch(o, *q, fo, certs, std::cerr, &report);
    if (rc != kExitOk) {
      return rc;
    }
    if (audit_) {
      LogOptions lo = lo_;
      lo.log_key = log_key_;
      lo.verbose = verbose_;
      if (rc = audit_fetch(o, *q, report, lo, std::cerr); rc != kExitOk) {
        return rc;
      }
    }
    return write(binary_ ? std::string(as_chars(certs)) : openpgp::armor(certs));
  }

  // The checked key: into gpg --import, a file, or standard output.
  int write(const std::string& data) const {
    if (import_) {
      FILE* gpg = popen("gpg --batch --import", "w");
      if (!gpg) {
        std::cerr << "keydir fetch: cannot run gpg\n";
        return kExitUsage;
      }
      std::fwrite(data.data(), 1, data.size(), gpg);
      int status = pclose(gpg);
      return status == 0 ? kExitOk : kExitUsage;
    }
    if (!output_.empty()) {
      std::ofstream f(output_, std::ios::binary | std::ios::trunc);
      f << data;
      if (!f) {
        std::cerr << "keydir fetch: cannot write " << output_ << "\n";
        return kExitUsage;
      }
      return kExitOk;
    }
    std::cout << data;
    return std::cout ? kExitOk : kExitUsage;
  }

  std::string query_;
  bool no_wkd_ = false;
  std::string wkd_host_;
  bool vks_ = false;
  bool by_subkey_ = false;
  bool binary_ = false;
  std::string output_;
  bool import_ = false;
  bool verbose_ = false;
  bool audit_ = false;
  std::string log_key_;
  LogOptions lo_;
};

// keydir monitor: replays the server's transparency log for addresses.
class Monitor final : public NetCommand {
 public:
  Monitor(CLI::App& app, const Defaults& defaults)
      : NetCommand(app.add_subcommand("monitor",
                                      "Watch the server's transparency log for keys published "
                                      "under your addresses (cron-friendly)"),
                   defaults) {
    app_->add_option("ADDRESS", mo_.addresses, "E-mail addresses to watch")->required();
    app_->add_option("--allow", mo_.allow,
                     "A fingerprint expected for the addresses (repeat); any other is an ALERT")
        ->allow_extra_args(false);
    app_->add_option("--log-key", mo_.log.log_key,
                     "The log's verifier key (NAME+HASH+KEY); default: the one pinned for this "
                     "server, else the server's /log/vkey, pinned on first use");
    add_log_checks(*app_, mo_.log);
    app_->add_flag("-v,--verbose", mo_.log.verbose, "Say on standard error what was checked");
    app_->footer(
        "Reads the log's entries since the last run (the first run reads them all), checks\n"
        "that they make the root of the signed checkpoint, and prints each new entry that\n"
        "binds a watched address: TIME VFPR ADDRESS published|withdrawn|deleted, and\n"
        "\"ALERT ADDRESS bound to VFPR at entry N (TIME)\" for a fingerprint not --allow'ed.\n"
        "State: ${XDG_STATE_HOME:-~/.local/state}/keydir.\n"
        "Exit code: 0 nothing new or only allowed keys (nothing printed when nothing new);\n"
        "9 an ALERT; 8 the log is inconsistent (fork, rollback, hidden entry); 4 malformed;\n"
        "3 network.\n"
        "Example: keydir monitor --server https://keys.example.org --allow FPR alice@example.org");
  }

 private:
  int run_with(const ClientOptions& o) override { return monitor(o, mo_, std::cout, std::cerr); }
  MonitorOptions mo_;
};

class Search final : public NetCommand {
 public:
  Search(CLI::App& app, const Defaults& defaults)
      : NetCommand(app.add_subcommand("search", "Search the server's index (HKP op=index)"),
                   defaults) {
    app_->add_option("TEXT", text_, "Address, key ID, fingerprint or words of a user ID")
        ->required();
    app_->add_flag("--json", json_, "JSON instead of a table");
  }

 private:
  int run_with(const ClientOptions& o) override {
    return search(o, text_, json_, std::cout, std::cerr);
  }
  std::string text_;
  bool json_ = false;
};

class Verify final : public NetCommand {
 public:
  Verify(CLI::App& app, const Defaults& defaults)
      : NetCommand(
            app.add_subcommand(
                "verify", "Mail confirmation links for the addresses of a key (verified mode)"),
            defaults) {
    app_->add_option("FILE", file_, "The public key (armored or binary), or -")->required();
    app_->add_option("EMAIL", emails_, "Addresses to confirm (default: all awaiting)");
    flags_.emplace(app_, defaults);
  }

 private:
  int run_with(const ClientOptions& o) override {
    UploadOptions uo;
    if (int rc = flags_->resolve("verify", o, uo); rc != kExitOk) {
      return rc;
    }
    return verify(o, file_, emails_, uo, std::cout, std::cerr);
  }
  std::string file_;
  std::vector<std::string> emails_;
  std::optional<UploadFlags> flags_;
};

class Refresh final : public NetCommand {
 public:
  Refresh(CLI::App& app, const Defaults& defaults)
      : NetCommand(app.add_subcommand("refresh",
                                      "Look every key of your gpg keyring (or a file) up again: "
                                      "what changed, and --import of verified updates"),
                   defaults) {
    auto* keyring = app_->add_option("--keyring", ro_.keyring,
                                     "Refresh the keys of this key file or keyring (- for "
                                     "standard input) instead of gpg's");
    app_->add_flag("--gnupg", gnupg_,
                   "Refresh gpg's public keyring (the default): `gpg --export`, the gpg in "
                   "PATH, GNUPGHOME honoured")
        ->excludes(keyring);
    app_->add_flag("--import", ro_.import,
                   "Import the verified updates into gpg (gpg --import); without it nothing "
                   "is imported");
    app_->add_flag("--no-wkd", no_wkd_, "Ask only the server, not the Web Key Directory");
    app_->add_option("--wkd-host", ro_.wkd_host,
                     "Send WKD requests to this [http://|https://]HOST[:PORT] (tests, internal "
                     "hosts)");
    app_->add_flag("--json", ro_.json, "A JSON array, one object per key, instead of text");
    app_->add_flag("-v,--verbose", ro_.verbose,
                   "Say on standard error each lookup: the URL, why it failed, which answered");
    app_->add_flag("--audit", ro_.audit,
                   "Check each server answer against the server's transparency log, as fetch "
                   "--audit (no WKD then)");
    app_->add_option("--log-key", ro_.log_key,
                     "--audit: the log's verifier key (default: pinned, else /log/vkey on first "
                     "use)");
    add_log_checks(*app_, ro_.log_checks);
    app_->footer(
        "Each key is asked for by fingerprint on the server and, for its addresses, through\n"
        "WKD. An answer must be the same key with valid self-signatures (one that does not\n"
        "verify refuses the whole answer); it is merged with your key and the difference\n"
        "printed: new subkeys, revocations, expiry extended, new user IDs. Third-party\n"
        "certifications are ignored (counted). At most 1000 keys; each request within\n"
        "--timeout.\n"
        "Examples: keydir refresh --server hkps://keys.example.org\n"
        "          keydir refresh --server hkps://keys.example.org --import\n"
        "          keydir refresh --keyring friends.asc --no-wkd --json\n"
        "Exit code: 0 when no lookup failed (keys not found are not failures); else the\n"
        "most serious: 6 another key answered, 4 an answer that does not verify, 3 network,\n"
        "5 refused; 2 a keyring that cannot be read, or gpg --import failed.");
  }

 private:
  // WKD alone is enough for keys with addresses.
  [[nodiscard]] bool needs_server() const override { return false; }

  int run_with(const ClientOptions& o) override {
    if (!ro_.audit && (!ro_.log_checks.witnesses.empty() || ro_.log_checks.witness_quorum != 0)) {
      std::cerr << "keydir refresh: --log-witness and --log-witness-quorum need --audit\n";
      return kExitUsage;
    }
    if (ro_.audit && o.server.empty()) {
      std::cerr << "keydir refresh: --audit needs a server: give --server URL or set "
                   "KEYDIR_SERVER\n";
      return kExitUsage;
    }
    ro_.wkd = !no_wkd_;
    set_progress(ro_.progress);
    return refresh(o, ro_, std::cout, std::cerr);
  }

  RefreshOptions ro_;
  bool gnupg_ = false;
  bool no_wkd_ = false;
};

// keydir wkd-url EMAIL: offline, no server.
class WkdUrl final : public Command {
 public:
  explicit WkdUrl(CLI::App& app)
      : Command(
            app.add_subcommand("wkd-url", "Print the advanced and direct WKD URLs of an address")) {
    app_->add_option("EMAIL", email_, "E-mail address")->required();
  }

  int run() override {
    auto e = openpgp::Email::parse(email_);
    if (!e) {
      std::cerr << "keydir wkd-url: " << e.error().detail << "\n";
      return exit_code(e.error().code);
    }
    auto [advanced, direct] = wkd_urls(*e, false);
    std::cout << advanced << "\n" << direct << "\n";
    return kExitOk;
  }

 private:
  std::string email_;
};

}  // namespace

std::vector<std::unique_ptr<Command>> add_commands(CLI::App& app, const Defaults& defaults) {
  std::vector<std::unique_ptr<Command>> commands;
  commands.push_back(std::make_unique<Inspect>(app));
  commands.push_back(std::make_unique<Upload>(app, defaults));
  commands.push_back(std::make_unique<Fetch>(app, defaults));
  commands.push_back(std::make_unique<Search>(app, defaults));
  commands.push_back(std::make_unique<Verify>(app, defaults));
  commands.push_back(std::make_unique<Refresh>(app, defaults));
  commands.push_back(std::make_unique<Monitor>(app, defaults));
  commands.push_back(std::make_unique<WkdUrl>(app));
  return commands;
}

}  // namespace keydir::client
