#include "api/hkp/hkp_v2.hpp"

#include <nlohmann/json.hpp>

#include "api/hkp/hkp.hpp"
#include "common/limits.hpp"
#include "common/time_format.hpp"
#include "openpgp/certificate.hpp"
#include "openpgp/verify.hpp"

namespace keydir::api {

using openpgp::Fingerprint;
using storage::Query;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

Reply json_reply(int status, const nlohmann::json& j) {
  Reply r;
  r.status = status;
  r.content_type = "application/json";
  r.body = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  return r;
}

// Identity → query: an address (bare or <addr>) or the words of a user ID.
Result<Query> identity_query(std::string_view id) {
  if (id.empty() || id.size() > limits::kMaxQueryBytes) {
    return fail(ErrorCode::BadQuery, "identity missing or too long");
  }
  if (auto e = openpgp::Email::parse(id); e && id.find(' ') == std::string_view::npos) {
    return Query{Query::ByEmail{e->address()}};
  }
  auto words = service::user_id_words(id);
  if (words.empty()) {
    return fail(ErrorCode::BadQuery, "identity has no searchable words");
  }
  return Query{Query::ByWords{std::move(words)}};
}

}  // namespace

HkpV2::HkpV2(service::KeyDirectory& directory, std::size_t max_results, Metrics* metrics)
    : directory_(directory), max_results_(max_results), metrics_(metrics) {}

Reply HkpV2::handle(const HttpRequest& request, std::string_view rest) const {
  const bool get = request.method == "GET" || request.method == "HEAD";
  if (request.method == "OPTIONS") {
    Reply r = text_reply(Status::kNoContent, "");
    r.body.clear();
    r.headers.emplace_back("Allow", rest == "certs" ? "POST, OPTIONS" : "GET, HEAD, OPTIONS");
    r.headers.emplace_back("Access-Control-Allow-Origin", "*");
    return r;
  }
  if (rest == "certs") {
    if (request.method != "POST") {
      return method_not_allowed("POST, OPTIONS");
    }
    return upload(request);
  }
  if (!get) {
    return method_not_allowed("GET, HEAD, OPTIONS");
  }
  auto decoded = form_decode(rest);
  if (!decoded) {
    return error_reply(decoded.error());
  }
  std::string_view path = *decoded;
  auto take = [&](std::string_view prefix) -> std::optional<std::string_view> {
    if (path.starts_with(prefix)) {
      return path.substr(prefix.size());
    }
    return std::nullopt;
  };
  if (auto v = take("certs/by-vfingerprint/")) {
    std::string hex(*v);
    if (hex.size() > 3 && hex[2] == '/') {
      hex.erase(2, 1);  // Hockeypuck's /04/<fp>
    }
    if (hex.size() < 2) {
      return text_reply(Status::kBadRequest, "expected a version octet and a fingerprint");
    }
    auto fpr = Fingerprint::from_hex(hex.substr(2));
    int version = hex.substr(0, 2) == "04" ? 4 : hex.substr(0, 2) == "06" ? 6 : 0;
    if (!fpr || static_cast<int>(fpr->version()) != version) {
      return text_reply(Status::kBadRequest, "expected 04 + 40 hex digits or 06 + 64 hex digits");
    }
    return certs(Query{Query::ByFingerprint{*fpr}}, true, nullptr, wants_log_proof(request));
  }
  if (auto v = take("certs/by-keyid/")) {
    auto id = openpgp::KeyId::from_hex(*v);
    if (!id) {
      return error_reply(id.error());
    }
    return certs(Query{Query::ByKeyId{*id}}, false, nullptr, wants_log_proof(request));
  }
  if (auto v = take("certs/by-identity/")) {
    auto q = identity_query(*v);
    if (!q) {
      return error_reply(q.error());
    }
    std::string exact(*v);
    return certs(*q, false, &exact, wants_log_proof(request));
  }
  if (auto v = take("index/")) {
    return index(*v);
  }
  return text_reply(Status::kNotFound, "not found");
}

Reply HkpV2::certs(const Query& q, bool allow_v6, const std::string* exact_uid, bool whole) const {
  auto found =
      whole ? directory_.lookup_published(q, max_results_) : directory_.lookup(q, max_results_);
  if (!found) {
    return error_reply(found.error());
  }
  Bytes all;
  for (const auto& rec : *found) {
    if (!allow_v6 && rec.fingerprint.version() != Fingerprint::Version::V4) {
      continue;
    }
    if (exact_uid && exact_uid->find('@') == std::string::npos) {
      // by-identity with a full user ID: exact, case-insensitive.
      auto parsed = openpgp::parse_certificates(rec.cert);
      bool match = false;
      if (parsed && !parsed->empty() && parsed->front().cert) {
        for (const auto& u : parsed->front().cert->user_ids) {
          match |= iequals(as_chars(u.body), *exact_uid);
        }
      }
      if (!match) {
        continue;
      }
    }
    append(all, rec.cert);
  }
  if (all.empty()) {
    return text_reply(Status::kNotFound, "no certificate found");
  }
  Reply r;
  r.content_type = "application/pgp-keys;armor=no";
  r.body.assign(reinterpret_cast<const char*>(all.data()), all.size());
  r.headers.emplace_back("Access-Control-Allow-Origin", "*");
  r.headers.emplace_back("Cache-Control", "public, max-age=300");
  return r;
}

Reply HkpV2::index(std::string_view id) const {
  Result<Query> q = fail(ErrorCode::BadQuery, "");
  if (auto s = parse_search(id, false)) {
    q = s->query;
  } else {
    q = identity_query(id);
  }
  if (!q) {
    return error_reply(q.error());
  }
  auto found = directory_.lookup(*q, max_results_);
  if (!found) {
    return error_reply(found.error());
  }
  nlohmann::json list = nlohmann::json::array();
  for (const auto& rec : *found) {
    auto summary = directory_.summarize(rec);
    if (!summary) {
      continue;
    }
    const auto& vc = *summary;
    const auto& c = vc.cert();
    nlohmann::json uids = nlohmann::json::array();
    for (std::size_t i = 0; i < c.user_ids.size(); ++i) {
      uids.push_back({{"uid", std::string(as_chars(c.user_ids[i].body))},
                      {"revoked", vc.user_id_states()[i].revocation.has_value()}});
    }
    nlohmann::json subkeys = nlohmann::json::array();
    for (const auto& s : c.subkeys) {
      subkeys.push_back({{"fingerprint", s.key.fingerprint.to_hex()},
                         {"version", s.key.version},
                         {"algorithm", static_cast<int>(s.key.algorithm)},
                         {"creation", utc_timestamp(s.key.created)}});
    }
    auto exp = vc.primary_state().expires;
    list.push_back(
        {{"fingerprint", c.primary.fingerprint.to_hex()},
         {"version", c.primary.version},
         {"algorithm", static_cast<int>(c.primary.algorithm)},
         {"bits", c.primary.bits},
         {"creation", utc_timestamp(c.primary.created)},
         {"expiration", exp ? nlohmann::json(utc_timestamp(*exp)) : nlohmann::json(nullptr)},
         {"revoked", vc.revoked()},
         {"userIDs", uids},
         {"subkeys", subkeys}});
  }
  if (list.empty()) {
    return text_reply(Status::kNotFound, "no certificate found");
  }
  Reply r = json_reply(Status::kOk, list);
  r.headers.emplace_back("Access-Control-Allow-Origin", "*");
  return r;
}

Reply HkpV2::upload(const HttpRequest& request) const {
  std::string body = request.body;
  if (request.content_type.starts_with("multipart/form-data")) {
    auto k = multipart_field(request.content_type, request.body, "keytext");
    if (!k) {
      return text_reply(Status::kBadRequest, "no keytext part in the form");
    }
    body = std::move(*k);
  }
  if (body.size() > limits::kMaxArmoredUploadBytes) {
    return text_reply(Status::kPayloadTooLarge, "upload larger than the limit");
  }
  auto report = directory_.upload(as_bytes(body), request.operator_upload);
  if (!report) {
    return json_reply(http_status(report.error().code, Surface::HkpV2),
                      {{"inserted", nlohmann::json::array()},
                       {"updated", nlohmann::json::array()},
                       {"ignored", nlohmann::json::array()},
                       {"invalid", {{{"error", public_reason(report.error())}}}}});
  }
  nlohmann::json j = {{"inserted", nlohmann::json::array()},
                      {"updated", nlohmann::json::array()},
                      {"ignored", nlohmann::json::array()},
                      {"invalid", nlohmann::json::array()}};
  for (const auto& s : report->stored) {
    const char* key = s.outcome == service::Outcome::New       ? "inserted"
                      : s.outcome == service::Outcome::Updated ? "updated"
                                                               : "ignored";
    j[key].push_back(s.fingerprint.to_hex());
    if (metrics_) {
      metrics_->upload(service::outcome_name(s.outcome));
    }
  }
  for (const auto& r : report->refused) {
    j["invalid"].push_back({{"fingerprint", r.fingerprint ? nlohmann::json(r.fingerprint->to_hex())
                                                          : nlohmann::json(nullptr)},
                            {"error", public_reason(r.error)}});
    if (metrics_) {
      metrics_->upload("refused");
    }
  }
  int status = report->stored.empty() ? Status::kUnprocessable : Status::kOk;
  for (const auto& r : report->refused) {
    if (report->stored.empty() &&
        http_status(r.error.code, Surface::HkpV2) == Status::kServiceUnavailable) {
      status = Status::kServiceUnavailable;  // the server's failure, not the key's
    }
  }
  Reply r = json_reply(status, j);
  // The upload limit counts keys (Api::dispatch charges the further ones).
  r.upload_certificates = report->stored.size() + report->refused.size();
  return r;
}

}  // namespace keydir::api
