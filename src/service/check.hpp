// `keydird check`: the store's own consistency check (every index entry
// points to a stored certificate that lists it; every certificate is fully
// indexed) plus, with `deep`, a re-verification of every stored certificate
// with the core: it parses, verifies, has the stored digest and the index the
// service would compute today, on `threads` workers (0: one per core).
#pragma once

#include "service/key_directory.hpp"

namespace keydir::service {

struct CheckReport {
  storage::ConsistencyReport store;
  std::uint64_t verified = 0;
  std::vector<std::string> problems;  // deep-check problems, bounded
  std::uint64_t problem_count = 0;
  [[nodiscard]] bool ok() const { return store.problem_count == 0 && problem_count == 0; }
};

Result<CheckReport> check(const KeyDirectory& directory, bool deep, unsigned threads = 0);

}  // namespace keydir::service
