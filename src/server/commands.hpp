// keydird's maintenance commands (everything but `serve`), run the same way
// offline, on a stopped store that the command opened itself, and online,
// inside the running server on its open store, for a request that came
// through the admin socket (server/admin_socket.hpp).
#pragma once

#include <functional>
#include <ostream>
#include <string>

#include "server/cli.hpp"
#include "service/key_directory.hpp"
#include "storage/rocksdb/rocks_key_store.hpp"

namespace keydir::server {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

struct CommandContext {
  storage::RocksKeyStore& store;
  service::KeyDirectory& directory;
  std::string data;  // the data folder
  std::string cwd;   // relative paths of the command are resolved against it
  std::ostream& out;
  std::ostream& err;
  std::string who;  // for the audit log: "uid 0 (admin socket)", "uid 1000 (offline)"
  bool online = false;
  // Online: whether the running server can serve in this mode (its SMTP
  // relay, operator tokens, WKD domains, peering); offline: unset.
  std::function<Result<void>(const service::ModeSetting&)> can_serve;
  // Online: the recon status of the running server's peers (text, or a
  // JSON array), empty when it does not peer.
  std::function<std::string(bool as_json)> recon_peers;

  [[nodiscard]] std::string path(const std::string& p) const;
};

// Runs the command `cli` parsed (not serve). Returns the exit status.
int run_command(Cli& cli, CommandContext& ctx);

// Whether the command may run inside the running server.
bool runs_online(const Cli& cli);

// A small text file (a policy: at most 64 KiB), or nullopt.
std::optional<std::string> read_small_file(const std::string& path);

// The HMAC key of VKS upload tokens: 32 random octets in DATA/token.key
// (mode 0600), made on first use, so that tokens outlive a restart.
std::optional<std::string> token_secret(const std::string& data_dir);
// Writes DATA/token.key (a restore).
bool write_token_secret(const std::string& data_dir, std::string_view key);

// The store's mode, as the command line asks for it and as the store records
// it: a store that records none and holds no certificate takes `requested`
// (or open); one that records a mode keeps it, and a `requested` mode that
// differs is an error telling how to change it. `legacy_ok`: a store written
// before the mode was recorded takes `requested` (serve: the operator's flag
// is what it served); otherwise such a store is an error. `record`: write the
// settled mode into a store that records none.
Result<service::ModeSetting> settle_mode(storage::KeyStore& store,
                                         const std::optional<service::ModeSetting>& requested,
                                         bool legacy_ok, const std::string& data,
                                         bool record = true, bool* recorded_before = nullptr);

// A store that recorded no mode takes the directory's: a new store records
// it; a store of an earlier keydird (it holds certificates) is re-indexed
// under it as well. Logged in the audit log.
Result<void> adopt_mode(storage::KeyStore& store, service::KeyDirectory& directory,
                        const std::string& who, std::ostream& log);
// Finishes a mode change that was interrupted (and logs that it did).
Result<void> resume_mode_change(storage::KeyStore& store, service::KeyDirectory& directory,
                                const std::string& who, std::ostream& log);

}  // namespace keydir::server
