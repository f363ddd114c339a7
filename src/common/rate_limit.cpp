#include "common/rate_limit.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace keydir {

std::string client_key(std::string_view address, int ipv6_prefix) {
  std::string_view a = address;
  if (a.size() >= 2 && a.front() == '[' && a.back() == ']') {
    a = a.substr(1, a.size() - 2);
  }
  if (auto pct = a.find('%'); pct != std::string_view::npos) {
    a = a.substr(0, pct);
  }
  if (a.empty() || a.size() > INET6_ADDRSTRLEN || a.find(':') == std::string_view::npos) {
    return std::string(address);  // IPv4 (kept as is) or not an address
  }
  char text[INET6_ADDRSTRLEN + 1];
  std::memcpy(text, a.data(), a.size());
  text[a.size()] = '\0';
  unsigned char b[16];
  if (::inet_pton(AF_INET6, text, b) != 1) {
    return std::string(address);
  }
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  char out[INET6_ADDRSTRLEN + 8];
  if (std::memcmp(b, kMapped, sizeof kMapped) == 0) {
    if (::inet_ntop(AF_INET, b + 12, out, sizeof out) == nullptr) {
      return std::string(address);
    }
    return out;
  }
  const int bits = std::clamp(ipv6_prefix, 0, 128);
  for (int i = 0; i < 16; ++i) {
    const int keep = std::clamp(bits - 8 * i, 0, 8);
    b[i] = static_cast<unsigned char>(b[i] & (0xff00u >> keep));
  }
  if (::inet_ntop(AF_INET6, b, out, sizeof out) == nullptr) {
    return std::string(address);
  }
  return std::string(out) + "/" + std::to_string(bits);
}

std::unordered_map<std::string, RateLimiter::Bucket>::iterator RateLimiter::refill(
    const std::string& key, double now) {
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    // Forget the bucket that will be full first (a full one loses nothing),
    // never the whole table.
    while (buckets_.size() >= max_clients_ && !by_full_.empty()) {
      const std::string* victim = by_full_.begin()->second;
      by_full_.erase(by_full_.begin());
      buckets_.erase(*victim);
    }
    it = buckets_.try_emplace(key, Bucket{burst_, now, by_full_.end()}).first;
  } else {
    by_full_.erase(it->second.by_full);
  }
  Bucket& b = it->second;
  b.tokens = std::min(burst_, b.tokens + std::max(0.0, now - b.at) * per_second_);
  b.at = std::max(b.at, now);
  b.by_full = by_full_.end();
  return it;
}

std::optional<std::uint32_t> RateLimiter::take(const std::string& key, double now) {
  if (!enabled()) {
    return std::nullopt;
  }
  std::lock_guard lock(mu_);
  auto it = refill(key, now);
  Bucket& b = it->second;
  std::optional<std::uint32_t> wait;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
  } else {
    // A debt at a slow rate may be more seconds than a Retry-After holds:
    // the most it can say (a double beyond uint32 would not convert).
    const double seconds = std::ceil((1.0 - b.tokens) / per_second_);
    wait = seconds < 4294967295.0 ? static_cast<std::uint32_t>(seconds) : 4294967295u;
  }
  b.by_full = by_full_.emplace(b.at + (burst_ - b.tokens) / per_second_, &it->first);
  return wait;
}

void RateLimiter::charge(const std::string& key, double tokens, double now) {
  if (!enabled() || !(tokens > 0)) {
    return;
  }
  std::lock_guard lock(mu_);
  auto it = refill(key, now);
  Bucket& b = it->second;
  b.tokens -= tokens;
  b.by_full = by_full_.emplace(b.at + (burst_ - b.tokens) / per_second_, &it->first);
}

std::size_t RateLimiter::size() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

}  // namespace keydir
