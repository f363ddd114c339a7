// A token bucket per client address, for uploads: `rate` tokens per minute,
// at most `burst` saved. Memory is bounded: past `max_clients` addresses the
// table starts afresh (a flood of addresses resets everyone's buckets rather
// than exhausting memory).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace keydir {

class RateLimiter {
 public:
  RateLimiter(double per_minute, double burst, std::size_t max_clients = 100000)
      : per_second_(per_minute / 60.0), burst_(burst), max_clients_(max_clients) {}
  // nullopt: allowed (a token is taken). Otherwise the seconds to wait.
  std::optional<std::uint32_t> take(const std::string& client, double now_seconds);
  [[nodiscard]] bool enabled() const { return per_second_ > 0; }

 private:
  struct Bucket {
    double tokens;
    double at;
  };
  double per_second_;
  double burst_;
  std::size_t max_clients_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace keydir
