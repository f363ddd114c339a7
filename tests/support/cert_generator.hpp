// Test-only: makes valid, distinct OpenPGP certificates quickly, for scale
// tests and benchmarks (the core itself never signs anything). Each
// certificate is an Ed25519 primary key with one or more user IDs and an
// encryption subkey: v4 (EdDSALegacy + ECDH Cv25519) or v6 (Ed25519 +
// X25519, with the direct-key signature RFC 9580 requires), all signatures
// made with Crypto++ over SHA-256. Deterministic for a given seed.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/bytes.hpp"

namespace keydir::test {

struct CertSpec {
  int version = 4;
  std::vector<std::string> user_ids;
  std::uint32_t created = 1700000000;
  bool encryption_subkey = true;
  // Use this Ed25519 seed for the primary key (random if absent).
  std::optional<std::array<std::uint8_t, 32>> primary_seed;
  // Add a signing subkey with this Ed25519 seed (with its back-signature).
  std::optional<std::array<std::uint8_t, 32>> signing_subkey_seed;
  // Subkeys bound by this certificate's primary key only (no back-signature):
  // an Ed25519 key from `seed` made at `created`, with key flags `flags`. With
  // the seed and time of another certificate's primary key it is that key
  // (same fingerprint): the subkey squat of the attacker's suite.
  struct BoundKey {
    std::array<std::uint8_t, 32> seed{};
    std::uint32_t created = 0;
    std::uint8_t flags = 0x20;  // authentication only
    bool encryption = false;    // an X25519 key (public value `seed`) instead
  };
  std::vector<BoundKey> bound_subkeys;
  // User IDs with a certification revocation (0x30), made after the
  // certification; `certified` false leaves the revocation as the user ID's
  // only self-signature (what `gpg --export-options export-minimal` makes).
  struct RevokedUserId {
    std::string user_id;
    bool certified = true;
  };
  std::vector<RevokedUserId> revoked_user_ids;
  // The encryption subkey revoked (0x28) after its binding; `bound` false
  // leaves the revocation as its only self-signature.
  struct RevokedSubkey {
    bool bound = true;
  };
  std::optional<RevokedSubkey> encryption_subkey_revoked;
};

class CertGenerator {
 public:
  explicit CertGenerator(std::uint64_t seed) : rng_(seed) {}
  // A certificate with a realistic user ID, "Firstname Lastname <...@example.org>".
  Bytes next(int version = 4);
  Bytes make(const CertSpec& spec);
  std::array<std::uint8_t, 32> random_seed();
  std::uint64_t counter() const { return n_; }

 private:
  std::mt19937_64 rng_;
  std::uint64_t n_ = 0;
};

}  // namespace keydir::test
