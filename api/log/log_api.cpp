#include "api/log/log_api.hpp"

#include <charconv>

#include <nlohmann/json.hpp>

#include "openpgp/armor.hpp"
#include "openpgp/certificate.hpp"
#include "tlog/entry.hpp"

namespace keydir::api {

namespace {
// At most this many certificates get proofs in one answer (each costs about
// 1.5 KiB of headers at 10 million entries).
constexpr std::size_t kMaxProofs = 32;
constexpr std::size_t kMaxAnswerBytes = 8u << 20;

std::optional<std::uint64_t> decimal(std::optional<std::string_view> s) {
  if (!s || s->empty() || s->size() > 19 || (s->size() > 1 && (*s)[0] == '0')) {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc() || p != s->data() + s->size()) {
    return std::nullopt;
  }
  return v;
}

Reply json_reply(const nlohmann::json& j) {
  Reply r;
  r.content_type = "application/json";
  r.body = j.dump() + "\n";
  r.headers.emplace_back("Access-Control-Allow-Origin", "*");
  return r;
}

nlohmann::json hashes_json(const std::vector<tlog::Hash>& hashes) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& h : hashes) {
    out.push_back(tlog::hash_base64(h));
  }
  return out;
}
}  // namespace

Reply LogApi::handle(const HttpRequest& request, std::string_view rest) const {
  if (request.method != "GET" && request.method != "HEAD") {
    return method_not_allowed("GET, HEAD");
  }
  if (!log_) {
    return text_reply(Status::kNotFound, "this directory keeps no transparency log");
  }
  if (rest == "checkpoint") {
    auto c = log_->checkpoint();
    if (!c) {
      return error_reply(c.error());
    }
    Reply r = text_reply(Status::kOk, c->note);
    r.headers.emplace_back("Cache-Control", "no-cache");
    r.headers.emplace_back("Access-Control-Allow-Origin", "*");
    return r;
  }
  if (rest == "checkpoint/witnessed") {
    auto note = log_->witnessed();
    if (!note) {
      return error_reply(note.error());
    }
    Reply r = text_reply(Status::kOk, *note);
    r.headers.emplace_back("Cache-Control", "no-cache");
    r.headers.emplace_back("Access-Control-Allow-Origin", "*");
    return r;
  }
  if (rest == "vkey") {
    Reply r = text_reply(Status::kOk, log_->verifier().encode() + "\n");
    r.headers.emplace_back("Access-Control-Allow-Origin", "*");
    return r;
  }
  if (rest.starts_with("tile/")) {
    auto tile = tlog::parse_tile_path(rest);
    if (!tile) {
      return text_reply(Status::kNotFound, "not a tile path (C2SP tlog-tiles)");
    }
    auto bytes = log_->tile(*tile);
    if (!bytes) {
      return error_reply(bytes.error());
    }
    Reply r;
    r.content_type = "application/octet-stream";
    r.body.assign(reinterpret_cast<const char*>(bytes->data()), bytes->size());
    // A tile never changes: a full one is final, a partial one names its width.
    r.headers.emplace_back("Cache-Control", "public, max-age=31536000, immutable");
    r.headers.emplace_back("Access-Control-Allow-Origin", "*");
    return r;
  }
  if (rest == "proof/inclusion") {
    auto index = decimal(request.param("index"));
    auto size = decimal(request.param("size"));
    if (!index || !size) {
      return text_reply(Status::kBadRequest, "inclusion proofs take index=N&size=N (decimal)");
    }
    auto proof = log_->inclusion(*index, *size);
    if (!proof) {
      return error_reply(proof.error());
    }
    return json_reply({{"index", *index}, {"size", *size}, {"hashes", hashes_json(*proof)}});
  }
  if (rest == "proof/consistency") {
    auto old_size = decimal(request.param("old"));
    auto new_size = decimal(request.param("new"));
    if (!old_size || !new_size) {
      return text_reply(Status::kBadRequest, "consistency proofs take old=N&new=N (decimal)");
    }
    auto proof = log_->consistency(*old_size, *new_size);
    if (!proof) {
      return error_reply(proof.error());
    }
    return json_reply({{"old", *old_size}, {"new", *new_size}, {"hashes", hashes_json(*proof)}});
  }
  if (rest.starts_with("entry/")) {
    auto hex = rest.substr(6);
    std::optional<openpgp::Fingerprint> fpr;
    if ((hex.size() == 42 && hex.starts_with("04")) ||
        (hex.size() == 66 && hex.starts_with("06"))) {
      auto f = openpgp::Fingerprint::from_hex(hex.substr(2));
      if (f) {
        fpr = *f;
      }
    }
    if (!fpr) {
      return text_reply(
          Status::kBadRequest,
          "an entry is named by key version and fingerprint: 04<40 hex> or 06<64 hex>");
    }
    auto latest = log_->latest_entry(*fpr);
    if (!latest) {
      return error_reply(latest.error());
    }
    return json_reply({{"index", latest->first}, {"entry", base64_encode(latest->second)}});
  }
  return text_reply(Status::kNotFound, "not found");
}

void LogApi::attach_proofs(Reply& reply) const {
  if (!log_ || reply.status != Status::kOk || reply.body.size() > kMaxAnswerBytes) {
    return;
  }
  Bytes binary;
  const ByteView body = as_bytes(reply.body);
  if (openpgp::looks_armored(body)) {
    auto blocks = openpgp::dearmor(reply.body, kMaxAnswerBytes);
    if (!blocks) {
      return;
    }
    for (const auto& b : *blocks) {
      binary.insert(binary.end(), b.data.begin(), b.data.end());
    }
  } else {
    binary.assign(body.begin(), body.end());
  }
  auto parsed = openpgp::parse_certificates(binary);
  if (!parsed) {
    return;
  }
  std::vector<openpgp::Fingerprint> fprs;
  for (const auto& p : *parsed) {
    if (p.fingerprint) {
      fprs.push_back(*p.fingerprint);
    }
  }
  if (fprs.empty()) {
    return;
  }
  if (fprs.size() > kMaxProofs) {
    reply.headers.emplace_back(
        "Keydir-Log-Proof",
        "omitted: more than " + std::to_string(kMaxProofs) + " certificates in one answer");
    return;
  }
  auto proof = log_->prove(fprs);
  if (!proof) {
    reply.headers.emplace_back("Keydir-Log-Proof", "unavailable: " + public_reason(proof.error()));
    return;
  }
  std::string items;
  for (const auto& p : proof->proofs) {
    if (!items.empty()) {
      items += "; ";
    }
    items += std::to_string(p.index) + " " + base64_encode(p.entry);
    for (std::size_t i = 0; i < p.path.size(); ++i) {
      items += (i ? "," : " ") + tlog::hash_base64(p.path[i]);
    }
  }
  reply.headers.emplace_back("Keydir-Log-Checkpoint",
                             base64_encode(as_bytes(proof->checkpoint.note)));
  reply.headers.emplace_back("Keydir-Log-Inclusion", std::move(items));
  std::erase_if(reply.headers, [](const auto& h) { return h.first == "Cache-Control"; });
  reply.headers.emplace_back("Cache-Control", "no-store");
}

}  // namespace keydir::api
