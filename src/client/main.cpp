// keydir: the companion client. Commands: inspect (offline), upload, fetch,
// search, verify, wkd-url, refresh (commands.cpp, one class each).
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "client/commands.hpp"
#include "client/exit_codes.hpp"
#include "common/version.hpp"
#include "net/init.hpp"

namespace {

int run(int argc, char** argv) {
  CLI::App app{"keydir — publish, find and check OpenPGP keys"};
  app.require_subcommand(1);
  app.set_version_flag("--version", keydir::version_line("keydir"),
                       "Print the version (and git describe) and exit");
  app.footer(
      "Exit codes: 0 ok; 1 not found (inspect: refused); 2 usage; 3 network, TLS or a 5xx;\n"
      "4 the answer failed validation; 5 the server refused; 6 the server answered another key\n"
      "than the one asked for (or several); 7 internal error; 8 the transparency log is\n"
      "inconsistent (fork or rollback); 9 monitor: an ALERT.");
  std::string warning;
  const auto commands = keydir::client::add_commands(app, keydir::client::load_defaults(warning));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : keydir::client::kExitUsage;
  }
  if (!warning.empty()) {
    std::cerr << "keydir: " << warning << "\n";
  }
  for (const auto& command : commands) {
    if (command->parsed()) {
      if (command->uses_network()) {
        keydir::net::global_init();
      }
      return command->run();
    }
  }
  return keydir::client::kExitUsage;
}

}  // namespace

// Every exception that escapes a command ends here: one line on stderr and
// exit 7 (kExitInternal), never std::terminate's abort and core dump.
int main(int argc, char** argv) {
  return keydir::client::run_guarded([&] { return run(argc, argv); }, std::cerr);
}
