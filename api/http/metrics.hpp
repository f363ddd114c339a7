// Counters for GET /metrics (Prometheus text format 0.0.4): requests by route
// and status, a latency histogram, uploads by outcome. Lock-free (atomics).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <utility>

namespace keydir::api {

class Metrics {
 public:
  enum Route {
    kGet,
    kIndex,
    kOtherLookup,
    kAdd,
    kHealth,
    kMetrics,
    kWkd,
    kVks,
    kPages,
    kOther,
    kRouteCount
  };
  static constexpr std::array<double, 9> kBucketsSeconds = {0.0005, 0.001, 0.002, 0.005, 0.01,
                                                            0.05,   0.1,   0.5,   1.0};

  // The build's version and `git describe` (empty: not known), rendered as
  // keydir_build_info{version=...,git=...} 1.
  explicit Metrics(std::string version = {}, std::string git_describe = {})
      : version_(std::move(version)), git_describe_(std::move(git_describe)) {}

  void request(Route route, int status, double seconds);
  void upload(std::string_view outcome);  // new, updated, unchanged, refused
  std::string render(std::uint64_t certificates) const;
  // Uploads since start by outcome: new, updated, unchanged, refused.
  [[nodiscard]] std::array<std::uint64_t, 4> uploads() const;

 private:
  std::string version_;
  std::string git_describe_;
  static std::size_t status_class(int status);  // 0: 2xx, 1: 3xx, 2: 4xx, 3: 5xx
  std::array<std::array<std::atomic<std::uint64_t>, 4>, kRouteCount> requests_{};
  std::array<std::atomic<std::uint64_t>, kBucketsSeconds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micros_{0};
  std::array<std::atomic<std::uint64_t>, 4> uploads_{};
};

}  // namespace keydir::api
