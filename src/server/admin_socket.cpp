#include "server/admin_socket.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace keydir::server {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxRequest = 1u << 20;
constexpr int kMaxActive = 4;
constexpr int kRequestSeconds = 10;

bool fill_address(const std::string& path, sockaddr_un& addr) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return false;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return true;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// One line (without its newline), at most `limit` octets; nullopt on EOF,
// error, timeout or an over-long line.
std::optional<std::string> read_line(int fd, std::size_t limit) {
  std::string line;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return std::nullopt;
    }
    line.append(buf, static_cast<std::size_t>(n));
    if (auto nl = line.find('\n'); nl != std::string::npos) {
      line.resize(nl);
      return line;
    }
    if (line.size() > limit) {
      return std::nullopt;
    }
  }
}

// The answer, then the end of our side; what the client still sends is read
// and dropped (for at most 2 s), so that closing with unread data (which
// resets the connection and can destroy the answer in flight) never happens.
void reply(int fd, const AdminReply& r) {
  json j = {{"exit", r.exit}, {"out", r.out}, {"err", r.err}};
  write_all(fd, j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
  ::shutdown(fd, SHUT_WR);
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[4096];
  std::size_t drained = 0;
  while (drained < (8u << 20)) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    drained += static_cast<std::size_t>(n);
  }
}

}  // namespace

std::string admin_socket_path(const std::string& data_dir) {
  return data_dir + "/admin.sock";
}

AdminSocket::AdminSocket(Handler handler) : handler_(std::move(handler)) {}

AdminSocket::~AdminSocket() {
  stop();
}

Result<void> AdminSocket::start(const std::string& path) {
  sockaddr_un addr{};
  if (!fill_address(path, addr)) {
    return fail(ErrorCode::StorageIo, "the admin socket path " + path + " is longer than " +
                                          std::to_string(sizeof addr.sun_path - 1) +
                                          " octets: use a shorter data folder path");
  }
  // A socket left by a server that died: the store's lock proves that no
  // other keydird serves this folder now.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return fail(ErrorCode::StorageIo, path + " exists and is not a socket");
    }
    ::unlink(path.c_str());
  }
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) {
    return fail(ErrorCode::StorageIo, std::string("admin socket: ") + std::strerror(errno));
  }
  // Born 0600: there is no moment in which another user could connect.
  mode_t old = ::umask(0177);
  int b = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (b != 0 || ::chmod(path.c_str(), 0600) != 0 || ::listen(listen_fd_, 16) != 0) {
    std::string why = std::strerror(errno);
    ::close(listen_fd_);
    listen_fd_ = -1;
    return fail(ErrorCode::StorageIo, "admin socket " + path + ": " + why);
  }
  if (::pipe2(wake_, O_CLOEXEC) != 0) {
    return fail(ErrorCode::StorageIo, std::string("admin socket: ") + std::strerror(errno));
  }
  path_ = path;
  acceptor_ = std::thread([this] { accept_loop(); });
  return {};
}

void AdminSocket::stop() {
  if (stopping_.exchange(true)) {
    return;
  }
  if (wake_[1] >= 0) {
    // The pipe only wakes the acceptor; a full pipe already does. (A cast to
    // void does not silence warn_unused_result under _FORTIFY_SOURCE.)
    if (::write(wake_[1], "x", 1) < 0) {
      spdlog::debug("admin socket: wake-up pipe: {}", std::strerror(errno));
    }
  }
  if (acceptor_.joinable()) {
    acceptor_.join();
  }
  {
    // A command under way finishes first.
    std::unique_lock lock(workers_mutex_);
    workers_done_.wait(lock, [this] { return active_ == 0; });
  }
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    ::unlink(path_.c_str());
  }
  for (int fd : wake_) {
    if (fd >= 0) {
      ::close(fd);
    }
  }
}

void AdminSocket::accept_loop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      spdlog::error("admin socket: poll: {}", std::strerror(errno));
      return;
    }
    if (fds[1].revents) {
      return;
    }
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    bool busy = false;
    {
      std::lock_guard lock(workers_mutex_);
      busy = active_ >= kMaxActive;
      active_ += busy ? 0 : 1;
    }
    if (!busy) {
      try {
        std::thread([this, fd] {
          serve_one(fd);
          ::close(fd);
          std::lock_guard lock(workers_mutex_);
          --active_;
          workers_done_.notify_all();
        }).detach();
        continue;
      } catch (const std::system_error&) {
        std::lock_guard lock(workers_mutex_);
        --active_;
        busy = true;
      }
    }
    reply(fd, AdminReply{1, "",
                         "keydird: the server runs " + std::to_string(kMaxActive) +
                             " admin commands already; try again when one ends\n"});
    ::close(fd);
  }
}

void AdminSocket::serve_one(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return;
  }
  // The file mode is the first gate; this one holds if the mode was loosened.
  if (cred.uid != 0 && cred.uid != ::geteuid()) {
    spdlog::warn("admin socket: refused uid {} (pid {}): not the server's user or root", cred.uid,
                 cred.pid);
    reply(fd, AdminReply{1, "",
                         "keydird: refused: uid " + std::to_string(cred.uid) +
                             " may not administer this directory (only its own user and root)\n"});
    return;
  }
  timeval tv{kRequestSeconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto line = read_line(fd, kMaxRequest);
  if (!line) {
    reply(fd,
          AdminReply{2, "", "keydird: the admin request was cut off, too slow or over 1 MiB\n"});
    return;
  }
  json j = json::parse(*line, nullptr, false);
  std::vector<std::string> args;
  std::string cwd;
  try {
    args = j.at("args").get<std::vector<std::string>>();
    cwd = j.at("cwd").get<std::string>();
    for (const auto& f : j.value("seen", json::array())) {
      const std::string path = f.at(0).get<std::string>();
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0 || st.st_dev != f.at(1).get<std::uint64_t>() ||
          st.st_ino != f.at(2).get<std::uint64_t>()) {
        reply(fd, AdminReply{1, "",
                             "keydird: the running server sees another " + path +
                                 " than you do (it runs in its own mount namespace, as "
                                 "systemd's PrivateTmp and ProtectHome make it): use a folder it "
                                 "can see and write, such as /var/lib/keydir-backup with the "
                                 "shipped unit\n"});
        return;
      }
    }
  } catch (const json::exception&) {
    reply(fd, AdminReply{2, "", "keydird: malformed admin request\n"});
    return;
  }
  reply(fd, handler_(args, cwd, cred.uid));
}

Result<AdminReply> admin_request(const std::string& path, const std::vector<std::string>& args,
                                 const std::string& cwd, uid_t owner,
                                 const std::vector<AdminSocket::SeenFile>& seen) {
  sockaddr_un addr{};
  if (!fill_address(path, addr)) {
    return fail(ErrorCode::NotFound, "admin socket path too long");
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return fail(ErrorCode::StorageIo, std::string("socket: ") + std::strerror(errno));
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    ::close(fd);
    if (e == EACCES || e == EPERM) {
      return fail(ErrorCode::Unauthorized,
                  "permission denied on " + path +
                      ": the running keydird is administered by its own user or root");
    }
    return fail(ErrorCode::NotFound, "no keydird listens on " + path);
  }
  // Only the data folder's owner or root serves it: a socket somebody else
  // bound there (while no server ran) gets nothing.
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
      (cred.uid != 0 && cred.uid != owner)) {
    ::close(fd);
    return fail(ErrorCode::Unauthorized,
                path + " is served by uid " + std::to_string(cred.uid) +
                    ", neither root nor the owner of the data folder: not used");
  }
  json files = json::array();
  for (const auto& f : seen) {
    files.push_back(json::array({f.path, f.dev, f.ino}));
  }
  json j = {{"args", args}, {"cwd", cwd}, {"seen", files}};
  // A refusal may come before the whole request is sent: the answer is read
  // even when the write fails.
  (void)write_all(fd, j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
  auto line = read_line(fd, std::size_t{1} << 31);
  ::close(fd);
  if (!line) {
    return fail(ErrorCode::StorageIo, "the running keydird closed the admin connection");
  }
  json r = json::parse(*line, nullptr, false);
  if (!r.is_object()) {
    return fail(ErrorCode::StorageIo, "malformed answer on the admin socket");
  }
  return AdminReply{r.value("exit", 1), r.value("out", ""), r.value("err", "")};
}

}  // namespace keydir::server
