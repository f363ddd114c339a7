// The VKS API of keys.openpgp.org (Hagrid), so that its clients work unchanged:
//   GET  /vks/v1/by-fingerprint/<FPR>   40 or 64 hex digits, no 0x
//   GET  /vks/v1/by-keyid/<KEYID>       16 hex digits
//   GET  /vks/v1/by-email/<address>     ('@' may come as %40)
//   POST /vks/v1/upload                 {"keytext": "<armored key>"}
//   POST /vks/v1/request-verify         {"token": "...", "addresses": [...]}
// Lookups answer armored keys (application/pgp-keys) or a plain-text error;
// the POST endpoints answer JSON, errors as {"error": "..."} — as Hagrid does.
// Until e-mail verification exists, every address of a key reads "published"
// (open mode) and "revoked" for a revoked user ID.
#pragma once

#include <string>

#include "api/hkp/hkp.hpp"
#include "api/http/message.hpp"
#include "service/key_directory.hpp"

namespace keydir::api {

struct VksOptions {
  std::string token_secret;            // HMAC key of upload tokens (random, kept by keydird)
  std::uint64_t token_lifetime = 3600;  // seconds
};

class Vks {
 public:
  Vks(service::KeyDirectory& directory, const Hkp& hkp, VksOptions options);
  // `rest` is the path after "/vks/v1/".
  [[nodiscard]] Reply handle(const HttpRequest& request, std::string_view rest) const;

  // Upload tokens: which key an upload session is about, signed and dated.
  [[nodiscard]] std::string make_token(const openpgp::Fingerprint& fpr) const;
  [[nodiscard]] Result<openpgp::Fingerprint> check_token(std::string_view token) const;

 private:
  [[nodiscard]] Reply upload(const HttpRequest& request) const;
  [[nodiscard]] Reply request_verify(const HttpRequest& request) const;
  // {"key_fpr", "status", "token"} for the stored key `fpr`; `only`: these addresses.
  [[nodiscard]] Reply key_status(const openpgp::Fingerprint& fpr,
                                 const std::vector<std::string>* only) const;

  service::KeyDirectory& directory_;
  const Hkp& hkp_;
  VksOptions options_;
};

}  // namespace keydir::api
