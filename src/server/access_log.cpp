#include "server/access_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <mutex>
#include <thread>
#include <vector>

namespace keydir::server {
namespace {

constexpr std::size_t kFlushBytes = 32 * 1024;

struct Buffer {
  std::mutex mu;  // the owning thread, and the flusher once a second
  std::string data;
  std::int64_t second = -1;  // the second `stamp` was made for
  char stamp[24] = {};       // "YYYY-MM-DD HH:MM:SS."
};

void write_all(int fd, std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;  // a full disk or a closed stderr: the log loses lines, serving goes on
    }
    off += static_cast<std::size_t>(n);
  }
  data.clear();
}

}  // namespace

static std::atomic<std::uint64_t> next_log_id{1};

struct AccessLog::Impl {
  // Not the address: a later log may reuse it, and a thread's buffer list
  // must not mistake it for the one that was closed.
  const std::uint64_t id = next_log_id.fetch_add(1);
  int fd = -1;
  bool owns_fd = false;
  std::mutex registry_mu;
  std::vector<std::shared_ptr<Buffer>> buffers;
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;
  std::thread flusher;

  Buffer& local() {
    // One buffer per thread and log (a test may open several logs).
    thread_local std::vector<std::pair<std::uint64_t, std::shared_ptr<Buffer>>> mine;
    for (auto& [owner, buf] : mine) {
      if (owner == id) {
        return *buf;
      }
    }
    auto buf = std::make_shared<Buffer>();
    buf->data.reserve(kFlushBytes + 1024);
    {
      std::lock_guard lock(registry_mu);
      buffers.push_back(buf);
    }
    mine.emplace_back(id, buf);
    return *buf;
  }

  void flush_all() {
    std::vector<std::shared_ptr<Buffer>> all;
    {
      std::lock_guard lock(registry_mu);
      all = buffers;
    }
    for (auto& b : all) {
      std::lock_guard lock(b->mu);
      write_all(fd, b->data);
    }
  }
};

AccessLog::AccessLog(std::unique_ptr<Impl> impl, std::chrono::milliseconds flush_every)
    : impl_(std::move(impl)) {
  Impl* self = impl_.get();
  impl_->flusher = std::thread([self, flush_every] {
    std::unique_lock lock(self->stop_mu);
    while (!self->stop_cv.wait_for(lock, flush_every, [self] { return self->stopping; })) {
      lock.unlock();
      self->flush_all();
      lock.lock();
    }
  });
}

AccessLog::~AccessLog() {
  {
    std::lock_guard lock(impl_->stop_mu);
    impl_->stopping = true;
  }
  impl_->stop_cv.notify_all();
  impl_->flusher.join();
  impl_->flush_all();
  if (impl_->owns_fd) {
    ::close(impl_->fd);
  }
}

Result<std::unique_ptr<AccessLog>> AccessLog::open(const std::string& target,
                                                   std::chrono::milliseconds flush_every) {
  auto impl = std::make_unique<Impl>();
  if (target == "-") {
    impl->fd = STDERR_FILENO;
  } else {
    impl->fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (impl->fd < 0) {
      return fail(ErrorCode::StorageIo,
                  "cannot open the access log " + target + ": " + std::strerror(errno));
    }
    impl->owns_fd = true;
  }
  return std::unique_ptr<AccessLog>(new AccessLog(std::move(impl), flush_every));
}

void AccessLog::write(std::string_view line) {
  Buffer& b = impl_->local();
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::int64_t sec = ms / 1000;
  std::lock_guard lock(b.mu);
  if (sec != b.second) {
    std::time_t t = static_cast<std::time_t>(sec);
    std::tm tm{};
    localtime_r(&t, &tm);
    std::strftime(b.stamp, sizeof b.stamp, "%Y-%m-%d %H:%M:%S.", &tm);
    b.second = sec;
  }
  char milli[4] = {static_cast<char>('0' + (ms % 1000) / 100),
                   static_cast<char>('0' + (ms % 100) / 10), static_cast<char>('0' + ms % 10), 0};
  b.data += '[';
  b.data += b.stamp;
  b.data.append(milli, 3);
  b.data += "] [access] ";
  b.data += line;
  b.data += '\n';
  if (b.data.size() >= kFlushBytes) {
    write_all(impl_->fd, b.data);
  }
}

void AccessLog::flush() {
  impl_->flush_all();
}

}  // namespace keydir::server
