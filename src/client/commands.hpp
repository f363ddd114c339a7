// The subcommands of keydir: each registers its options on the CLI11 app and
// runs once parsed (main.cpp parses, then runs the one given). Data goes to
// standard output, messages to standard error; run() returns the exit code
// (exit_codes.hpp).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "net/http.hpp"

namespace keydir::client {

// Defaults from ~/.config/keydir/config.toml (server, cacert, timeout,
// token-file), then KEYDIR_SERVER and KEYDIR_TOKEN_FILE; flags win over both. `warning`: a config
// file that does not parse (printed once the command line has parsed).
struct Defaults {
  std::string server;
  std::string cacert;
  long timeout = 30;
  // The operator token file of upload and verify: KEYDIR_TOKEN_FILE, else
  // token-file in the config file ("~/" is the home folder); and which of
  // the two named it, for messages.
  std::string token_file;
  std::string token_file_from;
};
Defaults load_defaults(std::string& warning);

class Command {
 public:
  explicit Command(CLI::App* app) : app_(app) {}
  virtual ~Command() = default;
  Command(const Command&) = delete;
  Command& operator=(const Command&) = delete;
  [[nodiscard]] bool parsed() const { return app_->parsed(); }
  // Talks to a server: main() sets up libcurl first.
  [[nodiscard]] virtual bool uses_network() const { return false; }
  virtual int run() = 0;

 protected:
  CLI::App* app_;
};

// Registers inspect, upload, fetch, search, verify, refresh and wkd-url on `app`, in
// the order --help lists them; the network ones start from `defaults`.
std::vector<std::unique_ptr<Command>> add_commands(CLI::App& app, const Defaults& defaults);

}  // namespace keydir::client
