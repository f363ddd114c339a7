// A bounded multi-producer, multi-consumer queue: push blocks while full,
// pop blocks while empty and answers nullopt once closed and drained. The
// pipelines of `keydird import` and `keydird check --deep` (one reader, N
// verifying workers) use it; the bound keeps their memory flat.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace keydir {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {}
  // false, and the item dropped, once the queue is closed: a producer
  // waiting on a full queue whose consumers stopped is let go.
  bool push(T item) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return q_.size() < capacity_ || closed_; });
    if (closed_) {
      return false;
    }
    q_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }
  // nullopt when closed and drained.
  std::optional<T> pop() {
    std::unique_lock lock(mu_);
    not_empty_.wait(lock, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) {
      return std::nullopt;
    }
    T item = std::move(q_.front());
    q_.pop_front();
    not_full_.notify_one();
    return item;
  }
  // What is queued is still popped; no more is taken.
  void close() {
    std::unique_lock lock(mu_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }
  [[nodiscard]] bool closed() {
    std::unique_lock lock(mu_);
    return closed_;
  }
  [[nodiscard]] bool empty() {
    std::unique_lock lock(mu_);
    return q_.empty();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<T> q_;
  std::size_t capacity_;
  bool closed_ = false;
};

// Joins `threads` when it goes out of scope, after `stop` (which closes the
// queues they wait on): a way out by an exception would otherwise destroy
// joinable threads, which ends the process (a running server, for a command
// run through its admin socket).
class JoinOnExit {
 public:
  JoinOnExit(std::vector<std::thread>& threads, std::function<void()> stop)
      : threads_(threads), stop_(std::move(stop)) {}
  JoinOnExit(const JoinOnExit&) = delete;
  JoinOnExit& operator=(const JoinOnExit&) = delete;
  ~JoinOnExit() {
    stop_();
    for (auto& t : threads_) {
      if (t.joinable()) {
        t.join();
      }
    }
  }

 private:
  std::vector<std::thread>& threads_;
  std::function<void()> stop_;
};

}  // namespace keydir
