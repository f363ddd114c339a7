#include "api/http/upload_token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace keydir::api {

namespace {

constexpr std::uint8_t kTokenFormat = 1;
constexpr std::size_t kMacBytes = 16;

Bytes hmac(std::string_view key, ByteView data) {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
       out.data(), &len);
  out.resize(len);
  return out;
}

}  // namespace

std::string UploadTokens::make(const openpgp::Fingerprint& fpr) const {
  const bool v6 = fpr.version() == openpgp::Fingerprint::Version::V6;
  Bytes t;
  t.reserve(2 + 32 + 8 + kMacBytes);
  t.push_back(kTokenFormat);
  t.push_back(v6 ? 6 : 4);
  append(t, fpr.bytes());
  append_be(t, now_() + lifetime_, 8);
  Bytes mac = hmac(secret_, t);
  t.insert(t.end(), mac.begin(), mac.begin() + kMacBytes);
  return to_hex(t);
}

Result<openpgp::Fingerprint> UploadTokens::check(std::string_view token) const {
  auto bad = [] { return fail(ErrorCode::BadQuery, "invalid upload token"); };
  auto raw = from_hex(token);
  if (!raw || raw->size() < 2 + 20 + 8 + kMacBytes || (*raw)[0] != kTokenFormat) {
    return bad();
  }
  const std::size_t fpr_len = (*raw)[1] == 6 ? 32 : (*raw)[1] == 4 ? 20 : 0;
  if (fpr_len == 0 || raw->size() != 2 + fpr_len + 8 + kMacBytes) {
    return bad();
  }
  const std::size_t body = 2 + fpr_len + 8;
  Bytes mac = hmac(secret_, ByteView(raw->data(), body));
  if (CRYPTO_memcmp(mac.data(), raw->data() + body, kMacBytes) != 0) {
    return bad();
  }
  std::uint64_t expires = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    expires = expires << 8 | (*raw)[2 + fpr_len + i];
  }
  if (expires < now_()) {
    return fail(ErrorCode::BadQuery, "upload session expired; upload the key again");
  }
  return openpgp::Fingerprint((*raw)[1] == 6 ? openpgp::Fingerprint::Version::V6
                                             : openpgp::Fingerprint::Version::V4,
                              ByteView(raw->data() + 2, fpr_len));
}

}  // namespace keydir::api
