// Upload tokens: which key an upload session is about and which addresses
// that upload held, signed (HMAC-SHA-256 with the server's secret) and dated,
// so that a later request-verify or the upload page's "send confirmation"
// step can name neither another key nor an address of this key that the
// upload did not contain (an attacker who re-uploads a public key fetched
// by fingerprint must not reach the addresses its owner has not published).
// Stateless.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "openpgp/identifiers.hpp"

namespace keydir::api {

// What an upload token stands for.
struct UploadSession {
  openpgp::Fingerprint fingerprint;
  // A 16-octet SHA-256 prefix of each address the upload held.
  std::vector<Bytes> address_digests;

  // The session of an upload of `fpr` that held `addresses` (lower case);
  // at most kMaxAddresses of them are covered.
  static UploadSession of(const openpgp::Fingerprint& fpr,
                          const std::vector<std::string>& addresses);
  [[nodiscard]] bool covers(std::string_view address) const;

  // A certificate keeps at most limits::kMaxUserIdsPerCert user IDs.
  static constexpr std::size_t kMaxAddresses = 64;
};

class UploadTokens {
 public:
  UploadTokens(std::string secret, std::uint64_t lifetime, std::function<std::uint64_t()> now)
      : secret_(std::move(secret)), lifetime_(lifetime), now_(std::move(now)) {}
  [[nodiscard]] std::string make(const UploadSession& session) const;
  // Errors: BadQuery (malformed, forged, expired, or of the earlier format
  // that named the key only).
  [[nodiscard]] Result<UploadSession> check(std::string_view token) const;

 private:
  std::string secret_;
  std::uint64_t lifetime_;
  std::function<std::uint64_t()> now_;
};

}  // namespace keydir::api
