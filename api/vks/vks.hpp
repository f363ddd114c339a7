// The VKS API of keys.openpgp.org (Hagrid), so that its clients work unchanged:
//   GET  /vks/v1/by-fingerprint/<FPR>   40 or 64 hex digits, no 0x
//   GET  /vks/v1/by-keyid/<KEYID>       16 hex digits
//   GET  /vks/v1/by-email/<address>     ('@' may come as %40)
//   POST /vks/v1/upload                 {"keytext": "<armored key>"}
//   POST /vks/v1/request-verify         {"token": "...", "addresses": [...]}
// Lookups answer armored keys (application/pgp-keys) or a plain-text error;
// the POST endpoints answer JSON, errors as {"error": "..."} — as Hagrid does.
// Address states: "published", "pending" (request-verify has just mailed a
// link), "unpublished", "revoked". In open mode every address reads
// "published" (or "revoked"); in verified and managed mode request-verify
// mails the confirmation links. Both answers speak only of the addresses the
// upload held (its token covers those and no others): a key re-uploaded by
// someone who fetched it by fingerprint, without its unpublished user IDs,
// reveals nothing of them.
#pragma once

#include <string>

#include "api/hkp/hkp.hpp"
#include "api/http/message.hpp"
#include "api/http/upload_token.hpp"
#include "service/key_directory.hpp"
#include "service/verification.hpp"

namespace keydir::api {

class Vks {
 public:
  // `verification`: null in open mode.
  Vks(service::KeyDirectory& directory, const Hkp& hkp, const UploadTokens& tokens,
      service::Verification* verification);
  // `rest` is the path after "/vks/v1/".
  [[nodiscard]] Reply handle(const HttpRequest& request, std::string_view rest) const;

 private:
  [[nodiscard]] Reply upload(const HttpRequest& request) const;
  [[nodiscard]] Reply request_verify(const HttpRequest& request) const;
  // {"key_fpr", "status", "token"}: the states of `addresses` (which the
  // session's upload held) on the stored key, `mailed` ones as "pending",
  // and a token for the same session. `publication` (an upload's answer):
  // addresses no confirmation mail can publish (outside the managed domains;
  // managed mode by operator token) leave "status", where "unpublished"
  // would invite a request-verify; a non-standard "reasons" member says why
  // each withheld address is not published.
  [[nodiscard]] Reply key_status(
      const UploadSession& session, const std::vector<std::string>& addresses,
      const std::vector<std::string>& mailed,
      const std::vector<service::AddressReport>* publication = nullptr) const;

  service::KeyDirectory& directory_;
  const Hkp& hkp_;
  const UploadTokens& tokens_;
  // Verification is live only while the directory's mode verifies
  // addresses (the mode can change while serving: keydird admin set-mode).
  [[nodiscard]] service::Verification* verifier() const {
    return directory_.verifies_addresses() ? verification_ : nullptr;
  }
  service::Verification* verification_;
};

}  // namespace keydir::api
