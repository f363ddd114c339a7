#include "api/http/upload_token.hpp"

#include <algorithm>

#include "openpgp/crypto/primitives.hpp"

namespace keydir::api {

namespace {

// Format 1 named the key only; its tokens are refused (they would cover
// every address of the key).
constexpr std::uint8_t kTokenFormat = 2;
constexpr std::size_t kMacBytes = 16;
constexpr std::size_t kDigestBytes = 16;

Bytes hmac(std::string_view key, ByteView data) {
  return openpgp::crypto::hmac_sha256(as_bytes(key), data);
}

Bytes address_digest(std::string_view address) {
  Bytes d = openpgp::crypto::sha256(as_bytes(address));
  d.resize(kDigestBytes);
  return d;
}

}  // namespace

UploadSession UploadSession::of(const openpgp::Fingerprint& fpr,
                                const std::vector<std::string>& addresses) {
  UploadSession s{fpr, {}};
  for (const auto& a : addresses) {
    if (s.address_digests.size() == kMaxAddresses) {
      break;
    }
    s.address_digests.push_back(address_digest(a));
  }
  return s;
}

bool UploadSession::covers(std::string_view address) const {
  const Bytes d = address_digest(address);
  return std::find(address_digests.begin(), address_digests.end(), d) != address_digests.end();
}

// format, version, fingerprint, expiry (8, big-endian), count, digests, MAC.
std::string UploadTokens::make(const UploadSession& session) const {
  const auto& fpr = session.fingerprint;
  const bool v6 = fpr.version() == openpgp::Fingerprint::Version::V6;
  const std::size_t n = std::min(session.address_digests.size(), UploadSession::kMaxAddresses);
  Bytes t;
  t.reserve(2 + 32 + 8 + 1 + n * kDigestBytes + kMacBytes);
  t.push_back(kTokenFormat);
  t.push_back(v6 ? 6 : 4);
  append(t, fpr.bytes());
  append_be(t, now_() + lifetime_, 8);
  t.push_back(static_cast<std::uint8_t>(n));
  for (std::size_t i = 0; i < n; ++i) {
    append(t, session.address_digests[i]);
  }
  Bytes mac = hmac(secret_, t);
  t.insert(t.end(), mac.begin(), mac.begin() + kMacBytes);
  return to_hex(t);
}

Result<UploadSession> UploadTokens::check(std::string_view token) const {
  auto bad = [] { return fail(ErrorCode::BadQuery, "invalid upload token"); };
  if (token.size() >
      2 * (2 + 32 + 8 + 1 + UploadSession::kMaxAddresses * kDigestBytes + kMacBytes)) {
    return bad();
  }
  auto raw = from_hex(token);
  if (!raw || raw->size() < 2 + 20 + 8 + 1 + kMacBytes || (*raw)[0] != kTokenFormat) {
    return bad();
  }
  const std::size_t fpr_len = (*raw)[1] == 6 ? 32 : (*raw)[1] == 4 ? 20 : 0;
  if (fpr_len == 0 || raw->size() < 2 + fpr_len + 8 + 1 + kMacBytes) {
    return bad();
  }
  const std::size_t n = (*raw)[2 + fpr_len + 8];
  const std::size_t body = 2 + fpr_len + 8 + 1 + n * kDigestBytes;
  if (n > UploadSession::kMaxAddresses || raw->size() != body + kMacBytes) {
    return bad();
  }
  Bytes mac = hmac(secret_, ByteView(raw->data(), body));
  if (mac.size() < kMacBytes ||
      !openpgp::crypto::equal_constant_time(ByteView(mac.data(), kMacBytes),
                                            ByteView(raw->data() + body, kMacBytes))) {
    return bad();
  }
  std::uint64_t expires = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    expires = expires << 8 | (*raw)[2 + fpr_len + i];
  }
  if (expires < now_()) {
    return fail(ErrorCode::BadQuery, "upload session expired; upload the key again");
  }
  UploadSession s{openpgp::Fingerprint((*raw)[1] == 6 ? openpgp::Fingerprint::Version::V6
                                                      : openpgp::Fingerprint::Version::V4,
                                       ByteView(raw->data() + 2, fpr_len)),
                  {}};
  for (std::size_t i = 0; i < n; ++i) {
    const auto* d = raw->data() + 2 + fpr_len + 8 + 1 + i * kDigestBytes;
    s.address_digests.emplace_back(d, d + kDigestBytes);
  }
  return s;
}

}  // namespace keydir::api
