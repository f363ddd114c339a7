// keydir: the companion client. Commands: inspect (offline), upload, fetch,
// search, verify, wkd-url.
#include <cstdio>
#include <ctime>
#include <exception>
#include <new>
#include <fstream>
#include <iostream>
#include <iterator>

#include <CLI/CLI.hpp>

#include <cstdlib>

#include <curl/curl.h>
#include <toml++/toml.h>

#include "client/inspect.hpp"
#include "client/remote.hpp"
#include "openpgp/armor.hpp"
#include "common/limits.hpp"

namespace {

using keydir::Bytes;

// Defaults from ~/.config/keydir/config.toml (server, cacert, timeout),
// then KEYDIR_SERVER; flags win over both.
struct Defaults {
  std::string server;
  std::string cacert;
  long timeout = 30;
};

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
    } catch (const toml::parse_error& e) {
      warning = path + ": " + std::string(e.description());
    }
  }
  if (const char* s = std::getenv("KEYDIR_SERVER"); s && *s) {
    d.server = s;
  }
  return d;
}

int run(int argc, char** argv) {
  CLI::App app{"keydir — publish, find and check OpenPGP keys"};
  app.require_subcommand(1);
  app.footer(
      "Exit codes: 0 ok; 1 not found (inspect: refused); 2 usage; 3 network, TLS or a 5xx;\n"
      "4 the answer failed validation; 5 the server refused; 6 the server answered another key\n"
      "than the one asked for (or several); 7 internal error.");

  auto* inspect = app.add_subcommand(
      "inspect", "Check certificates offline: fingerprints, user IDs, subkeys, verdict");
  bool json_output = false;
  std::string path;
  inspect->add_flag("--json", json_output, "Print a JSON document instead of text");
  inspect->add_option("FILE", path, "Armored or binary key file, or - for standard input")
      ->required();
  bool keep_third_party = false;
  bool keep_attributes = false;
  inspect->add_flag("--keep-third-party", keep_third_party,
                    "Keep third-party certifications (the server's default drops them)");
  inspect->add_flag("--keep-user-attributes", keep_attributes,
                    "Keep user attributes (photo IDs)");

  std::string warning;
  Defaults defaults = load_defaults(warning);
  std::string server = defaults.server;
  keydir::client::HttpOptions http;
  http.cacert = defaults.cacert;
  http.timeout = defaults.timeout;
  auto add_net = [&](CLI::App* c) {
    c->add_option("--server", server,
                  "Key server: hkp://, hkps://, http:// or https:// URL (default: KEYDIR_SERVER, "
                  "then ~/.config/keydir/config.toml)");
    c->add_option("--cacert", http.cacert, "PEM file of CAs to trust (HKPS with a private CA)");
    c->add_option("--timeout", http.timeout, "Seconds for a whole request");
  };

  auto* upload = app.add_subcommand(
      "upload", "Publish public keys (checked here first; secret keys are never sent)");
  std::vector<std::string> upload_files;
  bool upload_verify = false;
  add_net(upload);
  upload->add_option("FILE", upload_files, "Armored or binary key files, or - for standard input")
      ->required();
  upload->add_flag("--verify", upload_verify,
                   "Also mail confirmation links to addresses that await them (verified mode)");
  upload->footer("Example: gpg --export --armor alice@example.org | keydir upload --server "
                 "hkps://keys.example.org -");

  auto* fetch = app.add_subcommand(
      "fetch", "Get a key by fingerprint, key ID or e-mail address, checked before it is printed");
  std::string query;
  bool no_wkd = false;
  std::string wkd_host;
  bool binary = false;
  std::string output;
  bool import = false;
  add_net(fetch);
  fetch->add_option("QUERY", query, "Fingerprint, key ID (0x optional) or e-mail address")
      ->required();
  fetch->add_flag("--no-wkd", no_wkd, "For an address, skip the Web Key Directory");
  fetch->add_option("--wkd-host", wkd_host,
                    "Send WKD requests to this [http://|https://]HOST[:PORT] instead of the "
                    "address's domain (tests, internal hosts)");
  bool via_vks = false;
  fetch->add_flag("--vks", via_vks, "Ask the server through its VKS API instead of HKP");
  bool by_subkey = false;
  fetch->add_flag("--subkey", by_subkey,
                  "Also accept a fingerprint or key ID that names a signing subkey proving "
                  "possession (back-signature); by default only the primary key counts");
  fetch->add_flag("--binary", binary, "Binary output instead of armor");
  fetch->add_option("--output,-o", output, "Write to this file instead of standard output");
  fetch->add_flag("--import", import, "Hand the checked key to gpg --import");
  fetch->footer("Examples: keydir fetch alice@example.org\n"
                "          keydir fetch --server hkps://keys.example.org 0x1234567890ABCDEF\n"
                "Addresses: WKD advanced, WKD direct, then the server. A fingerprint or key ID\n"
                "must be the primary key of the one certificate answered (exit 6 otherwise).");

  auto* search = app.add_subcommand("search", "Search the server's index (HKP op=index)");
  std::string text;
  bool search_json = false;
  add_net(search);
  search->add_option("TEXT", text, "Address, key ID, fingerprint or words of a user ID")
      ->required();
  search->add_flag("--json", search_json, "JSON instead of a table");

  auto* verify = app.add_subcommand(
      "verify", "Mail confirmation links for the addresses of a key (verified mode)");
  std::string verify_file;
  std::vector<std::string> verify_emails;
  add_net(verify);
  verify->add_option("FILE", verify_file, "The public key (armored or binary), or -")->required();
  verify->add_option("EMAIL", verify_emails, "Addresses to confirm (default: all awaiting)");

  auto* wkd_url = app.add_subcommand("wkd-url", "Print the advanced and direct WKD URLs of an address");
  std::string wkd_email;
  wkd_url->add_option("EMAIL", wkd_email, "E-mail address")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : keydir::client::kExitUsage;
  }

  if (!warning.empty()) {
    std::cerr << "keydir: " << warning << "\n";
  }
  if (wkd_url->parsed()) {
    auto e = keydir::openpgp::Email::parse(wkd_email);
    if (!e) {
      std::cerr << "keydir wkd-url: " << e.error().detail << "\n";
      return keydir::client::exit_code(e.error().code);
    }
    auto [advanced, direct] = keydir::client::wkd_urls(*e, false);
    std::cout << advanced << "\n" << direct << "\n";
    return keydir::client::kExitOk;
  }
  if (upload->parsed() || fetch->parsed() || search->parsed() || verify->parsed()) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    keydir::client::ClientOptions o;
    o.http = http;
    if (!server.empty()) {
      auto base = keydir::client::server_base(server);
      if (!base) {
        std::cerr << "keydir: not a server URL: " << server
                  << " (use hkp://, hkps://, http:// or https://)\n";
        return keydir::client::kExitUsage;
      }
      o.server = *base;
    } else if (!fetch->parsed()) {
      std::cerr << "keydir: no server: give --server URL or set KEYDIR_SERVER\n";
      return keydir::client::kExitUsage;
    }
    if (upload->parsed()) {
      return keydir::client::upload(o, upload_files, upload_verify, std::cout, std::cerr);
    }
    if (verify->parsed()) {
      return keydir::client::verify(o, verify_file, verify_emails, std::cout, std::cerr);
    }
    if (search->parsed()) {
      return keydir::client::search(o, text, search_json, std::cout, std::cerr);
    }
    auto q = keydir::client::classify(query);
    if (!q) {
      std::cerr << "keydir fetch: " << q.error().detail << "\n";
      return keydir::client::exit_code(q.error().code);
    }
    q->subkey = by_subkey;
    if (!q->email && o.server.empty()) {
      std::cerr << "keydir fetch: no server: give --server URL or set KEYDIR_SERVER\n";
      return keydir::client::kExitUsage;
    }
    keydir::client::FetchOptions fo;
    fo.wkd = !no_wkd;
    fo.wkd_host = wkd_host;
    fo.server = !o.server.empty();
    fo.vks = via_vks;
    Bytes certs;
    int rc = keydir::client::fetch(o, *q, fo, certs, std::cerr);
    if (rc != keydir::client::kExitOk) {
      return rc;
    }
    std::string data = binary ? std::string(keydir::as_chars(certs)) : keydir::openpgp::armor(certs);
    if (import) {
      FILE* gpg = popen("gpg --batch --import", "w");
      if (!gpg) {
        std::cerr << "keydir fetch: cannot run gpg\n";
        return keydir::client::kExitUsage;
      }
      std::fwrite(data.data(), 1, data.size(), gpg);
      int status = pclose(gpg);
      return status == 0 ? keydir::client::kExitOk : keydir::client::kExitUsage;
    }
    if (!output.empty()) {
      std::ofstream f(output, std::ios::binary | std::ios::trunc);
      f << data;
      if (!f) {
        std::cerr << "keydir fetch: cannot write " << output << "\n";
        return keydir::client::kExitUsage;
      }
      return keydir::client::kExitOk;
    }
    std::cout << data;
    return std::cout ? keydir::client::kExitOk : keydir::client::kExitUsage;
  }
  if (inspect->parsed()) {
    std::string error;
    auto data = keydir::client::read_input(path, keydir::limits::kMaxImportCertBytes, error);
    if (!data) {
      std::cerr << "keydir inspect: " << error << "\n";
      return keydir::client::kExitUsage;
    }
    keydir::openpgp::Policy policy;
    policy.keep_third_party_certifications = keep_third_party;
    policy.keep_user_attributes = keep_attributes;
    auto now = static_cast<std::uint64_t>(std::time(nullptr));
    auto report = keydir::client::inspect(*data, policy, now);
    if (json_output) {
      // ASCII only (\uXXXX): user IDs and reasons may hold DEL, C1 controls
      // or bidirectional overrides, which JSON would otherwise pass raw.
      std::cout << keydir::client::to_json(report, now).dump(
                       2, ' ', true, nlohmann::json::error_handler_t::replace)
                << "\n";
    } else {
      keydir::client::print_text(std::cout, report, now);
      if (report.input_error) {
        std::cerr << "keydir inspect: " << path << ": " << report.input_error->detail << "\n";
      }
    }
    return report.exit_code();
  }
  return keydir::client::kExitUsage;
}

}  // namespace

// Every exception that escapes a command ends here: one line on stderr and
// exit 7 (kExitInternal), never std::terminate's abort and core dump.
int main(int argc, char** argv) {
  return keydir::client::run_guarded([&] { return run(argc, argv); }, std::cerr);
}
