// Test-only: makes valid, distinct OpenPGP certificates quickly, for scale
// tests and benchmarks (the core itself never signs anything). Each
// certificate is an Ed25519 primary key with one or more user IDs and an
// encryption subkey: v4 (EdDSALegacy + ECDH Cv25519) or v6 (Ed25519 +
// X25519, with the direct-key signature RFC 9580 requires), all signatures
// made with Crypto++ over SHA-256. Deterministic for a given seed.
//
// RealisticMix (below) makes a keyserver-like mix instead, for the 10M-key
// benchmarks; certificate i is a pure function of (seed, i).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
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

// A realistic, reproducible mix of v4 certificates, as a public keyserver
// holds them (gen_certs --mix realistic). Certificate i is a pure function of
// (seed, i): any range of indices can be made alone, on any number of threads
// or machines, and the pieces concatenate to the same bytes. The mix, per
// certificate, from its own random stream:
//   - primary key: 60% Ed25519 (EdDSALegacy) with a Cv25519 encryption subkey
//     (gpg's default since 2.3), 30% RSA-2048 + RSA-2048 encryption subkey,
//     8% RSA-3072 + RSA-3072, 2% RSA-4096 + RSA-4096;
//   - 20%: a second, signing subkey of the primary's algorithm (with its
//     back-signature);
//   - user IDs: 1 (65%), 2 (25%) or 3 (10%), "Name <address>" with
//     international names and a weighted mix of mail domains; 4% of first
//     user IDs and 10% of the others have no e-mail address, 8% a comment.
//     Every address carries the index i, so addresses are unique;
//   - 25%: 1 to 10 third-party certifications (0x10) on one user ID, by
//     distinct keys of a pool of 16 Ed25519 "signer" keys (keydir strips
//     them: they are there to be stripped);
//   - 5%: the first user ID also has an older, superseded self-signature;
//   - primary key creation time: RSA uniform over 2005-01-01..2026-01-01,
//     Ed25519 over 2014-09-01..2026-01-01; self-signatures at or after the
//     key, third-party and superseding ones later, none after 2026-06-01.
// All signatures are SHA-256 (RSA: PKCS#1 v1.5), made with OpenSSL; every
// self-signature is valid.
//
// The RSA shortcut: generating RSA keys is slow (0.1 to 0.4 s each), so RSA
// key material comes from a pool of `rsa_pool` keys per size (generated on
// first use, deterministically from the seed, by Crypto++ with e = 65537),
// and many certificates share a modulus. They differ by creation time, which
// the fingerprint covers: RSA creation times are a permutation of the
// index (one slot of 4 seconds per index, 165 M slots), the primary key at
// the slot's first second and its subkeys at the next ones, so every key
// fingerprint is unique for the first 165 M indices (Ed25519 keys have their
// own random material). A keyserver does not notice (it never compares
// moduli); a study of moduli would. The default pool (64 keys of each size)
// costs about a CPU-minute, spread over the first few thousand certificates;
// --first I --count 10 makes only the few keys it needs. The output depends
// on (seed, index, rsa_pool) and on Crypto++'s RSA key generation staying
// what it is (Ed25519 and PKCS#1 v1.5 signatures are deterministic).
//
// Cost: about 0.84 ms of CPU per certificate (0.5 ms with rsa_multi_prime),
// nearly all of it RSA private-key operations; about 1,230 bytes per
// certificate.
struct MixOptions {
  std::size_t rsa_pool = 64;  // RSA keys per size
  // A folder where the pool's RSA keys are kept once made (file per seed,
  // size and index), so that the next run reads them instead of spending
  // minutes on key generation; empty: none. The output does not depend on it.
  std::string rsa_cache;
  // RSA-3072 pool keys of 3 primes and RSA-4096 of 4 (RFC 8017 multi-prime;
  // RSA-2048 keeps 2): OpenSSL signs with them 2.1 and 3.3 times faster
  // here, and the public keys are ordinary (n, e) of the same sizes, so
  // what a verifier does is unchanged. Part of the output's identity.
  bool rsa_multi_prime = false;
};

enum class MixKind : std::uint8_t { Ed25519, Rsa2048, Rsa3072, Rsa4096 };

// The random decisions for one certificate (cheap: no key material, no
// signatures), for tests of the proportions.
struct MixPlan {
  MixKind kind = MixKind::Ed25519;
  std::uint32_t created = 0;
  std::vector<std::string> user_ids;
  bool signing_subkey = false;
  bool superseded = false;              // an older self-signature on user ID 0
  std::size_t third_party = 0;          // third-party certifications
  std::size_t third_party_user_id = 0;  // on this user ID
};

class RealisticMix {
 public:
  explicit RealisticMix(std::uint64_t seed, MixOptions options = {});
  ~RealisticMix();
  RealisticMix(const RealisticMix&) = delete;
  RealisticMix& operator=(const RealisticMix&) = delete;
  // Thread-safe; the same (seed, index) always gives the same bytes.
  [[nodiscard]] MixPlan plan(std::uint64_t index) const;
  [[nodiscard]] Bytes make(std::uint64_t index) const;
  // The RSA pool keys made so far, and the time spent making them (summed
  // over threads).
  struct PoolStats {
    std::size_t keys = 0;
    double seconds = 0;
  };
  [[nodiscard]] PoolStats pool_stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keydir::test
