// The RocksDB store's state and its helpers (internal to storage/rocksdb):
// shared by rocks_key_store.cpp (the store) and rocks_check.cpp (check()).
#pragma once

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "storage/index_entries.hpp"
#include "storage/rocksdb/codec.hpp"
#include "storage/rocksdb/recon_tree.hpp"
#include "storage/rocksdb/rocks_key_store.hpp"

namespace keydir::storage {

namespace rocks {

inline tl::unexpected<Error> io_error(const rocksdb::Status& s, std::string_view what) {
  if (s.IsCorruption()) {
    return fail(ErrorCode::StorageCorruption, std::string(what) + ": " + s.ToString());
  }
  return fail(ErrorCode::StorageIo, std::string(what) + ": " + s.ToString());
}

}  // namespace rocks

struct RocksKeyStore::Impl {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs;
  rocksdb::WriteOptions write_options;
  std::string dir;
  std::optional<SchemaMigration> migration;  // what open() did, if anything
  std::mutex write_mutex;
  std::uint64_t last_seq = 0;  // guarded by write_mutex
  // After a failed write (disk full, read-only file system) RocksDB must not
  // be written again: Debian's build asserts in its WAL writer and aborts the
  // process. The store then refuses writes until keydird is restarted, and
  // keeps serving reads.
  std::atomic<bool> write_failed{false};
  std::atomic<std::uint64_t> generation{0};
  std::string write_error;  // guarded by write_mutex
  std::unique_ptr<rocks::ReconTree> tree;

  // The transparency log (rocks_log.cpp). The edge and the scheme are the
  // writer's (write_mutex); readers see `log_now`, set after each write.
  tlog::Frontier log_edge;
  std::optional<tlog::CommitmentScheme> log_scheme;
  mutable std::mutex log_mutex;
  LogState log_now;  // log_mutex
  // The scheme once the log has started (it never changes then), for
  // writers before they take write_mutex.
  std::shared_ptr<const tlog::CommitmentScheme> scheme_now;  // log_mutex
  // Scrypt commitments (about 40 ms each), computed by each writer before
  // it takes write_mutex, and kept for the certificate's next update.
  std::mutex commitment_mutex;
  std::unordered_map<std::string, Bytes> commitment_cache;  // commitment_mutex
  // At most one scrypt (16 MiB) per core at a time, however many writers.
  std::counting_semaphore<256> scrypt_slots{
      std::clamp<std::ptrdiff_t>(std::thread::hardware_concurrency(), 1, 256)};
  Result<Bytes> scrypt_commitment(const tlog::CommitmentScheme& scheme, const std::string& address);

  // What one write appends: the edge after it, the scheme when the write
  // starts the log, and the log's key-value pairs, put into the batch at
  // the end in key order (log_flush): entries and hashes then go into the
  // memtable next to each other, and the size once.
  struct LogTxn {
    tlog::Frontier edge;
    std::optional<tlog::CommitmentScheme> started;
    std::vector<std::pair<std::string, std::string>> puts;
  };
  Result<void> load_log();
  LogTxn log_txn() const { return LogTxn{log_edge, std::nullopt, {}}; }
  // Under write_mutex: the header entry, when the log is empty.
  Result<void> log_start(LogTxn& txn, const tlog::CommitmentScheme& scheme, std::uint64_t now);
  // Where a certificate entry's index is kept: in the change log's record of
  // the write it logs (ByChange: the caller appends it there; no key of its
  // own), or under "f" fpr (Own: entries of a change already in the change
  // log, such as the backfill of a log started on an older store).
  enum class EntryIndex { ByChange, Own };
  // The new entry's index. `commitments`: the addresses' commitments when
  // the caller computed them (scrypt logs, before write_mutex).
  Result<std::uint64_t> log_certificate(LogTxn& txn, const Fingerprint& fpr, std::uint64_t seq,
                                        std::uint64_t now, const Bytes& digest,
                                        const std::vector<std::string>& addresses, EntryIndex where,
                                        const std::vector<Bytes>* commitments = nullptr);
  // Outside write_mutex: the commitments of every write's addresses when
  // the log's scheme is scrypt (empty otherwise: computed under the lock,
  // cheaply, by log_certificate).
  Result<std::vector<std::vector<Bytes>>> precommit(const std::vector<Write>& writes);
  Result<void> log_deleted(LogTxn& txn, const Fingerprint& fpr, std::uint64_t seq,
                           std::uint64_t now);
  // The pairs of `txn`, sorted, and its size: `put` takes each.
  static void log_flush(LogTxn& txn,
                        const std::function<void(std::string key, std::string value)>& put);
  // After the batch is written.
  void log_commit(LogTxn& txn);
  // The index of the latest entry of `fpr` as `ro` sees the store: the later
  // of the one kept with its record's change (`seq`: the record's, read when
  // not given) and its own "f" key (deletions, backfills, older stores).
  Result<std::optional<std::uint64_t>> latest_entry(const rocksdb::ReadOptions& ro,
                                                    const Fingerprint& fpr,
                                                    std::optional<std::uint64_t> seq) const;
  static void log_put(LogTxn& txn, const Bytes& entry);

  // The tree changes of one certificate write: its SKS hash left the index
  // or entered it (both when it changed).
  static Result<void> retree(rocks::ReconTree::Txn& txn, const Bytes& before, const Bytes& after) {
    if (before == after) {
      return {};
    }
    if (!before.empty()) {
      KEYDIR_CHECK(txn.remove(before));
    }
    if (!after.empty()) {
      KEYDIR_CHECK(txn.insert(after));
    }
    return {};
  }
  // Under write_mutex.
  Result<std::uint64_t> rebuild_tree() {
    KEYDIR_CHECK(writable());
    rocksdb::WriteBatch batch;
    batch.DeleteRange(cf(rocks::kReconTree), "n", "o");
    KEYDIR_TRY(auto n, tree->compute(rocksdb::ReadOptions(),
                                     [&](const std::string& key, const rocks::TreeNodeValue& v) {
                                       batch.Put(cf(rocks::kReconTree), key, tree->encode(v));
                                     }));
    batch.Put(cf(rocks::kMeta), std::string(rocks::kTreeSignature), tree->signature());
    auto s = write(batch);
    if (!s.ok()) {
      return rocks::io_error(s, "writing the recon tree");
    }
    return n;
  }

  Result<void> writable() const {
    if (write_failed.load()) {
      return fail(ErrorCode::StorageIo, "the store takes no writes since an I/O error (" +
                                            write_error +
                                            "); restart keydird once the disk has room");
    }
    return {};
  }
  // Writes `batch`, or records the first failure.
  rocksdb::Status write(rocksdb::WriteBatch& batch) {
    auto st = db->Write(write_options, &batch);
    // After the write (release): a reader that sees the new count also sees
    // what was written; one that read the old count tags its answer with it,
    // and this increment retires that answer (see KeyStore::generation).
    generation.fetch_add(1, std::memory_order_release);
    if (!st.ok() && !write_failed.load()) {
      write_error = st.ToString();
      write_failed.store(true);
    }
    return st;
  }

  ~Impl() {
    // A read-only store of an earlier keydird maps the families it lacks to
    // the default one: each handle is destroyed once.
    std::set<rocksdb::ColumnFamilyHandle*> done;
    for (auto* h : cfs) {
      if (h && done.insert(h).second) {
        db->DestroyColumnFamilyHandle(h);
      }
    }
  }

  rocksdb::ColumnFamilyHandle* cf(rocks::Cf c) const { return cfs[c]; }

  void index(rocksdb::WriteBatch& b, const rocks::Entry& e) const {
    switch (e.kind) {
      case rocks::Kind::Unique:
        b.Put(cf(e.cf), e.key, e.value);
        break;
      case rocks::Kind::Set:
        b.Merge(cf(e.cf), e.key, "+" + e.value);
        break;
      case rocks::Kind::Scan:
        b.Put(cf(e.cf), e.key, e.value);
        break;
    }
  }
  void unindex(rocksdb::WriteBatch& b, const rocks::Entry& e) const {
    switch (e.kind) {
      case rocks::Kind::Unique:
        b.Delete(cf(e.cf), e.key);
        break;
      case rocks::Kind::Set:
        b.Merge(cf(e.cf), e.key, "-" + e.value);
        break;
      case rocks::Kind::Scan:
        b.Delete(cf(e.cf), e.key);
        break;
    }
  }

  // A snapshot for the duration of one lookup.
  struct Snapshot {
    const rocksdb::DB* db;
    const rocksdb::Snapshot* snap;
    explicit Snapshot(rocksdb::DB* d) : db(d), snap(d->GetSnapshot()) {}
    ~Snapshot() { const_cast<rocksdb::DB*>(db)->ReleaseSnapshot(snap); }
    rocksdb::ReadOptions options() const {
      rocksdb::ReadOptions ro;
      ro.snapshot = snap;
      return ro;
    }
  };

  Result<std::optional<CertRecord>> get(const rocksdb::ReadOptions& ro, const Fingerprint& fpr,
                                        bool with_index = true) const {
    std::string value;
    auto s = db->Get(ro, cf(rocks::kCerts), rocks::fpr_key(fpr), &value);
    if (s.IsNotFound()) {
      return std::optional<CertRecord>{};
    }
    if (!s.ok()) {
      return rocks::io_error(s, "reading a certificate");
    }
    KEYDIR_TRY(auto rec, rocks::decode_record(fpr, value, with_index));
    return std::optional<CertRecord>(std::move(rec));
  }

  // Primary fingerprints under `prefix` in a multi-valued index, at most `max`.
  Result<std::set<Fingerprint>> scan(const rocksdb::ReadOptions& snapshot_ro, rocks::Cf c,
                                     const std::string& prefix, std::size_t max) const {
    std::set<Fingerprint> out;
    rocksdb::ReadOptions ro = snapshot_ro;
    ro.prefix_same_as_start = true;  // use the prefix bloom filters
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf(c)));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      auto fpr = rocks::fpr_from(
          std::string_view(it->key().data(), it->key().size()).substr(prefix.size()));
      if (fpr) {
        out.insert(*fpr);
      }
      if (out.size() >= max) {
        break;
      }
    }
    if (!it->status().ok()) {
      return rocks::io_error(it->status(), "reading an index");
    }
    return out;
  }

  Result<std::set<Fingerprint>> members(const rocksdb::ReadOptions& ro, rocks::Cf c,
                                        const std::string& key) const {
    std::string value;
    auto s = db->Get(ro, cf(c), key, &value);
    std::set<Fingerprint> out;
    if (s.IsNotFound()) {
      return out;
    }
    if (!s.ok()) {
      return rocks::io_error(s, "reading an index");
    }
    for (const auto& m : rocks::decode_set(value)) {
      if (auto f = rocks::fpr_from(m)) {
        out.insert(*f);
      }
    }
    return out;
  }

  // The certificates that one key — a fingerprint or key ID, `key` in column
  // family `c` — names: index_keys::best_claims (the rule MemoryKeyStore
  // applies) over this snapshot.
  Result<std::set<Fingerprint>> claims(const rocksdb::ReadOptions& ro, rocks::Cf c,
                                       const std::string& key, const std::string& weak_key,
                                       const std::function<bool(const Fingerprint&)>& is_it,
                                       bool owner_first = true) const {
    index_keys::ClaimSource source{
        [&](const std::string& k) { return members(ro, c, k); },
        [&](const Fingerprint& f) -> Result<std::optional<std::vector<Fingerprint>>> {
          KEYDIR_TRY(auto rec, get(ro, f));
          if (!rec) {
            return std::optional<std::vector<Fingerprint>>{};
          }
          return std::optional<std::vector<Fingerprint>>(std::move(rec->index.weak_subkeys));
        },
        [&](const Fingerprint& f) -> Result<bool> {
          std::string value;
          auto s = db->Get(ro, cf(rocks::kTombstones), rocks::fpr_key(f), &value);
          if (!s.ok() && !s.IsNotFound()) {
            return rocks::io_error(s, "reading a tombstone");
          }
          return s.ok();
        }};
    return index_keys::best_claims(source, key, weak_key, is_it, owner_first);
  }

  // Whether the database holds entry `e`.
  bool holds(const rocksdb::ReadOptions& ro, const rocks::Entry& e) const {
    std::string value;
    auto s = db->Get(ro, cf(e.cf), e.key, &value);
    if (!s.ok()) {
      return false;
    }
    if (e.kind != rocks::Kind::Set) {
      return value == e.value;
    }
    auto set = rocks::decode_set(value);
    return std::binary_search(set.begin(), set.end(), e.value);
  }

  Result<std::optional<Fingerprint>> point(const rocksdb::ReadOptions& ro, rocks::Cf c,
                                           const std::string& key) const {
    std::string value;
    auto s = db->Get(ro, cf(c), key, &value);
    if (s.IsNotFound()) {
      return std::optional<Fingerprint>{};
    }
    if (!s.ok()) {
      return rocks::io_error(s, "reading an index");
    }
    return rocks::fpr_from(value);
  }
};

}  // namespace keydir::storage
