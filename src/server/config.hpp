// `keydird serve`'s configuration: the command line (server/cli.hpp) merged
// with the TOML file of --config, the secrets from files and the
// environment, and every check that needs neither the store nor a port.
//
// The TOML file: each key is the long name of a serve option; a flag on the
// command line wins over the file, the file over the default; [[peer]]
// tables (host, recon-port, hkp-port, filters) stand for --peer. Errors are
// one line, without the "keydird serve: " that serve prints before them; a
// setting from the file is named by its place ("FILE:LINE:COL: add-rate =
// -5: ..."), one from the command line by its flag ("--add-rate -5: ...").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "server/cli.hpp"
#include "server/http_server.hpp"
#include "server/recon_peer.hpp"
#include "service/key_directory.hpp"
#include "service/transparency.hpp"
#include "service/verification.hpp"

namespace keydir::server {

// The environment variables serve reads (KEYDIRD_OPERATOR_TOKEN,
// KEYDIRD_SMTP_PASSWORD): a secret read from one is unset, so that child
// processes and /proc/PID/environ lose it.
class Environment {
 public:
  virtual ~Environment() = default;
  [[nodiscard]] virtual std::optional<std::string> get(const std::string& name) const = 0;
  virtual void unset(const std::string& name) = 0;
};

// The process's environment (getenv, unsetenv).
class ProcessEnvironment final : public Environment {
 public:
  [[nodiscard]] std::optional<std::string> get(const std::string& name) const override;
  void unset(const std::string& name) override;
};

// A map, for tests.
class MapEnvironment final : public Environment {
 public:
  std::map<std::string, std::string> vars;
  [[nodiscard]] std::optional<std::string> get(const std::string& name) const override {
    auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  void unset(const std::string& name) override { vars.erase(name); }
};

// What serve needs, checked.
struct ServeConfig {
  std::string data;  // "data" unless given
  bool sync = false;
  std::uint64_t row_cache_bytes = 0;
  std::string listen;  // HOST:PORT as given
  // host, port (0: any free one), threads (resolved: never 0), TLS paths
  // (both or neither, readable), log_queries, trusted proxies, timeouts,
  // IPv6 prefix. access_log is left to serve (it opens the file).
  HttpOptions http;
  std::string access_log;  // a file, "-" (stdout) or "off"
  // --wkd-domain normalized (lower-case A-labels), in the order given, and
  // sorted without duplicates.
  std::vector<std::string> wkd_domains;
  std::vector<std::string> sorted_domains;
  // The transparency log: how often its checkpoint is dated again, and its
  // witnesses (--log-witness "URL VKEY", checked).
  service::LogOptions log;
  std::string wkd_submission;
  std::optional<std::string> wkd_policy;  // the file's content, when given
  // --mode, when given (flag or file); otherwise the store's mode stands.
  std::optional<service::PublishMode> requested_mode;
  std::size_t max_results = 100;
  std::uint64_t answer_cache_bytes = 0;
  std::uint64_t answer_cache_ttl = 60;
  double add_per_minute = 30;
  double add_burst = 40;
  double auth_per_minute = 30;
  double auth_burst = 10;
  std::string site_name;
  std::string contact;                     // --contact
  std::optional<std::string> policy_text;  // --policy-file's content, when given
  std::string public_url;  // resolved: http(s)://LISTEN unless given; no trailing '/'
  bool public_url_given = false;
  // "--public-url URL" (or the file's position) when it names the example's
  // placeholder host (example.org, example.com, example.net): apply_mode
  // refuses it in the modes that mail links.
  std::string public_url_placeholder;
  service::SmtpOptions smtp;  // checked; the password from its one place
  std::uint64_t verify_token_seconds = 24 * 3600;
  std::vector<std::string> operator_tokens;  // each at least 128 bits
  bool managed_uploads_need_token = true;
  bool keep_third_party = false;
  bool keep_attributes = false;
  bool refuse_sha1 = false;
  // Who may read /metrics besides loopback (--metrics-allow).
  api::AddressList metrics_allow;
  // SKS reconciliation: on when --recon-listen or a peer is given. recon
  // holds the listen address, peers, filters, gossip interval and allow
  // list; its http_port only when --recon-hkp-port is given
  // (recon_http_port_given), else serve sets the bound --listen port.
  bool peering = false;
  ReconOptions recon;
  bool recon_http_port_given = false;
};

// Merges c.config_path (when set) into `c` and checks everything. Reads the
// token and password files, the TLS files (the certificate and its private
// key parse and match), the WKD policy file,
// and KEYDIRD_OPERATOR_TOKEN / KEYDIRD_SMTP_PASSWORD from `env` (unset once
// read). Deprecation warnings go to `warnings`, one line each, without the
// "keydird serve: " prefix. Errors: BadQuery, the detail one line.
Result<ServeConfig> load_serve_config(Cli& c, Environment& env, std::ostream& warnings);

// The checks that need the mode the store settled on (`mode`): a managed
// store's domains (an empty --wkd-domain takes them; other domains are
// refused), a relay for the modes that mail (mails_confirmations), an operator token for
// managed uploads by token, peering only in open mode, a public-url that is
// not the example's placeholder in the modes that mail links. Warnings (one
// line each, no prefix) go to `warnings` when given: a public-url left unset
// in a mode that mails links. Errors: BadQuery.
Result<void> apply_mode(ServeConfig& config, const service::ModeSetting& mode,
                        std::ostream* warnings = nullptr);

// Whether `mode` mails confirmation links under this configuration (and so
// needs --smtp-url and --smtp-from): verified, and managed with
// --managed-uploads verify. Managed with --managed-uploads token mails
// nothing.
bool mails_confirmations(const ServeConfig& config, service::PublishMode mode);

}  // namespace keydir::server
