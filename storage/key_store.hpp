// The key store interface: certificates by primary fingerprint, and the
// indexes every lookup goes through.
//
// Storage keeps bytes and index entries; it never parses packets. The service
// layer (src/service) computes a certificate's IndexSet with the OpenPGP core
// and hands it over with the canonical bytes. Each record keeps its own
// IndexSet, so that an update removes exactly the entries the previous version
// had, and `check` can prove that every entry points to a certificate and
// every certificate is fully indexed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "openpgp/identifiers.hpp"
#include "recon/tree_view.hpp"
#include "tlog/entry.hpp"
#include "tlog/merkle.hpp"

namespace keydir::storage {

using openpgp::Fingerprint;
using openpgp::KeyId;
using openpgp::WkdHash;

// Everything a certificate can be found by.
//
// Who may claim a key (docs/security.md, "Nobody can take another person's
// fingerprint"): a certificate's primary key, and subkeys that proved
// possession (signing or certifying subkeys carry a verified back-signature),
// are *strong* claims. Any other subkey was bound by the primary key alone —
// anybody can bind anybody's public key that way. If its algorithm could sign
// (it might be somebody's primary key) it claims nothing and is not indexed by
// fingerprint or key ID; an encryption-only subkey is a *weak* claim: a lookup
// uses it only when no primary key, no strong claim and no deleted key has
// that fingerprint, and when no other certificate claims it too.
struct IndexSet {
  std::vector<Fingerprint> fingerprints;  // primary first, then strong subkeys
  std::vector<KeyId> key_ids;             // of the primary key and strong subkeys
  std::vector<std::string> emails;        // normalised addresses of valid user IDs
  std::vector<WkdHash> wkd;               // one per e-mail address
  std::vector<std::string> words;         // lower-cased words of valid user IDs
  Bytes sks_hash;                         // 16 octets (MD5, SKS/Hockeypuck definition)
  std::vector<Fingerprint> weak_subkeys;  // encryption-only subkeys (no proof)

  [[nodiscard]] Bytes encode() const;
  static Result<IndexSet> decode(ByteView bytes);
  bool operator==(const IndexSet&) const = default;
};

struct CertRecord {
  Fingerprint fingerprint;
  std::uint64_t first_seen = 0;  // seconds since the epoch
  std::uint64_t last_change = 0;
  std::uint64_t seq = 0;  // change-log sequence number of the last change
  Bytes digest;           // SHA-256 of `cert`
  Bytes cert;             // canonical binary certificate
  IndexSet index;
};

struct Tombstone {
  std::uint64_t deleted_at = 0;
  std::string reason;
};

struct ChangeEntry {
  std::uint64_t seq = 0;
  Fingerprint fingerprint;
  Bytes digest;  // empty: the certificate was deleted
};

// One lookup. By fingerprint or key ID, the answer is the best claim only:
// the certificate whose primary key it is; else the certificates with a strong
// claim on it (a subkey with a back-signature); else the one certificate with
// a weak claim, unless the key was deleted or another certificate claims it
// too (then nothing).
struct Query {
  struct ByFingerprint {
    Fingerprint fpr;
  };
  struct ByKeyId {
    KeyId id;
  };
  struct ByShortKeyId {
    std::uint32_t id;
  };
  struct ByEmail {
    std::string address;
  };  // normalised (openpgp::Email)
  struct ByWkd {
    WkdHash hash;
  };
  struct ByWords {
    std::vector<std::string> words;
  };  // all must match
  struct BySksHash {
    Bytes hash;
  };
  std::variant<ByFingerprint, ByKeyId, ByShortKeyId, ByEmail, ByWkd, ByWords, BySksHash> what;
};

// A write: the new record (seq and times are assigned by the store), and the
// index of the version it replaces, if any.
// E-mail verification (who may publish an address). A token is kept only as
// the SHA-256 of its secret value, bound to one certificate and one address.
struct VerifyToken {
  enum class Kind : std::uint8_t { Verify = 1, Manage = 2 };
  Kind kind = Kind::Verify;
  Fingerprint fingerprint;
  std::string email;  // normalised
  std::uint64_t created = 0;
  std::uint64_t expires = 0;
  // When the link was used (0: not yet). A used token publishes nothing
  // again; it is kept as a marker until it expires, so that the link opened
  // again can say what it did (issue #20).
  std::uint64_t used_at = 0;
};

struct Write {
  CertRecord record;
  std::optional<IndexSet> previous;
  // Verification state changed in the same atomic write as the indexes.
  std::vector<std::string> publish;    // addresses now published on this certificate
  std::vector<std::string> unpublish;  // addresses no longer published
  // A token hash, used up by this write: marked used at the write's time
  // (VerifyToken::used_at; single use). The whole write fails with
  // TokenInvalid, changing nothing, when no such token is stored or it was
  // used already: two writes cannot both use one link.
  std::optional<Bytes> consume_token;
  // A restore from a full backup: the record's first_seen and last_change
  // are kept as given instead of being set to the time of the write.
  bool keep_times = false;
  // The transparency log's digest of this certificate: SHA-256 of the form
  // lookups serve. Unset: the stored form's (record.digest), as in Open
  // mode; the service sets it when the mode serves less than is stored.
  std::optional<Bytes> published_digest;
};

// The transparency log (docs/transparency.md). Every apply() and remove()
// appends one entry per certificate in the same atomic write: what it is
// found by (commitments of record.index.emails, the addresses a lookup by
// address finds it under) and the digest of its published form. The first
// entry fixes how addresses become commitments.
struct LogState {
  std::uint64_t size = 0;
  tlog::Hash root{};
};
// An entry for a certificate the store already holds (a store written
// before it kept a log): start_log's backfill.
struct LogItem {
  Fingerprint fingerprint;
  std::uint64_t seq = 0;
  Bytes digest;
  std::vector<std::string> addresses;
};

// One entry of the audit log of administrative actions (`keydird admin log`):
// appended, never rewritten. `text` is a JSON object written by the service.
struct AuditEntry {
  std::uint64_t seq = 0;
  std::uint64_t time = 0;
  std::string text;
};

struct StoreStats {
  std::uint64_t certificates = 0;  // exact count, kept with every write
  std::uint64_t last_seq = 0;
  std::uint64_t disk_bytes = 0;
};

struct ConsistencyReport {
  std::uint64_t certificates = 0;
  std::uint64_t index_entries = 0;
  std::vector<std::string> problems;  // bounded; empty when consistent
  std::uint64_t problem_count = 0;
};

class KeyStore {
 public:
  virtual ~KeyStore() = default;

  [[nodiscard]] virtual Result<std::optional<CertRecord>> get(const Fingerprint& primary) const = 0;
  // Index → certificates, read from one snapshot so both agree. At most
  // `limit` certificates, in fingerprint order. The records carry no IndexSet
  // (get() does).
  [[nodiscard]] virtual Result<std::vector<CertRecord>> lookup(const Query& query,
                                                               std::size_t limit) const = 0;
  // Applies all writes in one atomic batch; durable per the store's setting
  // when it returns. Returns the sequence number given to each write.
  [[nodiscard]] virtual Result<std::vector<std::uint64_t>> apply(std::vector<Write>& writes,
                                                                 std::uint64_t now) = 0;
  // Removes a certificate and all its index entries, and leaves a tombstone.
  [[nodiscard]] virtual Result<void> remove(const CertRecord& record, const Tombstone& tomb) = 0;
  [[nodiscard]] virtual Result<std::optional<Tombstone>> tombstone(
      const Fingerprint& fpr) const = 0;
  [[nodiscard]] virtual Result<void> clear_tombstone(const Fingerprint& fpr) = 0;
  // Change log after `seq`, oldest first, at most `limit` entries.
  [[nodiscard]] virtual Result<std::vector<ChangeEntry>> changes_since(std::uint64_t seq,
                                                                       std::size_t limit) const = 0;
  // The SKS reconciliation prefix tree of the SKS key hashes (issue #9), changed
  // in the same atomic write as the certificates. A view reads one
  // snapshot: it does not change while a session walks it.
  [[nodiscard]] virtual Result<std::unique_ptr<recon::TreeView>> recon_tree() const = 0;
  // Recomputes the tree from the hash index; returns its element count.
  [[nodiscard]] virtual Result<std::uint64_t> rebuild_recon_tree() = 0;
  // The SKS key hashes of the certificates whose primary key has version
  // `version` or later (reconciliation leaves v5 and v6 keys out for a peer
  // that takes v3 and v4 only). Reads only those certificates.
  [[nodiscard]] virtual Result<std::vector<Bytes>> sks_hashes_from_version(
      std::uint8_t version) const = 0;
  // Reconciliation: a peer's SKS hash of a key this store holds in another
  // form, and this store's hash of it (server/recon_peer shows the peer its
  // own hash). Kept so that a restart does not exchange those keys again.
  // Each change is (peer's hash, ours); an empty `ours` deletes the entry.
  // All changes in one write.
  struct AliasChange {
    Bytes peer_hash;
    Bytes ours;
  };
  [[nodiscard]] virtual Result<void> put_recon_aliases(std::string_view peer,
                                                       const std::vector<AliasChange>& changes) = 0;
  [[nodiscard]] Result<void> put_recon_alias(std::string_view peer, ByteView peer_hash,
                                             ByteView ours) {
    return put_recon_aliases(
        peer, {{Bytes(peer_hash.begin(), peer_hash.end()), Bytes(ours.begin(), ours.end())}});
  }
  // A peer's entries, in hash order; stop by returning false.
  [[nodiscard]] virtual Result<void> for_each_recon_alias(
      std::string_view peer,
      const std::function<bool(ByteView peer_hash, ByteView ours)>& visit) const = 0;
  // Every certificate in fingerprint order; stop by returning false.
  [[nodiscard]] virtual Result<void> for_each(
      const std::function<bool(const CertRecord&)>& visit) const = 0;
  [[nodiscard]] virtual Result<StoreStats> stats() const = 0;
  [[nodiscard]] virtual Result<ConsistencyReport> check() const = 0;
  // A counter that grows after every write of this store, committed or not:
  // two equal readings bracket no write. Answer caches tag what they keep
  // with it (read it before reading the store).
  [[nodiscard]] virtual std::uint64_t generation() const = 0;

  // Addresses published (verified) on a certificate, sorted.
  [[nodiscard]] virtual Result<std::vector<std::string>> published(
      const Fingerprint& primary) const = 0;
  // The same with the time each was published (seconds since the epoch; 0
  // when the store did not record it), sorted by address.
  [[nodiscard]] virtual Result<std::vector<std::pair<std::string, std::uint64_t>>> published_times(
      const Fingerprint& primary) const = 0;
  [[nodiscard]] virtual Result<void> put_token(ByteView hash, const VerifyToken& token) = 0;
  [[nodiscard]] virtual Result<std::optional<VerifyToken>> token(ByteView hash) const = 0;
  [[nodiscard]] virtual Result<void> delete_token(ByteView hash) = 0;
  // Every stored token (pending verifications and manage links).
  [[nodiscard]] virtual Result<void> for_each_token(
      const std::function<bool(ByteView hash, const VerifyToken&)>& visit) const = 0;

  // Every tombstone, in fingerprint order.
  [[nodiscard]] virtual Result<void> for_each_tombstone(
      const std::function<bool(const Fingerprint&, const Tombstone&)>& visit) const = 0;
  // A tombstone without a certificate to remove (a restore from a backup).
  [[nodiscard]] virtual Result<void> put_tombstone(const Fingerprint& fpr,
                                                   const Tombstone& tomb) = 0;

  // Named settings of the store itself (its publishing mode, its managed
  // domains): small values the service interprets.
  [[nodiscard]] virtual Result<std::optional<std::string>> setting(std::string_view name) const = 0;
  [[nodiscard]] virtual Result<void> put_setting(std::string_view name, std::string_view value) = 0;

  // The audit log. append_audit returns the entry's sequence number.
  [[nodiscard]] virtual Result<std::uint64_t> append_audit(std::uint64_t time,
                                                           std::string_view text) = 0;
  [[nodiscard]] virtual Result<void> for_each_audit(
      const std::function<bool(const AuditEntry&)>& visit) const = 0;

  // The transparency log. A store without one (MemoryKeyStore) answers
  // UnsupportedOperation. start_log writes the first entry (the commitment
  // scheme) when the log is empty and is a no-op otherwise; append_log adds
  // entries for certificates already stored (in one write). A store whose
  // log was not started starts it with HMAC-SHA-256 commitments at its first
  // write.
  [[nodiscard]] virtual Result<void> start_log(const tlog::CommitmentScheme& scheme,
                                               std::uint64_t now);
  [[nodiscard]] virtual Result<void> append_log(const std::vector<LogItem>& items,
                                                std::uint64_t now);
  [[nodiscard]] virtual Result<LogState> log_state() const;
  [[nodiscard]] virtual Result<std::optional<tlog::CommitmentScheme>> log_scheme() const;
  // Stored hashes (tlog::NodeId), entries by index, and the index of a
  // certificate's latest entry.
  [[nodiscard]] virtual Result<tlog::Hash> log_hash(tlog::NodeId id) const;
  [[nodiscard]] virtual Result<std::vector<tlog::Hash>> log_hashes(std::uint8_t level,
                                                                   std::uint64_t first,
                                                                   std::uint64_t count) const;
  [[nodiscard]] virtual Result<std::vector<Bytes>> log_entries(std::uint64_t first,
                                                               std::uint64_t count) const;
  [[nodiscard]] virtual Result<std::optional<std::uint64_t>> log_index(
      const Fingerprint& primary) const;
  // Recomputes every stored hash and the root from the entries; problems
  // (bounded) in the report.
  [[nodiscard]] virtual Result<ConsistencyReport> verify_log() const;
};

}  // namespace keydir::storage
