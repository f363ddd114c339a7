#include "api/http/metrics.hpp"

#include <cstdio>
#include <iterator>

#include "api/http/message.hpp"

namespace keydir::api {

namespace {
const char* const kRouteNames[] = {"lookup_get", "lookup_index", "lookup_other", "add",   "healthz",
                                   "metrics",    "wkd",          "vks",          "pages", "other"};
static_assert(std::size(kRouteNames) == Metrics::kRouteCount);
const char* const kClassNames[] = {"2xx", "3xx", "4xx", "5xx"};
const char* const kOutcomes[] = {"new", "updated", "unchanged", "refused"};
}  // namespace

std::size_t Metrics::status_class(int status) {
  if (status < 300) {
    return 0;
  }
  if (status < Status::kBadRequest) {
    return 1;
  }
  return status < Status::kInternalError ? 2 : 3;
}

void Metrics::request(Route route, int status, double seconds) {
  requests_[route][status_class(status)].fetch_add(1, std::memory_order_relaxed);
  std::size_t b = 0;
  while (b < kBucketsSeconds.size() && seconds > kBucketsSeconds[b]) {
    ++b;
  }
  buckets_[b].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

void Metrics::upload(std::string_view outcome) {
  for (std::size_t i = 0; i < 4; ++i) {
    if (outcome == kOutcomes[i]) {
      uploads_[i].fetch_add(1, std::memory_order_relaxed);
    }
  }
}

std::array<std::uint64_t, 4> Metrics::uploads() const {
  std::array<std::uint64_t, 4> out{};
  for (std::size_t i = 0; i < 4; ++i) {
    out[i] = uploads_[i].load(std::memory_order_relaxed);
  }
  return out;
}

std::string Metrics::render(std::uint64_t certificates) const {
  std::string out;
  if (!version_.empty()) {
    // Label values: the build writes them from [A-Za-z0-9._+~-] only.
    out += "# HELP keydir_build_info The version keydird was built from (value 1).\n";
    out += "# TYPE keydir_build_info gauge\n";
    out += "keydir_build_info{version=\"" + version_ + "\",git=\"" + git_describe_ + "\"} 1\n";
  }
  out += "# HELP keydir_http_requests_total HTTP requests by route and status class.\n";
  out += "# TYPE keydir_http_requests_total counter\n";
  for (std::size_t r = 0; r < kRouteCount; ++r) {
    for (std::size_t c = 0; c < 4; ++c) {
      out += std::string("keydir_http_requests_total{route=\"") + kRouteNames[r] + "\",status=\"" +
             kClassNames[c] + "\"} " +
             std::to_string(requests_[r][c].load(std::memory_order_relaxed)) + "\n";
    }
  }
  out += "# HELP keydir_http_request_duration_seconds Time to answer a request.\n";
  out += "# TYPE keydir_http_request_duration_seconds histogram\n";
  std::uint64_t cumulative = 0;
  char le[32];
  for (std::size_t b = 0; b < kBucketsSeconds.size(); ++b) {
    cumulative += buckets_[b].load(std::memory_order_relaxed);
    std::snprintf(le, sizeof le, "%g", kBucketsSeconds[b]);
    out += std::string("keydir_http_request_duration_seconds_bucket{le=\"") + le + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  cumulative += buckets_.back().load(std::memory_order_relaxed);
  out += "keydir_http_request_duration_seconds_bucket{le=\"+Inf\"} " + std::to_string(cumulative) +
         "\n";
  char sum[32];
  std::snprintf(sum, sizeof sum, "%.6f",
                static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6);
  out += std::string("keydir_http_request_duration_seconds_sum ") + sum + "\n";
  out += "keydir_http_request_duration_seconds_count " +
         std::to_string(count_.load(std::memory_order_relaxed)) + "\n";
  out += "# HELP keydir_uploads_total Certificates uploaded, by outcome.\n";
  out += "# TYPE keydir_uploads_total counter\n";
  for (std::size_t i = 0; i < 4; ++i) {
    out += std::string("keydir_uploads_total{outcome=\"") + kOutcomes[i] + "\"} " +
           std::to_string(uploads_[i].load(std::memory_order_relaxed)) + "\n";
  }
  out += "# HELP keydir_certificates Certificates stored.\n";
  out += "# TYPE keydir_certificates gauge\n";
  out += "keydir_certificates " + std::to_string(certificates) + "\n";
  return out;
}

}  // namespace keydir::api
