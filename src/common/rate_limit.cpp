#include "common/rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace keydir {

std::optional<std::uint32_t> RateLimiter::take(const std::string& client, double now) {
  if (!enabled()) {
    return std::nullopt;
  }
  std::lock_guard lock(mu_);
  if (buckets_.size() >= max_clients_ && !buckets_.count(client)) {
    buckets_.clear();
  }
  auto [it, inserted] = buckets_.try_emplace(client, Bucket{burst_, now});
  Bucket& b = it->second;
  b.tokens = std::min(burst_, b.tokens + (now - b.at) * per_second_);
  b.at = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(std::ceil((1.0 - b.tokens) / per_second_));
}

}  // namespace keydir
