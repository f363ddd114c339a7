#include "api/router.hpp"

#include <arpa/inet.h>

#include <chrono>
#include <cstring>

#include "openpgp/crypto/hash.hpp"
#include "openpgp/crypto/primitives.hpp"

namespace keydir::api {

namespace {
double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// An address as 16 bytes (IPv4 as IPv4-mapped IPv6); "[...]" and a "%zone"
// are taken off. Not an address: false.
bool address_bytes(std::string_view text, unsigned char (&out)[16]) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (auto pct = text.find('%'); pct != std::string_view::npos) {
    text = text.substr(0, pct);
  }
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) {
    return false;
  }
  char z[INET6_ADDRSTRLEN + 1];
  std::memcpy(z, text.data(), text.size());
  z[text.size()] = '\0';
  if (text.find(':') != std::string_view::npos) {
    return ::inet_pton(AF_INET6, z, out) == 1;
  }
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  std::memcpy(out, kMapped, sizeof kMapped);
  return ::inet_pton(AF_INET, z, out + 12) == 1;
}

bool is_mapped_ipv4(const unsigned char (&b)[16]) {
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(b, kMapped, sizeof kMapped) == 0;
}

// Whether the first `bits` bits of a and b agree.
bool same_prefix(const unsigned char (&a)[16], const unsigned char (&b)[16], int bits) {
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    const unsigned mask = bits >= 8 ? 0xffu : (0xff00u >> bits) & 0xffu;
    if (((a[i] ^ b[i]) & mask) != 0) {
      return false;
    }
  }
  return true;
}
}  // namespace

Result<AddressList> AddressList::parse(const std::vector<std::string>& entries) {
  AddressList list;
  for (const auto& e : entries) {
    std::string_view text = e;
    std::string_view bits_text;
    if (auto slash = text.find('/'); slash != std::string_view::npos) {
      bits_text = text.substr(slash + 1);
      text = text.substr(0, slash);
    }
    Network n{};
    if (!address_bytes(text, n.bytes)) {
      return fail(ErrorCode::BadQuery,
                  "'" + e + "' is neither an address nor a network (192.0.2.0/24, 2001:db8::/32)");
    }
    const bool v4 = is_mapped_ipv4(n.bytes) && text.find(':') == std::string_view::npos;
    const int max_bits = v4 ? 32 : 128;
    int bits = max_bits;
    if (e.find('/') != std::string::npos) {
      bits = -1;
      if (!bits_text.empty() && bits_text.size() <= 3 &&
          bits_text.find_first_not_of("0123456789") == std::string_view::npos) {
        bits = std::stoi(std::string(bits_text));
      }
      if (bits < 0 || bits > max_bits) {
        return fail(ErrorCode::BadQuery, "'" + e + "': a network takes 0 to " +
                                             std::to_string(max_bits) + " bits after the /");
      }
    }
    n.bits = v4 ? bits + 96 : bits;
    list.networks_.push_back(n);
  }
  return list;
}

bool AddressList::is_loopback(std::string_view address) {
  unsigned char b[16];
  if (!address_bytes(address, b)) {
    return false;
  }
  static constexpr unsigned char kLoopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::memcmp(b, kLoopback6, sizeof b) == 0 || (is_mapped_ipv4(b) && b[12] == 127);
}

bool AddressList::contains(std::string_view address) const {
  unsigned char b[16];
  if (!address_bytes(address, b)) {
    return false;
  }
  for (const auto& n : networks_) {
    if (same_prefix(b, n.bytes, n.bits)) {
      return true;
    }
  }
  return false;
}

Api::Api(service::KeyDirectory& directory, ApiOptions options)
    : directory_(directory),
      metrics_(std::make_unique<Metrics>(options.version, options.git_describe)),
      add_limit_(std::make_unique<keydir::RateLimiter>(options.add_per_minute, options.add_burst)),
      auth_limit_(
          std::make_unique<keydir::RateLimiter>(options.auth_per_minute, options.auth_burst)),
      cache_(options.answer_cache_bytes ? std::make_unique<AnswerCache>(options.answer_cache_bytes,
                                                                        options.answer_cache_ttl)
                                        : nullptr),
      managed_uploads_need_token_(options.managed_uploads_need_token),
      upload_tokens_(options.token_secret, options.upload_token_lifetime,
                     [&directory] { return directory.now(); }),
      hkp_(directory, options.hkp, metrics_.get()),
      hkp_v2_(directory, options.hkp.max_results, metrics_.get()),
      wkd_(directory, options.wkd),
      vks_(directory, hkp_, upload_tokens_, options.verification),
      log_api_(options.log),
      pages_(
          directory,
          [&options] {
            PagesOptions p = options.pages;
            p.managed_uploads_need_token = options.managed_uploads_need_token;
            p.version = options.version;
            if (options.log != nullptr) {
              p.log_vkey = options.log->verifier().encode();
              for (const auto& w : options.log->options().witnesses) {
                p.log_witnesses.push_back(w.key.encode());
              }
            }
            return p;
          }(),
          upload_tokens_, options.verification),
      extra_metrics_(options.extra_metrics),
      metrics_allow_(options.metrics_allow) {
  for (const auto& t : options.operator_tokens) {
    operator_token_hashes_.push_back(
        *openpgp::crypto::digest(openpgp::HashAlgorithm::Sha256, as_bytes(t)));
  }
}

bool Api::is_operator(const HttpRequest& request) const {
  std::string_view auth = request.authorization;
  if (!auth.starts_with("Bearer ") || operator_token_hashes_.empty()) {
    return false;
  }
  // Hashes have one length, so the comparison time says nothing of the token.
  Bytes h = *openpgp::crypto::digest(openpgp::HashAlgorithm::Sha256, as_bytes(auth.substr(7)));
  bool ok = false;
  for (const auto& t : operator_token_hashes_) {
    ok |= openpgp::crypto::equal_constant_time(h, t);
  }
  return ok;
}

std::optional<Reply> Api::upload_limited(const HttpRequest& request) const {
  if (request.operator_upload) {
    return std::nullopt;  // the auth limiter counted the token (dispatch)
  }
  if (!add_limit_->enabled()) {
    return std::nullopt;
  }
  {
    std::lock_guard lock(uploading_mu_);
    if (uploading_.contains(request.client)) {
      Reply r = text_reply(Status::kTooManyRequests,
                           "an upload from your address is still in progress; send the next one "
                           "when it is answered");
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    uploading_.emplace(request.client, &request);
  }
  if (auto wait = add_limit_->take(request.client, seconds_now())) {
    end_upload(request);
    Reply r =
        text_reply(Status::kTooManyRequests, "too many uploads from your address; try again later");
    r.headers.emplace_back("Retry-After", std::to_string(*wait));
    return r;
  }
  return std::nullopt;
}

void Api::end_upload(const HttpRequest& request) const {
  std::lock_guard lock(uploading_mu_);
  if (auto it = uploading_.find(request.client); it != uploading_.end() && it->second == &request) {
    uploading_.erase(it);
  }
}

Reply Api::dispatch(const HttpRequest& in) const noexcept {
  const double start = seconds_now();
  Metrics::Route which = Metrics::kOther;
  try {
    const bool upload =
        in.method == "POST" && (in.path == "/pks/add" || in.path == "/pks/v2/certs" ||
                                in.path == "/vks/v1/upload" || in.path == "/upload");
    std::optional<HttpRequest> copy;
    if (upload && directory_.mode() == service::PublishMode::Managed) {
      // Token guessing: every attempt counts before the comparison, so a
      // locked-out guesser learns nothing from a right guess (ApiOptions).
      if (!in.authorization.empty()) {
        if (auto wait = auth_limit_->take(in.client, start)) {
          Reply r = text_reply(Status::kTooManyRequests,
                               "too many operator token attempts from your address; "
                               "try again later");
          r.headers.emplace_back("Retry-After", std::to_string(*wait));
          if (Pages::is_web_path(in.path)) {
            r = pages_.html_error(r);
          }
          metrics_->request(Metrics::kAdd, r.status, seconds_now() - start);
          return r;
        }
      }
      copy = in;
      copy->operator_upload = is_operator(in);
      if (!copy->operator_upload && managed_uploads_need_token_) {
        Reply r = text_reply(Status::kUnauthorized,
                             "this directory takes uploads from its operators only: "
                             "send an operator token (Authorization: Bearer ...)");
        r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"keydir\"");
        if (Pages::is_web_path(in.path)) {
          r = pages_.uploads_need_token();  // who runs it and whom to ask, as a page
        }
        metrics_->request(Metrics::kAdd, r.status, seconds_now() - start);
        return r;
      }
    }
    const HttpRequest& request = copy ? *copy : in;
    // The upload this request let in (upload_limited: every anonymous
    // upload, VKS request-verify too) ends with its answer, or with an
    // exception.
    struct EndUpload {
      const Api& api;
      const HttpRequest& request;
      bool on;
      ~EndUpload() {
        if (on) {
          api.end_upload(request);
        }
      }
    } end_upload_guard{*this, request, request.method == "POST"};
    Reply r = route(request, which);
    if (upload && !request.operator_upload && r.upload_certificates > 1) {
      // The upload limit counts keys: the entry took one token
      // (upload_limited), each further key of the upload is charged now,
      // into debt if need be, so that the next upload from this address
      // waits until it is paid back.
      add_limit_->charge(request.client, static_cast<double>(r.upload_certificates - 1),
                         seconds_now());
    }
    metrics_->request(which, r.status, seconds_now() - start);
    if (request.method == "HEAD") {
      r.headers.emplace_back("Content-Length", std::to_string(r.body.size()));
      r.body.clear();
    }
    return r;
  } catch (...) {
    // The exception barrier: never e.what() to a client (STYLE §6.8).
    metrics_->request(which, Status::kInternalError, seconds_now() - start);
    return text_reply(Status::kInternalError, "internal error");
  }
}

Reply Api::cached(const HttpRequest& request, bool by_host,
                  const std::function<Reply()>& make) const {
  if (request.method != "GET" && request.method != "HEAD") {
    return make();
  }
  if (wants_log_proof(request)) {
    // The whole published form, and proofs against the checkpoint of now.
    Reply r = make();
    log_api_.attach_proofs(r);
    return r;
  }
  if (!cache_) {
    return make();
  }
  // The generation before the store is read (AnswerCache): an answer is
  // never tagged newer than the data it was made from.
  const std::uint64_t generation = directory_.generation();
  const std::uint64_t now = directory_.now();
  const std::string key =
      AnswerCache::key_of(request.path, by_host ? request.host : "", request.query);
  if (auto hit = cache_->get(key, generation, now)) {
    return std::move(*hit);
  }
  Reply r = make();
  if (r.status == Status::kOk || r.status == Status::kNotFound || r.status == Status::kGone) {
    cache_->put(key, generation, now, r);
  }
  return r;
}

Reply Api::route(const HttpRequest& request, Metrics::Route& which) const {
  const bool get = request.method == "GET" || request.method == "HEAD";
  if (request.path == "/pks/lookup") {
    auto op = request.param("op").value_or("get");
    which = op == "get"                         ? Metrics::kGet
            : (op == "index" || op == "vindex") ? Metrics::kIndex
                                                : Metrics::kOtherLookup;
    if (!get) {
      return method_not_allowed("GET, HEAD");
    }
    if (op == "stats") {  // uptime and rates: made fresh every time
      return hkp_.lookup(request);
    }
    return cached(request, false, [&] { return hkp_.lookup(request); });
  }
  if (request.path == "/pks/hashquery") {
    which = Metrics::kOtherLookup;
    if (request.method != "POST") {
      return method_not_allowed("POST");
    }
    return hkp_.hashquery(request);
  }
  if (request.path == "/pks/add") {
    which = Metrics::kAdd;
    if (request.method != "POST") {
      return method_not_allowed("POST");
    }
    if (auto limited = upload_limited(request)) {
      return *limited;
    }
    return hkp_.add(request);
  }
  if (request.path.starts_with("/pks/v2/")) {
    std::string_view rest = std::string_view(request.path).substr(8);
    which = rest == "certs" ? Metrics::kAdd : Metrics::kOtherLookup;
    if (rest == "certs" && request.method == "POST") {
      if (auto limited = upload_limited(request)) {
        return *limited;
      }
    }
    return cached(request, false, [&] { return hkp_v2_.handle(request, rest); });
  }
  if (request.path.starts_with("/.well-known/openpgpkey/")) {
    which = Metrics::kWkd;
    return cached(request, true, [&] { return wkd_.handle(request); });
  }
  if (request.path.starts_with("/vks/v1/")) {
    std::string_view rest = std::string_view(request.path).substr(8);
    which = request.method == "POST" ? Metrics::kAdd : Metrics::kVks;
    if ((rest == "upload" || rest == "request-verify") && request.method == "POST") {
      if (auto limited = upload_limited(request)) {
        Reply r = *limited;
        r.content_type = "application/json";
        r.body = R"({"error": "too many uploads from your address; try again later"})";
        return r;
      }
    }
    return cached(request, false, [&] { return vks_.handle(request, rest); });
  }
  if (request.path.starts_with("/log/")) {
    return log_api_.handle(request, std::string_view(request.path).substr(5));
  }
  if (request.path == "/upload" && request.method == "POST") {
    which = Metrics::kAdd;
    if (auto limited = upload_limited(request)) {
      return pages_.html_error(*limited);
    }
  }
  if (auto page = pages_.handle(request)) {
    if (which == Metrics::kOther) {
      which = Metrics::kPages;
    }
    return *page;
  }
  if (request.path == "/healthz") {
    which = Metrics::kHealth;
    return get ? text_reply(Status::kOk, "ok") : method_not_allowed("GET, HEAD");
  }
  if (request.path == "/metrics") {
    which = Metrics::kMetrics;
    // For the host and metrics-allow only, by the whole client address: a
    // request through a trusted proxy (nginx on this host, whose own
    // address is loopback) is judged by the address the proxy forwarded.
    if (!AddressList::is_loopback(request.address) && !metrics_allow_.contains(request.address)) {
      return text_reply(Status::kNotFound, "not found");
    }
    if (!get) {
      return method_not_allowed("GET, HEAD");
    }
    auto st = directory_.stats();
    Reply r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = metrics_->render(st ? st->certificates : 0);
    if (cache_) {
      r.body += cache_->render_metrics();
    }
    if (extra_metrics_) {
      r.body += extra_metrics_();
    }
    return r;
  }
  if (Pages::is_web_path(request.path)) {  // a page: its error is a page too
    return pages_.html_error(text_reply(Status::kNotFound, "There is no page at this address."));
  }
  return text_reply(Status::kNotFound, "not found");
}

}  // namespace keydir::api
