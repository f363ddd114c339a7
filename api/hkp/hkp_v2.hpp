// HKPv2 (draft-ietf-openpgp-hkp-00 §"v2", as Hockeypuck serves it):
//   GET  /pks/v2/certs/by-vfingerprint/<version octet><fingerprint>   (also /04/<fp>)
//   GET  /pks/v2/certs/by-keyid/<16 hex>          (never certificates above v4)
//   GET  /pks/v2/certs/by-identity/<user ID>      (exact, case-insensitive)
//   GET  /pks/v2/index/<fingerprint|key ID|user ID>  (JSON, RFC 3339 times)
//   POST /pks/v2/certs                            (binary body, or multipart keytext)
//   OPTIONS on any of them: feature detection.
// Certificates are answered in binary, application/pgp-keys;armor=no.
#pragma once

#include "api/http/message.hpp"
#include "api/http/metrics.hpp"
#include "service/key_directory.hpp"

namespace keydir::api {

class HkpV2 {
 public:
  HkpV2(service::KeyDirectory& directory, std::size_t max_results, Metrics* metrics);
  // `rest` is the path after "/pks/v2/".
  Reply handle(const HttpRequest& request, std::string_view rest) const;

 private:
  Reply certs(const storage::Query& q, bool allow_v6, const std::string* exact_uid,
              bool whole = false) const;
  Reply index(std::string_view id) const;
  Reply upload(const HttpRequest& request) const;

  service::KeyDirectory& directory_;
  std::size_t max_results_;
  Metrics* metrics_;
};

}  // namespace keydir::api
