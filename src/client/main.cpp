// keydir: the companion client. Commands: inspect (offline).
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>

#include <CLI/CLI.hpp>

#include "client/inspect.hpp"
#include "common/limits.hpp"

namespace {

using keydir::Bytes;

// Reads FILE or standard input ("-"), at most `max` octets.
std::optional<Bytes> read_input(const std::string& path, std::size_t max, std::string& error) {
  std::istream* in = &std::cin;
  std::ifstream file;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) {
      error = "cannot open " + path;
      return std::nullopt;
    }
    in = &file;
  }
  Bytes data;
  char buf[65536];
  while (*in) {
    in->read(buf, sizeof buf);
    auto got = static_cast<std::size_t>(in->gcount());
    if (data.size() + got > max) {
      error = path + ": larger than " + std::to_string(max) + " octets";
      return std::nullopt;
    }
    data.insert(data.end(), buf, buf + got);
  }
  if (in->bad()) {
    error = "cannot read " + path;
    return std::nullopt;
  }
  return data;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"keydir — publish, find and check OpenPGP keys"};
  app.require_subcommand(1);

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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : keydir::client::kExitUsage;
  }

  if (inspect->parsed()) {
    std::string error;
    auto data = read_input(path, keydir::limits::kMaxImportCertBytes, error);
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
      std::cout << keydir::client::to_json(report, now).dump(
                       2, ' ', false, nlohmann::json::error_handler_t::replace)
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
