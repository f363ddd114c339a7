// The body of the fuzz_certificate target, shared with the gtest that replays
// tests/fuzz/regressions/certificate in every CI run (built with g++ there).
//
// Armor + packet parsing + validation + canonical serialization + merge on arbitrary
// bytes. Errors are expected results; anything else (a crash, a sanitizer
// report, a broken invariant) aborts.
#pragma once

#include <cstdio>
#include <cstdlib>

#include "openpgp/armor.hpp"
#include "openpgp/canonical.hpp"
#include "openpgp/verify.hpp"

namespace keydir::fuzz {

inline void invariant(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
    std::abort();
  }
}

inline void fuzz_certificate(const std::uint8_t* data, std::size_t size) {
  using namespace keydir::openpgp;
  constexpr std::uint64_t kNow = 1893456000;  // fixed: runs must reproduce
  Policy policy;
  auto result = verify_input(ByteView(data, size), policy, kNow, 1 << 20, 1000);
  if (!result) {
    invariant(!result.error().detail.empty(), "an error without a reason");
    return;
  }
  for (const auto& v : *result) {
    invariant(v.accepted() != v.refusal.has_value(), "accepted and refused at once");
    if (!v.accepted()) {
      continue;
    }
    // What we would store must parse again, as one certificate, and survive
    // an armor round trip.
    Bytes stored = v.cert->to_bytes();
    auto again = parse_certificates(stored);
    invariant(again.has_value() && again->size() == 1 && again->front().cert.has_value(),
              "stored form does not parse back");
    invariant(serialize(*again->front().cert) == stored, "stored form is not canonical");
    // Merge (what a re-upload does) of a certificate with itself changes nothing.
    auto self = merge(*again->front().cert, *again->front().cert);
    invariant(self.has_value() && serialize(*self) == stored, "merge with itself changed it");
    auto armored = dearmor(armor(stored), stored.size());
    invariant(armored.has_value() && (*armored)[0].data == stored, "armor round trip");
  }
}

}  // namespace keydir::fuzz
