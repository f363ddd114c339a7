// The Web Key Directory (draft-koch-openpgp-webkey-service): answers by
// address hash, and the static tree for an organization's own web server.
#pragma once

#include <string>
#include <string_view>

#include "service/key_directory.hpp"

namespace keydir::service {

// Certificates holding a current (not revoked) user ID whose address has the
// WKD hash and domain of `hash`, each reduced to the user IDs of that address
// (subkeys, revocations and direct-key signatures kept), binary, back to
// back. Empty when there is none. At most `limit` certificates. `whole`:
// each in its whole published form instead (an answer with the transparency
// log's proofs, whose digests cover that form).
Result<Bytes> wkd_lookup(const KeyDirectory& directory, const openpgp::WkdHash& hash,
                         std::size_t limit, bool whole = false);

struct WkdExportSummary {
  std::uint64_t addresses = 0;     // hu/ files written (per layout)
  std::uint64_t certificates = 0;  // certificates in them
};

// `keydird wkd-export`: writes, under `out_dir` (created; must be empty or
// absent), both layouts of the draft:
//   .well-known/openpgpkey/<domain>/hu/<hash> and …/<domain>/policy  (advanced
//     method: the document root of openpgpkey.<domain>)
//   .well-known/openpgpkey/hu/<hash> and …/policy                    (direct
//     method: the document root of <domain>)
// Each hu/ file is what the live WKD answers for its hash (wkd_lookup with
// `limit`, the server's --max-results), in every mode: in Verified and
// Managed mode only published addresses are written.
// Errors: BadQuery (domain), StorageIo.
Result<WkdExportSummary> wkd_export(const KeyDirectory& directory, std::string_view domain,
                                    const std::string& out_dir, std::string_view policy,
                                    std::size_t limit = 100);

// The policy file served when the operator sets none.
std::string default_wkd_policy(std::string_view domain);

}  // namespace keydir::service
