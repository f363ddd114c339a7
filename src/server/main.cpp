// keydird: the key directory server and its maintenance commands.
//   serve       HKP, HKPS, WKD, the VKS API, the web pages, SKS reconciliation
//   import      bulk import of key files and keyserver dumps
//   dump        a keydump of what the directory publishes (or --full: a backup)
//   restore     a full backup into a new store
//   check       consistency of the store (and --deep re-verification)
//   backup      online checkpoint of the store
//   stats, compact, reindex, wkd-export, recon, admin
//
// While `keydird serve` runs, the maintenance commands run inside it through
// its admin socket (server/admin_socket.hpp); on a stopped store they open
// it themselves (server/offline.cpp); the same code runs either way (cmd.hpp).
#include <iostream>

#include "common/version.hpp"
#include "net/init.hpp"
#include "server/cli.hpp"
#include "server/cmd.hpp"
#include "server/secrets.hpp"
#include "server/serve.hpp"

using namespace keydir::server;

int main(int argc, char** argv) {
  keydir::net::global_init();
  auto cli = make_cli();
  Cli& c = *cli;
  c.app.set_version_flag("--version", keydir::version_line("keydird"),
                         "Print the version (and git describe) and exit");
  try {
    c.app.parse(argc, argv);
    // Secrets given on the command line: parsed, now hidden from ps.
    scrub_arguments(argc, argv, {"--operator-token", "--smtp-password"});
  } catch (const CLI::ParseError& e) {
    int code = c.app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (c.serve->parsed()) {
    return run_serve(c);
  }
  const std::string name = c.command_name();
  if (c.data.empty()) {
    std::cerr << "keydird " << name << ": --data DIR is required\n";
    return kExitUsage;
  }
  if (runs_online(c)) {
    if (auto exit = run_through_socket(c, argc, argv)) {
      return *exit;
    }
  }
  try {
    return run_offline(c);
  } catch (const std::exception& e) {
    // Out of memory, no thread to start: a message and a failure, not an
    // abort.
    std::cerr << "keydird " << name << ": " << e.what() << "\n";
    return kExitFailure;
  }
}
