// Upload tokens: which key an upload session is about, signed (HMAC-SHA-256
// with the server's secret) and dated, so that a later request-verify or the
// upload page's "send confirmation" step cannot name another key. Stateless.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/result.hpp"
#include "openpgp/identifiers.hpp"

namespace keydir::api {

class UploadTokens {
 public:
  UploadTokens(std::string secret, std::uint64_t lifetime, std::function<std::uint64_t()> now)
      : secret_(std::move(secret)), lifetime_(lifetime), now_(std::move(now)) {}
  [[nodiscard]] std::string make(const openpgp::Fingerprint& fpr) const;
  // Errors: BadQuery (malformed, forged, expired).
  [[nodiscard]] Result<openpgp::Fingerprint> check(std::string_view token) const;

 private:
  std::string secret_;
  std::uint64_t lifetime_;
  std::function<std::uint64_t()> now_;
};

}  // namespace keydir::api
