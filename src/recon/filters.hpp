// The `filters` a reconciliation peer announces in its Config: a statement
// of the policy that shaped its key set. Conflux (Hockeypuck) compares the
// two strings exactly and refuses a peer whose string differs, because two
// servers that strip keys differently never agree on their key hashes; SKS
// announces "yminsky.dedup,yminsky.merge"; Hockeypuck 2.2 and later always
// add their own fixed list.
//
// keydird announces only terms whose meaning it knows and honours. Each
// term of the registry says how:
// - applied: keydird's key set obeys it as it stands;
// - stricter: keydird drops more than the term says (third-party
//   certifications: all those the owner did not attest, not only the
//   implausible ones), so some of the peer's keys are stored here in another
//   form; the session with that peer presents them under the peer's hash
//   once learnt (see server/recon_peer);
// - presented: keydird's store differs, and what it reconciles with that
//   peer is adjusted to the term: `versions:34` leaves v5 and v6 keys out of
//   the set shown to the peer; `drop:hardRevokedCruft` (a hard-revoked key
//   loses its user IDs on the peer, keydird keeps them) is handled like the
//   stricter case, the peer's form presented under the peer's hash.
// A term outside the registry is refused: announcing it would claim a
// policy nobody here checked.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace keydir::recon {

enum class FilterHonour { Applied, Stricter, Presented };

struct FilterTerm {
  std::string_view name;
  FilterHonour honour;
  std::string_view meaning;  // one line, for help and the docs
};

// Every term keydird may announce.
const std::vector<FilterTerm>& filter_registry();

struct Filters {
  std::vector<std::string> terms;  // sorted, no duplicates
  // The string announced: the terms joined by commas (conflux sorts them).
  [[nodiscard]] std::string announced() const;
  // versions:34: v5 and v6 keys stay out of what this peer is shown.
  [[nodiscard]] bool v3_v4_only() const;
};

// A profile name ("sks": yminsky.dedup,yminsky.merge, what SKS and earlier
// keydird announce; "hockeypuck-2.3": Hockeypuck 2.2 and 2.3's list) or a
// comma-separated list of registry terms.
// Errors: BadQuery naming the unknown term or profile.
Result<Filters> parse_filters(std::string_view spec);

// The profile names, for messages.
std::string filter_profiles();

}  // namespace keydir::recon
