// The routes of keydird: one entry point from the HTTP adapter.
#pragma once

#include <memory>

#include "api/hkp/hkp.hpp"
#include "api/hkp/hkp_v2.hpp"
#include "api/http/message.hpp"
#include "api/http/metrics.hpp"
#include "common/rate_limit.hpp"
#include "api/vks/vks.hpp"
#include "api/web/pages.hpp"
#include "api/wkd/wkd.hpp"

namespace keydir::api {

struct ApiOptions {
  HkpOptions hkp;
  WkdOptions wkd;
  VksOptions vks;
  PagesOptions pages;
  // Uploads (/pks/add) per client address: tokens per minute and burst;
  // 0 turns the limit off.
  double add_per_minute = 30;
  double add_burst = 10;
};

class Api {
 public:
  Api(service::KeyDirectory& directory, ApiOptions options);
  // Never throws: an unexpected exception becomes a generic 500.
  Reply dispatch(const HttpRequest& request) const noexcept;

 private:
  Reply route(const HttpRequest& request, Metrics::Route& which) const;
  // The per-client upload bucket: a 429 reply when it is empty.
  std::optional<Reply> upload_limited(const HttpRequest& request) const;
  service::KeyDirectory& directory_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<keydir::RateLimiter> add_limit_;
  Hkp hkp_;
  HkpV2 hkp_v2_;
  Wkd wkd_;
  Vks vks_;
  Pages pages_;
};

}  // namespace keydir::api
