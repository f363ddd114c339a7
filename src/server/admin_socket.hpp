// Online administration: a Unix socket in the data folder (DATA/admin.sock)
// through which `keydird backup`, `dump`, `stats`, `check`, `recon status`,
// `admin …` and the other maintenance commands run inside the running server.
//
// Authentication is the file system's, as with dirmngr, Docker and systemd:
// the socket is made mode 0600 by the server's user, in the data folder; and
// every connection's peer credentials (SO_PEERCRED) must be the server's own
// user or root, even if someone loosened the file's mode. Nothing of it
// listens on the network.
//
// Protocol (private to keydird, one request per connection): the client
// sends one JSON line {"args": [...], "cwd": "..."} (at most 1 MiB); the
// server parses the args as keydird's command line, runs the command and
// answers one JSON line {"exit": N, "out": "...", "err": "..."}.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/result.hpp"

namespace keydir::server {

struct AdminReply {
  int exit = 1;
  std::string out;
  std::string err;
};

class AdminSocket {
 public:
  using Handler = std::function<AdminReply(const std::vector<std::string>& args,
                                           const std::string& cwd, uid_t uid)>;
  // A file or folder as the client sees it: the server refuses a request when
  // it sees another one at that path (it runs in its own mount namespace:
  // systemd's PrivateTmp, ProtectHome).
  struct SeenFile {
    std::string path;
    std::uint64_t dev = 0;
    std::uint64_t ino = 0;
  };
  explicit AdminSocket(Handler handler);
  ~AdminSocket();
  AdminSocket(const AdminSocket&) = delete;
  AdminSocket& operator=(const AdminSocket&) = delete;

  // Creates the socket at `path` (a stale one is replaced) and serves it.
  Result<void> start(const std::string& path);
  void stop();

 private:
  void accept_loop();
  void serve_one(int fd);

  Handler handler_;
  std::string path_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  // Workers run detached (a finished one leaves nothing behind); stop()
  // waits until none is left.
  std::mutex workers_mutex_;
  std::condition_variable workers_done_;
  int active_ = 0;  // guarded by workers_mutex_
};

// The socket's path for a data folder.
std::string admin_socket_path(const std::string& data_dir);

// Client side. Connected: the command's reply. Errors: NotFound (no server
// listens there: no socket, or a stale one), Unauthorized (permission
// denied), StorageIo (the connection broke).
// `owner`: the uid the server must run as (besides root: the owner of the data
// folder); a socket served by anybody else is not believed. `seen`: the files
// the command names, as this process sees them.
Result<AdminReply> admin_request(const std::string& path, const std::vector<std::string>& args,
                                 const std::string& cwd, uid_t owner,
                                 const std::vector<AdminSocket::SeenFile>& seen);

}  // namespace keydir::server
