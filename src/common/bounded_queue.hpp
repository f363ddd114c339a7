// A bounded multi-producer, multi-consumer queue: push blocks while full,
// pop blocks while empty and answers nullopt once closed and drained. The
// pipelines of `keydird import` and `keydird check --deep` (one reader, N
// verifying workers) use it; the bound keeps their memory flat.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

namespace keydir {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity) {}
  void push(T item) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return q_.size() < capacity_; });
    q_.push_back(std::move(item));
    not_empty_.notify_one();
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
  void close() {
    std::unique_lock lock(mu_);
    closed_ = true;
    not_empty_.notify_all();
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

}  // namespace keydir
