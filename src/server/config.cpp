#include "server/config.hpp"

#include <arpa/inet.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include <toml++/toml.h>

#include "common/port.hpp"
#include "openpgp/identifiers.hpp"
#include "recon/filters.hpp"
#include "server/secrets.hpp"
#include "server/tls_files.hpp"
#include "tlog/note.hpp"

namespace keydir::server {

std::optional<std::string> ProcessEnvironment::get(const std::string& name) const {
  const char* v = std::getenv(name.c_str());
  return v ? std::optional<std::string>(v) : std::nullopt;
}

void ProcessEnvironment::unset(const std::string& name) {
  ::unsetenv(name.c_str());
}

namespace {

tl::unexpected<Error> bad(std::string detail) {
  return fail(ErrorCode::BadQuery, std::move(detail));
}

// The settings the config file gave: name (without dashes) -> "FILE:LINE:COL: ".
using Origins = std::map<std::string, std::string>;

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) {
    return "";
  }
  const auto e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

// A number as CLI11 reads it back: all the digits a double has.
std::string number_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Shortest text of a number for messages ("-5", "0.5").
std::string shown(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

// The config file's lines, for hints.
std::vector<std::string> file_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream f(path);
  for (std::string line; std::getline(f, line);) {
    lines.push_back(line);
  }
  return lines;
}

// " (strings must be quoted: key = "value")" when line `n` (1-based) is
// `key = value` with an unquoted value that is not a number, a boolean, an
// array or a table; else "".
std::string quote_hint(const std::vector<std::string>& lines, std::size_t n) {
  if (n == 0 || n > lines.size()) {
    return "";
  }
  const std::string& line = lines[n - 1];
  const auto eq = line.find('=');
  if (eq == std::string::npos) {
    return "";
  }
  const std::string key = trim(std::string_view(line).substr(0, eq));
  std::string value = trim(std::string_view(line).substr(eq + 1));
  if (key.empty() || value.empty() || value[0] == '"' || value[0] == '\'' || value[0] == '[' ||
      value[0] == '{') {
    return "";
  }
  if (auto hash = value.find(" #"); hash != std::string::npos) {
    value = trim(std::string_view(value).substr(0, hash));
  }
  if (key == "smtp-password" || key == "operator-token" || key.ends_with("password") ||
      key.ends_with("token")) {
    value = "...";  // a secret: never into the journal
  }
  return " (strings must be quoted: " + key + " = \"" + value + "\")";
}

// "FILE:LINE:COL: ", as compilers say where.
std::string position(const std::string& path, std::size_t line, std::size_t column) {
  return path + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
}

std::string at(const std::string& path, const toml::source_region& where) {
  return position(path, where.begin.line, where.begin.column);
}

// The column (1-based) where the value of `key = value` on `line` starts.
std::size_t value_column(const std::string& line) {
  const auto eq = line.find('=');
  if (eq == std::string::npos) {
    return 1;
  }
  const auto v = line.find_first_not_of(" \t", eq + 1);
  return (v == std::string::npos ? eq + 1 : v) + 1;
}

// Levenshtein distance, for "did you mean".
std::size_t distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// " (did you mean add-burst?)" for the closest serve setting, when close.
std::string did_you_mean(const CLI::App* serve, const std::string& name) {
  std::string best;
  std::size_t best_distance = 3;  // at most two edits
  auto consider = [&](const std::string& candidate) {
    const std::size_t d = distance(name, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  };
  consider("peer");
  for (const CLI::Option* opt : serve->get_options()) {
    for (const auto& long_name : opt->get_lnames()) {
      if (long_name != "help" && long_name != "config") {
        consider(long_name);
      }
    }
  }
  return best.empty() ? "" : " (did you mean " + best + "?)";
}

// Whether a CLI11 option is a flag (takes no value).
bool is_flag(const CLI::Option* opt) {
  return opt->get_expected_max() == 0;
}

// The TOML value of a key as the strings CLI11 parses, or a message.
Result<std::vector<std::string>> option_values(const std::string& path,
                                               const std::vector<std::string>& lines,
                                               const std::string& name, const toml::node& node,
                                               const CLI::Option* opt) {
  const std::string where = at(path, node.source());
  auto scalar = [&](const toml::node& n) -> Result<std::string> {
    if (n.is_string()) {
      return n.value_or(std::string());
    }
    if (n.is_integer()) {
      return std::to_string(n.value_or(std::int64_t{0}));
    }
    if (n.is_floating_point()) {
      return number_text(n.value_or(0.0));
    }
    if (n.is_date() || n.is_time() || n.is_date_time()) {
      std::string hint = quote_hint(lines, n.source().begin.line);
      if (hint.empty()) {
        hint = " (strings must be quoted)";
      }
      return bad(at(path, n.source()) + name + ": a date or time, not a value of this setting" +
                 hint);
    }
    if (n.is_boolean()) {
      return bad(at(path, n.source()) + name + ": true or false, but it takes a value");
    }
    if (n.is_table()) {
      return bad(at(path, n.source()) + name + ": a table, but it takes a value");
    }
    return bad(at(path, n.source()) + name + ": a list inside a list");
  };
  std::vector<std::string> values;
  if (is_flag(opt)) {
    if (!node.is_boolean()) {
      return bad(where + name + ": a switch: true or false");
    }
    if (node.value_or(false)) {
      values.push_back("true");
    }
    return values;
  }
  if (const auto* arr = node.as_array()) {
    if (opt->get_items_expected_max() <= 1) {
      return bad(where + name + ": takes one value, not a list");
    }
    for (const auto& v : *arr) {
      auto s = scalar(v);
      if (!s) {
        return tl::unexpected(s.error());
      }
      values.push_back(std::move(*s));
    }
    return values;
  }
  auto s = scalar(node);
  if (!s) {
    return tl::unexpected(s.error());
  }
  values.push_back(std::move(*s));
  return values;
}

// [[peer]] tables → --peer specs.
Result<void> merge_peers(const std::string& path, const toml::array& tables,
                         std::vector<std::string>& specs) {
  for (const auto& t : tables) {
    const auto& tab = *t.as_table();
    const toml::node* host_node = tab.get("host");
    if (host_node == nullptr) {
      return bad(at(path, t.source()) + "a [[peer]] needs a host");
    }
    auto host = host_node->value<std::string>();
    if (!host || !host_node->is_string()) {
      std::string hint = quote_hint(file_lines(path), host_node->source().begin.line);
      return bad(at(path, host_node->source()) + "[[peer]] host: a host name or address" +
                 (hint.empty() ? " (strings must be quoted: host = \"keys.example.org\")" : hint));
    }
    for (const auto& [k, v] : tab) {
      if (k.str() != "host" && k.str() != "recon-port" && k.str() != "hkp-port" &&
          k.str() != "filters") {
        return bad(at(path, k.source()) + "[[peer]] " + *host + ": unknown setting '" +
                   std::string(k.str()) + "' (host, recon-port, hkp-port, filters)");
      }
    }
    std::string spec = *host;
    for (const char* key : {"recon-port", "hkp-port"}) {
      const std::int64_t fallback = std::string_view(key) == "recon-port" ? 11370 : 11371;
      std::int64_t port = fallback;
      if (const toml::node* n = tab.get(key)) {
        if (!n->is_integer() || *n->value<std::int64_t>() < 1 ||
            *n->value<std::int64_t>() > 65535) {
          return bad(at(path, n->source()) + "[[peer]] " + *host + ": " + key +
                     ": a port number, 1 to 65535");
        }
        port = *n->value<std::int64_t>();
      }
      spec += ":" + std::to_string(port);
    }
    if (const toml::node* f = tab.get("filters")) {
      if (!f->is_string()) {
        return bad(at(path, f->source()) + "[[peer]] " + *host +
                   ": filters: a quoted string (filters = \"sks\")");
      }
      spec += " filters=" + *f->value<std::string>();
    }
    specs.push_back(std::move(spec));
  }
  return {};
}

Result<void> merge_config_file(Cli& c, Origins& origins) {
  const std::string& path = c.config_path;
  CLI::App* serve = c.serve;
  {
    // toml++ says "File could not be opened for reading" at "line 0".
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      return bad("--config " + path + ": cannot read: " + std::strerror(EISDIR));
    }
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
      return bad("--config " + path + ": cannot read: " + std::strerror(errno));
    }
    std::fclose(f);
  }
  toml::table config;
  try {
    config = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto line = e.source().begin.line;
    const auto lines = file_lines(path);
    const std::string hint = quote_hint(lines, line);
    if (!hint.empty()) {
      // A bare word: toml++ took it for a time, a date or nothing at all
      // ("Error while parsing time"); say what is wrong instead.
      const std::string& text = lines[line - 1];
      const std::string key = trim(std::string_view(text).substr(0, text.find('=')));
      return bad(position(path, line, value_column(text)) + key + ": not a number, true/false " +
                 "or a quoted string" + hint);
    }
    return bad(position(path, line, e.source().begin.column) + std::string(e.description()));
  }
  std::vector<std::string> lines;
  for (const auto& [key, node] : config) {
    std::string name(key.str());
    if (name == "peer" && node.is_array_of_tables()) {
      // [[peer]] host = "..." recon-port = 11370 hkp-port = 11371
      if (serve->get_option("--peer")->count() > 0) {
        continue;
      }
      if (auto ok = merge_peers(path, *node.as_array(), c.peer_specs); !ok) {
        return ok;
      }
      continue;
    }
    CLI::Option* opt = nullptr;
    try {
      opt = serve->get_option("--" + name);
    } catch (const CLI::OptionNotFound&) {
      // A typo would leave the default in force unnoticed (a rate limit, a
      // mode): refused, with the closest setting.
      return bad(at(path, key.source()) + "unknown setting '" + name + "'" +
                 did_you_mean(serve, name));
    }
    if (name == "config") {
      continue;
    }
    if (lines.empty()) {
      lines = file_lines(path);
    }
    auto values = option_values(path, lines, name, node, opt);
    if (!values) {
      return tl::unexpected(values.error());
    }
    if (opt->count() > 0 || values->empty()) {
      continue;  // the flag wins; a switch set to false
    }
    origins[name] = at(path, node.source());
    try {
      opt->add_result(*values);
      opt->run_callback();
    } catch (const CLI::ConversionError&) {
      return bad(at(path, node.source()) + name + ": " +
                 (node.is_string() || node.is_array()
                      ? "\"" + values->front() +
                            "\" is not a number (numbers take no quotes: " + name + " = 30)"
                      : values->front() + " is not a whole number"));
    } catch (const CLI::Error& e) {
      // CLI11 says "--threads: Value 100000 not in range 0 to 256".
      std::string what = e.what();
      if (const std::string prefix = "--" + name + ": "; what.starts_with(prefix)) {
        what = what.substr(prefix.size());
      }
      return bad(at(path, node.source()) + name + ": " + what);
    }
  }
  return {};
}

// The example configuration's placeholders: links to them lead nowhere.
bool placeholder_host(std::string url) {
  if (auto scheme = url.find("://"); scheme != std::string::npos) {
    url = url.substr(scheme + 3);
  }
  url = url.substr(0, url.find_first_of("/:?#"));
  for (auto& ch : url) {
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  for (const char* domain : {"example.org", "example.com", "example.net"}) {
    const std::string d(domain);
    if (url == d || url.ends_with("." + d)) {
      return true;
    }
  }
  return url.ends_with(".example") || url.ends_with(".invalid") || url == "example";
}

// The most a rate (a minute) or a burst may be: beyond it no client is
// limited anyway, and larger numbers are typos.
constexpr double kMaxRate = 1000000;

// `labelled(flag, value)`: "--add-rate -5" or "FILE:LINE:COL: add-rate = -5".
template <typename Label>
Result<void> check_rate(const Label& labelled, const std::string& rate_flag, double rate,
                        const std::string& burst_flag, double burst) {
  if (!std::isfinite(rate) || rate < 0 || rate > kMaxRate) {
    return bad(labelled(rate_flag, shown(rate)) + ": a number a minute, 0 (no limit) to 1000000");
  }
  if (!std::isfinite(burst) || burst < 0 || (rate > 0 && burst < 1) || burst > kMaxRate) {
    return bad(labelled(burst_flag, shown(burst)) +
               ": 1 to 1000000 (fewer than 1 lets a client send nothing at all)");
  }
  return {};
}

// Secrets: operator tokens from the command line or config file, a token
// file and the environment, each at least 128 bits (server/secrets.hpp);
// the SMTP password from one place; a login only over TLS.
Result<void> load_secrets(Cli& c, bool tokens_on_command_line, bool smtp_password_on_command_line,
                          Environment& env, std::ostream& warnings) {
  auto& operator_tokens = c.operator_tokens;
  auto& smtp = c.smtp;
  const std::string token_source = tokens_on_command_line ? std::string("--operator-token")
                                                          : "operator-token in " + c.config_path;
  for (const auto& t : operator_tokens) {
    if (auto ok = check_operator_token(t, token_source); !ok) {
      return ok;
    }
  }
  // A config file that holds a secret is as private as a token file.
  if (!c.config_path.empty() && ((!tokens_on_command_line && !operator_tokens.empty()) ||
                                 (!smtp_password_on_command_line && !smtp.password.empty()))) {
    if (auto ok = check_private_file(c.config_path, "the config file"); !ok) {
      return bad(ok.error().detail + " (it holds an operator token or the SMTP password)");
    }
  }
  if (!c.operator_token_file.empty()) {
    auto read = read_token_file(c.operator_token_file);
    if (!read) {
      return tl::unexpected(read.error());
    }
    operator_tokens.insert(operator_tokens.end(), read->begin(), read->end());
  }
  if (auto value = env.get("KEYDIRD_OPERATOR_TOKEN")) {
    auto read = tokens_from_env(*value, "KEYDIRD_OPERATOR_TOKEN");
    if (!read) {
      return tl::unexpected(read.error());
    }
    operator_tokens.insert(operator_tokens.end(), read->begin(), read->end());
    env.unset("KEYDIRD_OPERATOR_TOKEN");
  }
  if (tokens_on_command_line) {
    warnings << "warning: --operator-token on the command line is deprecated: every local user "
                "could read it with ps until keydird hid it; use --operator-token-file or "
                "KEYDIRD_OPERATOR_TOKEN\n";
  }
  const auto env_password = env.get("KEYDIRD_SMTP_PASSWORD");
  if (static_cast<int>(!smtp.password.empty()) + static_cast<int>(!c.smtp_password_file.empty()) +
          static_cast<int>(env_password.has_value()) >
      1) {
    return bad(
        "give the SMTP password in one place: --smtp-password-file, "
        "KEYDIRD_SMTP_PASSWORD or smtp-password in the config file");
  }
  if (!c.smtp_password_file.empty()) {
    auto read = read_secret_file(c.smtp_password_file);
    if (!read) {
      return tl::unexpected(read.error());
    }
    smtp.password = *read;
  } else if (env_password) {
    smtp.password = *env_password;
    env.unset("KEYDIRD_SMTP_PASSWORD");
  }
  if (smtp_password_on_command_line) {
    warnings << "warning: --smtp-password on the command line is deprecated: use "
                "--smtp-password-file or KEYDIRD_SMTP_PASSWORD\n";
  }
  if (!smtp.url.empty()) {
    if (auto ok = service::check_smtp_options(smtp); !ok) {
      return ok;
    }
  } else if (smtp.insecure_loopback || !smtp.user.empty() || !smtp.password.empty()) {
    return bad("an SMTP login or smtp-insecure-loopback without --smtp-url");
  }
  return {};
}

Result<void> load_recon(const Cli& c, ServeConfig& cfg) {
  cfg.peering = !c.recon_listen.empty() || !c.peer_specs.empty();
  ReconOptions& recon = cfg.recon;
  recon.gossip_interval_seconds = c.gossip_interval;
  recon.allow = c.recon_allow;
  cfg.recon_http_port_given = c.recon_hkp_port != 0;
  if (cfg.recon_http_port_given) {
    recon.http_port = static_cast<std::uint16_t>(c.recon_hkp_port);
  }
  if (!cfg.peering) {
    recon.listen = false;
    return {};
  }
  auto filters = recon::parse_filters(c.recon_filters);
  if (!filters) {
    return bad("--recon-filters: " + filters.error().detail);
  }
  recon.filters = *filters;
  for (const auto& spec : c.peer_specs) {
    auto p = parse_peer(spec);
    if (!p) {
      return tl::unexpected(p.error());
    }
    recon.peers.push_back(*p);
  }
  // A filter is a promise about the set: refuse one the settings break.
  std::vector<recon::Filters> announced{recon.filters};
  for (const auto& p : recon.peers) {
    if (p.filters) {
      announced.push_back(*p.filters);
    }
  }
  for (const auto& f : announced) {
    for (const auto& t : f.terms) {
      if (t == "drop:UAT" && c.keep_attributes) {
        return bad(
            "the filter drop:UAT says user attributes are dropped, but "
            "--keep-user-attributes keeps them: announce other filters or leave out "
            "--keep-user-attributes");
      }
      if (t == "drop:implausible" && c.keep_third_party) {
        return bad(
            "the filter drop:implausible says implausible third-party certifications are "
            "dropped, but --keep-third-party keeps them unchecked: announce other filters "
            "or leave out --keep-third-party");
      }
    }
  }
  recon.listen = !c.recon_listen.empty();
  if (recon.listen) {
    const std::string& rl = c.recon_listen;
    auto rcolon = rl.rfind(':');
    auto rport = rcolon == std::string::npos
                     ? std::nullopt
                     : parse_port(std::string_view(rl).substr(rcolon + 1), true);
    if (!rport) {
      return bad("--recon-listen takes HOST:PORT");
    }
    recon.listen_host = rl.substr(0, rcolon);
    if (recon.listen_host.starts_with("[")) {
      recon.listen_host = recon.listen_host.substr(1, recon.listen_host.size() - 2);
    }
    recon.listen_port = *rport;
  }
  return {};
}

}  // namespace

Result<ServeConfig> load_serve_config(Cli& c, Environment& env, std::ostream& warnings) {
  CLI::App* serve = c.serve;
  const bool tokens_on_command_line = serve->get_option("--operator-token")->count() > 0;
  const bool smtp_password_on_command_line = serve->get_option("--smtp-password")->count() > 0;
  Origins origins;
  if (!c.config_path.empty()) {
    if (auto ok = merge_config_file(c, origins); !ok) {
      return tl::unexpected(ok.error());
    }
  }
  // An option and its value as the operator wrote it: "--add-rate -5" on
  // the command line, "FILE:LINE:COL: add-rate = -5" in the config file.
  auto labelled = [&](const std::string& flag, const std::string& value) {
    const std::string name = flag.substr(2);
    auto it = origins.find(name);
    return it == origins.end() ? flag + " " + value : it->second + name + " = " + value;
  };
  // The text given for an option (a negative number read into an unsigned
  // one wraps: the message shows what was written).
  auto given = [&](const std::string& flag, const std::string& fallback) {
    const CLI::Option* opt = serve->get_option(flag);
    return opt->results().empty() ? fallback : opt->results().back();
  };
  ServeConfig cfg;
  cfg.data = c.data.empty() ? std::string("data") : c.data;
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    return bad("--tls-cert and --tls-key go together");
  }
  if (!c.tls_cert.empty()) {
    if (auto ok = check_tls_files(labelled("--tls-cert", c.tls_cert), c.tls_cert,
                                  labelled("--tls-key", c.tls_key), c.tls_key, warnings);
        !ok) {
      return tl::unexpected(ok.error());
    }
  }
  {
    // The data folder: keydird creates it, but not its parents (a typo would
    // otherwise start an empty directory somewhere unexpected).
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path data_path(cfg.data);
    const auto status = fs::status(data_path, ec);
    if (fs::exists(status) && !fs::is_directory(status)) {
      return bad(labelled("--data", cfg.data) + ": not a folder");
    }
    if (!fs::exists(status)) {
      fs::path absolute = fs::absolute(data_path, ec).lexically_normal();
      if (!absolute.has_filename()) {
        absolute = absolute.parent_path();  // "data/"
      }
      const fs::path parent = absolute.parent_path();
      if (!parent.empty() && !fs::is_directory(parent, ec)) {
        return bad(labelled("--data", cfg.data) + ": its parent " + parent.string() +
                   " does not exist (create it, or correct the path)");
      }
    }
  }
  if (auto ok =
          load_secrets(c, tokens_on_command_line, smtp_password_on_command_line, env, warnings);
      !ok) {
    return tl::unexpected(ok.error());
  }
  for (const auto& d : c.wkd_domains) {
    // The form every address's domain is compared in: lower-case A-labels.
    auto normal = openpgp::normalize_domain(d);
    if (!normal) {
      return bad("--wkd-domain " + d + ": " + normal.error().detail);
    }
    cfg.wkd_domains.push_back(*normal);
  }
  cfg.log.checkpoint_interval = c.log_checkpoint_interval;
  for (const auto& w : c.log_witnesses) {
    const std::string what = "--log-witness \"" + w + "\"";
    const auto sp = w.find_first_of(" \t");
    const std::string url = trim(std::string_view(w).substr(0, sp));
    const std::string vkey = sp == std::string::npos ? "" : trim(std::string_view(w).substr(sp));
    if (url.empty() || vkey.empty() || vkey.find_first_of(" \t") != std::string::npos) {
      return bad(what + ": \"URL VKEY\", the witness's URL and its cosignature key");
    }
    if (!(url.starts_with("http://") || url.starts_with("https://"))) {
      return bad(what + ": the URL is http:// or https://");
    }
    auto key = tlog::NoteVerifier::parse(vkey, tlog::kSigCosignatureV1);
    if (!key) {
      return bad(what + ": " + key.error().detail);
    }
    std::string base = url;
    while (base.ends_with("/")) {
      base.pop_back();
    }
    for (const auto& other : cfg.log.witnesses) {
      if (other.key.name == key->name && other.key.key_hash == key->key_hash) {
        return bad(what + ": that witness is given twice");
      }
    }
    cfg.log.witnesses.push_back(service::WitnessConfig{base, std::move(*key)});
  }
  cfg.sorted_domains = cfg.wkd_domains;
  std::sort(cfg.sorted_domains.begin(), cfg.sorted_domains.end());
  cfg.sorted_domains.erase(std::unique(cfg.sorted_domains.begin(), cfg.sorted_domains.end()),
                           cfg.sorted_domains.end());
  if (serve->get_option("--mode")->count() > 0) {
    auto mode = service::parse_mode(c.mode_text);
    if (!mode) {  // CLI11 checks it; a defence
      return bad("--mode " + c.mode_text + ": open, verified or managed");
    }
    cfg.requested_mode = *mode;
  }

  // Numbers CLI11 does not bound (the others have a CLI::Range in cli.cpp).
  if (auto ok = check_rate(labelled, "--add-rate", c.add_per_minute, "--add-burst", c.add_burst);
      !ok) {
    return tl::unexpected(ok.error());
  }
  if (auto ok =
          check_rate(labelled, "--auth-rate", c.auth_per_minute, "--auth-burst", c.auth_burst);
      !ok) {
    return tl::unexpected(ok.error());
  }
  if (c.max_results < 1 || c.max_results > 1000000) {
    return bad(labelled("--max-results", given("--max-results", std::to_string(c.max_results))) +
               ": 1 to 1000000");
  }
  if (c.row_cache_mb > (std::size_t{1} << 20)) {
    return bad(labelled("--row-cache-mb", given("--row-cache-mb", std::to_string(c.row_cache_mb))) +
               ": 0 to 1048576 (MiB)");
  }
  const double token_seconds = c.verify_token_hours * 3600;
  if (!std::isfinite(token_seconds) || token_seconds < 1 || c.verify_token_hours > 8760) {
    return bad(labelled("--verify-token-hours", shown(c.verify_token_hours)) +
               ": more than 0.0003 (a second) and at most 8760 (a year)");
  }
  if (c.http.idle_timeout_seconds < 0 || c.http.idle_timeout_seconds > 86400) {
    return bad(labelled("--idle-timeout", std::to_string(c.http.idle_timeout_seconds)) +
               ": 0 (never) to 86400 seconds");
  }

  // Where to listen.
  cfg.listen = c.listen;
  cfg.http = c.http;
  {
    auto colon = c.listen.rfind(':');
    if (colon == std::string::npos) {
      return bad("--listen takes HOST:PORT");
    }
    cfg.http.host = c.listen.substr(0, colon);
    if (cfg.http.threads == 0) {
      // With one reactor thread per core, a thread preempted in send()
      // (which wakes the client on the same core) stalls its connections;
      // twice as many served 20-25% more lookups (docs/performance.md).
      cfg.http.threads = static_cast<int>(std::max(2u, 2 * std::thread::hardware_concurrency()));
    }
    auto port = parse_port(std::string_view(c.listen).substr(colon + 1), true);
    if (!port) {
      return bad("bad port in --listen " + c.listen);
    }
    cfg.http.port = *port;
  }
  if (!c.tls_cert.empty()) {
    cfg.http.tls_cert = c.tls_cert;
    cfg.http.tls_key = c.tls_key;
  }
  cfg.http.log_queries = !c.no_query_log;
  for (const auto& proxy : cfg.http.trusted_proxies) {
    // Compared with the peer's address as the socket gives it: a host name or
    // a network would never match, and every client would then share the
    // proxy's rate limits.
    unsigned char buf[16];
    if (::inet_pton(AF_INET, proxy.c_str(), buf) != 1 &&
        ::inet_pton(AF_INET6, proxy.c_str(), buf) != 1) {
      return bad(labelled("--trusted-proxy", proxy) +
                 ": an IP address of the proxy as keydird sees it (127.0.0.1 for nginx on "
                 "this host), not a host name or a network");
    }
  }
  if (auto allow = api::AddressList::parse(c.metrics_allow); allow) {
    cfg.metrics_allow = std::move(*allow);
  } else {
    return bad("--metrics-allow " + allow.error().detail);
  }
  cfg.access_log = c.access_log;

  if (!c.wkd_policy_file.empty()) {
    std::ifstream f(c.wkd_policy_file, std::ios::binary);
    if (!f) {
      return bad("cannot read --wkd-policy " + c.wkd_policy_file);
    }
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (text.size() > 64 * 1024) {
      return bad("cannot read --wkd-policy " + c.wkd_policy_file);
    }
    cfg.wkd_policy = std::move(text);
  }
  cfg.wkd_submission = c.wkd_submission;
  if (!c.policy_file.empty()) {
    std::ifstream f(c.policy_file, std::ios::binary);
    std::string text;
    if (f) {
      text.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    }
    if (!f && !f.eof()) {
      return bad("cannot read --policy-file " + c.policy_file);
    }
    if (text.size() > 64 * 1024) {
      return bad("--policy-file " + c.policy_file + " is larger than 64 KiB");
    }
    cfg.policy_text = std::move(text);
  }
  if (c.contact.size() > 200 || c.contact.find('\n') != std::string::npos) {
    return bad("--contact must be one line of at most 200 characters");
  }
  cfg.contact = c.contact;

  cfg.public_url = c.public_url;
  if (cfg.public_url.empty()) {
    cfg.public_url = std::string(cfg.http.tls_cert ? "https://" : "http://") + c.listen;
  }
  while (!cfg.public_url.empty() && cfg.public_url.back() == '/') {
    cfg.public_url.pop_back();
  }
  cfg.public_url_given = !c.public_url.empty();
  if (cfg.public_url_given && placeholder_host(cfg.public_url)) {
    cfg.public_url_placeholder = labelled("--public-url", c.public_url);
  }

  if (auto ok = load_recon(c, cfg); !ok) {
    return tl::unexpected(ok.error());
  }

  cfg.sync = c.sync;
  cfg.row_cache_bytes = static_cast<std::uint64_t>(c.row_cache_mb) << 20;
  cfg.max_results = c.max_results;
  cfg.answer_cache_bytes = static_cast<std::uint64_t>(c.answer_cache_mb) << 20;
  cfg.answer_cache_ttl = c.answer_cache_ttl;
  cfg.add_per_minute = c.add_per_minute;
  cfg.add_burst = c.add_burst;
  cfg.auth_per_minute = c.auth_per_minute;
  cfg.auth_burst = c.auth_burst;
  cfg.site_name = c.site_name;
  cfg.smtp = c.smtp;
  cfg.verify_token_seconds = static_cast<std::uint64_t>(token_seconds);
  cfg.operator_tokens = c.operator_tokens;
  cfg.managed_uploads_need_token = c.managed_uploads == "token";
  cfg.keep_third_party = c.keep_third_party;
  cfg.keep_attributes = c.keep_attributes;
  cfg.refuse_sha1 = c.refuse_sha1;
  return cfg;
}

bool mails_confirmations(const ServeConfig& cfg, service::PublishMode mode) {
  return mode == service::PublishMode::Verified ||
         (mode == service::PublishMode::Managed && !cfg.managed_uploads_need_token);
}

Result<void> apply_mode(ServeConfig& cfg, const service::ModeSetting& mode,
                        std::ostream* warnings) {
  using service::PublishMode;
  if (mails_confirmations(cfg, mode.mode)) {
    // The links in confirmation mails must reach this server from outside.
    if (!cfg.public_url_placeholder.empty()) {
      return bad(cfg.public_url_placeholder +
                 ": the example's placeholder; confirmation mails would link there: set "
                 "public-url to this server's address as users reach it (https://keys.DOMAIN)");
    }
    if (!cfg.public_url_given && warnings != nullptr) {
      *warnings << "warning: public-url is not set: confirmation mails link to " << cfg.public_url
                << "; set public-url to this server's address as users reach it\n";
    }
  } else if (!cfg.public_url_placeholder.empty() && warnings != nullptr) {
    *warnings << "warning: " << cfg.public_url_placeholder
              << ": the example's placeholder; set public-url to this server's address before "
                 "a mode that mails confirmation links\n";
  }
  if (mode.mode == PublishMode::Managed) {
    if (cfg.wkd_domains.empty()) {
      cfg.wkd_domains = mode.managed_domains;
      cfg.sorted_domains = mode.managed_domains;
    } else if (cfg.sorted_domains != mode.managed_domains) {
      return bad("the store in " + cfg.data + " manages " + service::describe(mode) +
                 "; --wkd-domain names other domains: to change them, keydird admin set-mode "
                 "managed --domain D... --data " +
                 cfg.data);
    }
  }
  const std::string name(service::mode_name(mode.mode));
  if (mode.mode != PublishMode::Open) {
    // Managed mode by operator token mails nothing: only the modes that
    // confirm addresses by e-mail need a relay.
    if (mails_confirmations(cfg, mode.mode) && (cfg.smtp.url.empty() || cfg.smtp.from.empty())) {
      return bad(mode.mode == PublishMode::Managed
                     ? "mode managed with --managed-uploads verify mails confirmation links: set "
                       "--smtp-url and --smtp-from (or --managed-uploads token, which mails "
                       "nothing)"
                     : "mode " + name +
                           " mails confirmation links: set --smtp-url and --smtp-from");
    }
    if (mode.mode == PublishMode::Managed && cfg.wkd_domains.empty()) {
      return bad("--mode managed serves the organization's domains: set --wkd-domain");
    }
    if (mode.mode == PublishMode::Managed && cfg.managed_uploads_need_token &&
        cfg.operator_tokens.empty()) {
      return bad(
          "--mode managed with --managed-uploads token needs an operator token: "
          "--operator-token-file, KEYDIRD_OPERATOR_TOKEN or operator-token in the config "
          "file");
    }
    if (cfg.peering) {
      return bad(
          "SKS reconciliation (--recon-listen, --peer) needs --mode open: peers would "
          "receive addresses whose owners have not confirmed them");
    }
  }
  return {};
}

}  // namespace keydir::server
