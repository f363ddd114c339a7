// The RocksDB store's on-disk encodings (internal to storage/rocksdb, not part
// of the KeyStore interface): its column families, the keys and values of
// each, and the index entries a certificate's IndexSet puts in them. The
// layout is described in docs/architecture.md, "The key store"; changing anything here
// changes the format of existing data folders.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/index_entries.hpp"
#include "storage/key_store.hpp"

namespace keydir::storage::rocks {

// The schema version (meta "schema") and its migrations: schema.hpp.
constexpr std::uint8_t kRecordFormat = 1;

enum Cf : std::size_t {
  kDefault,
  kCerts,
  kByFpr,
  kByKeyId,
  kByShort,
  kByEmail,
  kByWkd,
  kByWord,
  kBySks,
  kChangelog,
  kTombstones,
  kMeta,
  kVerify,     // "p" + fpr + address → time published; "t" + token hash → VerifyToken
  kReconTree,  // the SKS prefix tree over by_sks (recon_tree.hpp)
  kAudit,      // be64 seq → be64 time + JSON text (the audit log)
  kLog,        // the transparency log (rocks_log.cpp)
  kCfCount
};
extern const char* const kCfNames[kCfCount];

// Keys of the meta column family.
constexpr std::string_view kCertCounter = "count.certificates";
constexpr std::string_view kTreeSignature = "recon.tree";
// "recon-alias." peer NUL peer-hash → our hash.
std::string alias_prefix(std::string_view peer);

// A fingerprint as a key: its version octet, then its bytes
// (index_entries.hpp, shared with MemoryKeyStore).
using index_keys::fpr_key;
// The inverse of fpr_key (nullopt: not a v4 or v6 fingerprint key).
std::optional<Fingerprint> fpr_from(std::string_view k);
// `v` as `width` big-endian octets.
using index_keys::be;

// Verification state (column family verify).
std::string published_key(const Fingerprint& f, std::string_view email);
std::string token_key(ByteView hash);
// A token record: its first octet is the kind, with kTokenUsed set when the
// record carries a used_at time (records of earlier keydirds never do).
constexpr std::uint8_t kTokenUsed = 0x80;
std::string encode_token(const VerifyToken& t);
std::optional<VerifyToken> decode_token(std::string_view v);

// Index keys: `a` NUL `fpr` (by_word), domain NUL hash (by_wkd).
std::string sep_key(std::string_view a, const std::string& fpr);
std::string wkd_prefix(const WkdHash& w);

// Every index entry an IndexSet puts in the database. Unique indexes map a
// key to one primary fingerprint (value). Set indexes (key ID, short key ID,
// e-mail, WKD) map a key to a set of primary fingerprints, maintained with
// the FprSet merge operator ("+fpr" / "-fpr" operands), so that a lookup is
// one point read. The word index keeps one key per (word, fingerprint) and is
// read by prefix scan.
enum class Kind { Unique, Set, Scan };
struct Entry {
  Cf cf;
  std::string key;
  std::string value;  // Unique: the primary; Set: the member (primary)
  Kind kind;
};

// Weak claims (key_store.hpp) live in the same column families as strong
// ones, under keys that cannot be strong keys: "u" before a fingerprint key
// (which starts with its version octet), "u" after a key ID.
using index_keys::kWeak;

// The index column families are index_keys::Index's indexes, in its order.
constexpr Cf cf_of(index_keys::Index ix) {
  return static_cast<Cf>(static_cast<std::size_t>(kByFpr) + static_cast<std::size_t>(ix));
}
static_assert(cf_of(index_keys::kWord) == kByWord && cf_of(index_keys::kSks) == kBySks);
std::vector<Entry> entries_of(const IndexSet& idx, const Fingerprint& primary);

// A set of fingerprint keys (each self-delimiting: version octet 4 → 21
// octets, 6 → 33), kept sorted.
std::vector<std::string> decode_set(std::string_view v);

// Change-log records (column family changelog, keyed by be64 seq): the
// fingerprint key, then for a write the new digest (32 octets) and the index
// of the transparency-log entry that records it (be64; absent in stores
// written before the log kept it there), nothing more for a deletion.
std::string encode_change(const Fingerprint& f, ByteView digest,
                          std::optional<std::uint64_t> log_index);
struct ChangeRecord {
  Fingerprint fingerprint;
  std::string_view digest;  // empty: deleted
  std::optional<std::uint64_t> log_index;
};
std::optional<ChangeRecord> decode_change(std::string_view v);

// Certificate records (column family certs).
std::string encode_record(const CertRecord& r);
// `with_index`: lookups do not need the record's IndexSet (only updates and
// checks do), and skipping it saves the allocations.
Result<CertRecord> decode_record(const Fingerprint& fpr, std::string_view value,
                                 bool with_index = true);

}  // namespace keydir::storage::rocks
