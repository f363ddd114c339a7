// A token bucket per key (a client's network, or an e-mail address): `rate`
// tokens per minute, at most `burst` saved. Memory is bounded: past
// `max_clients` keys the bucket closest to full is forgotten (a full bucket
// holds nothing worth keeping; next come the least recently emptied ones), so
// a flood of new keys evicts the flood's own buckets first and never resets a
// client that is being limited.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace keydir {

// The rate-limit key of a client address, so that one client is one bucket:
// - IPv4 "a.b.c.d" as it is;
// - IPv4-mapped IPv6 ("::ffff:a.b.c.d", a dual-stack socket's IPv4 client)
//   as its IPv4 address;
// - any other IPv6 address as its network of `ipv6_prefix` bits, e.g.
//   "2001:db8:1:2::/64" (one site gets a /64: 2^64 addresses, one client);
//   brackets and a zone ("%eth0") are ignored.
// Anything that is not an address is returned unchanged. `ipv6_prefix` is
// clamped to 0..128.
std::string client_key(std::string_view address, int ipv6_prefix = 64);

class RateLimiter {
 public:
  RateLimiter(double per_minute, double burst, std::size_t max_clients = 100000)
      : per_second_(per_minute / 60.0),
        burst_(burst),
        max_clients_(max_clients == 0 ? 1 : max_clients) {}
  // nullopt: allowed (a token is taken). Otherwise the seconds to wait.
  std::optional<std::uint32_t> take(const std::string& key, double now_seconds);
  // Takes `tokens` more from the bucket of `key` after the fact (an upload
  // that was let in for one token and turned out to hold more keys): the
  // bucket may go below zero, and its next take waits until the debt is paid
  // back at the rate. Never refuses; a no-op when the limiter is off.
  void charge(const std::string& key, double tokens, double now_seconds);
  [[nodiscard]] bool enabled() const { return per_second_ > 0; }
  // Keys remembered (at most max_clients).
  [[nodiscard]] std::size_t size() const;

 private:
  struct Bucket {
    double tokens;
    double at;
    std::multimap<double, const std::string*>::iterator by_full;
  };
  double per_second_;
  double burst_;
  std::size_t max_clients_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  // Each bucket under the time it will be full again: the first one is the
  // cheapest to forget.
  std::multimap<double, const std::string*> by_full_;
  // The bucket of `key`, refilled up to `now`, out of by_full_ (the caller
  // puts it back); made full when new. Holds mu_.
  std::unordered_map<std::string, Bucket>::iterator refill(const std::string& key, double now);
};

}  // namespace keydir
