// What both KeyStore implementations (storage/rocksdb, MemoryKeyStore) derive
// alike (internal to storage/, not part of the KeyStore interface): the index
// keys an IndexSet makes, and the best-claim rule of a lookup by fingerprint
// or key ID (key_store.hpp, Query). The RocksDB store writes these keys to
// disk: changing them changes its format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "storage/key_store.hpp"

namespace keydir::storage::index_keys {

// The indexes, in this order (the RocksDB store's column families by_fpr ..
// by_sks).
enum Index : std::uint8_t { kFpr, kKeyId, kShort, kEmail, kWkd, kWord, kSks, kIndexCount };
extern const char* const kIndexNames[kIndexCount];  // "by_fpr", ...

// Weak claims (key_store.hpp) are kept under keys that cannot be strong ones:
// "u" before a fingerprint key (which starts with its version octet), "u"
// after a key ID.
constexpr char kWeak = 'u';

// A fingerprint as a key: its version octet, then its bytes.
std::string fpr_key(const Fingerprint& f);
// `v` as `width` big-endian octets.
std::string be(std::uint64_t v, std::size_t width);
// A WKD hash as a key: domain, NUL, hash.
std::string wkd_key(const WkdHash& w);

// Every (index, key) of `idx`, in a fixed order: fingerprints, key IDs (and
// their short IDs), weak subkeys, e-mail addresses, WKD hashes, words (the
// word alone: the RocksDB store appends the primary), the SKS hash.
void for_each_key(const IndexSet& idx, const std::function<void(Index, std::string)>& visit);

// Reads of a store, for best_claims.
struct ClaimSource {
  // The certificates a key of the index asked about names.
  std::function<Result<std::set<Fingerprint>>(const std::string& key)> members;
  // A certificate's weak subkeys (nullopt: no such certificate).
  std::function<Result<std::optional<std::vector<Fingerprint>>>(const Fingerprint& primary)>
      weak_subkeys;
  // Whether a key was deleted (has a tombstone).
  std::function<Result<bool>(const Fingerprint& fpr)> deleted;
};

// The certificates that one key — a fingerprint or key ID, `key` (strong
// claims) and `weak_key` (weak claims) in one index — names (key_store.hpp,
// Query): `is_it(f)` says whether the key whose fingerprint is f is the one
// asked for. `owner_first`: a certificate whose primary key it is hides
// strong claims by subkeys; not for short key IDs, where a colliding primary
// key costs 2^32 work and must not hide a signing subkey.
Result<std::set<Fingerprint>> best_claims(const ClaimSource& source, const std::string& key,
                                          const std::string& weak_key,
                                          const std::function<bool(const Fingerprint&)>& is_it,
                                          bool owner_first);

}  // namespace keydir::storage::index_keys
