// The routes of keydird: one entry point from the HTTP adapter.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/hkp/hkp.hpp"
#include "api/hkp/hkp_v2.hpp"
#include "api/http/answer_cache.hpp"
#include "api/http/message.hpp"
#include "api/http/metrics.hpp"
#include "api/log/log_api.hpp"
#include "api/vks/vks.hpp"
#include "api/web/pages.hpp"
#include "api/wkd/wkd.hpp"
#include "common/rate_limit.hpp"

namespace keydir::api {

// Addresses and networks ("192.0.2.7", "2001:db8::/48", "10.0.0.0/8"):
// who may read /metrics besides loopback (metrics-allow).
class AddressList {
 public:
  // Errors: BadQuery naming the entry that is neither an address nor a
  // network (ADDRESS/BITS, host bits allowed).
  static Result<AddressList> parse(const std::vector<std::string>& entries);
  // Whether `address` (IPv4 or IPv6, "[...]" and "%zone" allowed; an
  // IPv4-mapped IPv6 address counts as IPv4) is loopback (127.0.0.0/8, ::1).
  [[nodiscard]] static bool is_loopback(std::string_view address);
  // Whether `address` is in one of the networks. Not an address: false.
  [[nodiscard]] bool contains(std::string_view address) const;

 private:
  struct Network {
    unsigned char bytes[16];  // IPv4 as IPv4-mapped IPv6
    int bits;                 // of the 128
  };
  std::vector<Network> networks_;
};

struct ApiOptions {
  HkpOptions hkp;
  WkdOptions wkd;
  PagesOptions pages;
  // HMAC key of upload tokens (random, kept by keydird) and their lifetime.
  std::string token_secret;
  std::uint64_t upload_token_lifetime = 3600;
  // E-mail verification; null in open mode.
  service::Verification* verification = nullptr;
  // Managed mode: bearer tokens of operators, and whether an upload without
  // one is refused (401) or goes through e-mail verification.
  std::vector<std::string> operator_tokens;
  bool managed_uploads_need_token = true;
  // Managed mode: uploads that present a token (any Authorization header),
  // per client address: tokens per minute and burst, taken before the token
  // is compared, right or wrong, so that a guesser locked out cannot tell a
  // right guess (it gets 429 too); 0 turns the limit off. An upload with a
  // valid token is not charged to the upload limit below.
  double auth_per_minute = 30;
  double auth_burst = 10;
  // Anonymous uploads (HKP, HKPv2, VKS, the upload page) per client
  // address, counted in keys: per minute and burst. An upload takes one at
  // entry (429 with Retry-After when none is left) and is charged each
  // further key it holds once parsed, into debt if need be: the next upload
  // waits until it is paid back. 0 turns the limit off. The defaults let one
  // person send 20 keys by gpg --send-keys (one request each) and 20 more in
  // one keyring, back to back, and hold a flood to 30 keys a minute.
  double add_per_minute = 30;
  double add_burst = 40;
  // The answer cache of lookups (AnswerCache: HKP, HKPv2, VKS, WKD): its
  // size in bytes (0 turns it off) and how long an answer may be kept, in
  // seconds.
  std::size_t answer_cache_bytes = std::size_t{64} << 20;
  std::uint64_t answer_cache_ttl = 60;
  // The build (keydir::version(), git_describe()): /metrics' keydir_build_info
  // and the pages' footer. Empty: not shown.
  std::string version;
  std::string git_describe;
  // More Prometheus text appended to /metrics (the recon peer's counters).
  std::function<std::string()> extra_metrics;
  // Who may read /metrics, by the request's whole client address
  // (HttpRequest::address: a trusted proxy's forwarded one): loopback and
  // these; everyone else gets 404, as for a path that does not exist.
  AddressList metrics_allow;
  // The transparency log's public side (/log/, proofs with lookups); null:
  // the directory keeps none.
  service::TransparencyLog* log = nullptr;
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
  // The anonymous upload `request` let in by upload_limited is answered.
  void end_upload(const HttpRequest& request) const;
  // A GET or HEAD lookup through the answer cache: `make` answers a miss;
  // answers that say found (200), not found (404) or deleted (410) are kept.
  // `by_host`: the answer depends on the Host header (WKD's direct method).
  Reply cached(const HttpRequest& request, bool by_host, const std::function<Reply()>& make) const;
  service::KeyDirectory& directory_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<keydir::RateLimiter> add_limit_;
  std::unique_ptr<keydir::RateLimiter> auth_limit_;
  std::unique_ptr<AnswerCache> cache_;  // null when off
  // Anonymous uploads in progress: client address -> the request (one each).
  // Concurrent keyrings from one address would each take their entry token
  // before any is charged its keys (dispatch): as many as there are worker
  // threads would get in. upload_limited lets one in at a time, dispatch
  // lets it go once answered.
  mutable std::mutex uploading_mu_;
  mutable std::unordered_map<std::string, const HttpRequest*> uploading_;
  // Managed mode: whether the request carries a valid operator token;
  // compared in constant time.
  bool is_operator(const HttpRequest& request) const;

  std::vector<Bytes> operator_token_hashes_;
  bool managed_uploads_need_token_;
  UploadTokens upload_tokens_;
  Hkp hkp_;
  HkpV2 hkp_v2_;
  Wkd wkd_;
  Vks vks_;
  LogApi log_api_;
  Pages pages_;
  std::function<std::string()> extra_metrics_;
  AddressList metrics_allow_;
};

}  // namespace keydir::api
