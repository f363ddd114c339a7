// RocksKeyStore: the KeyStore on an embedded RocksDB (one database, one column
// family per index; layout in docs/architecture.md, "The key store").
//
// Durability: the write-ahead log is always on. With `sync_writes` off (the
// default) apply() returns once the batch is in the WAL in the OS: a crash of
// keydird loses nothing it acknowledged. With `sync_writes` on, every batch is
// fsync'ed before apply() returns: a power loss loses nothing either.
//
// Concurrency: reads are lock-free (RocksDB snapshots). Writes are applied by
// one writer at a time, so change-log sequence numbers commit in order; the
// read-merge-write cycle of one certificate is serialised by the service's
// per-key locks.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/key_store.hpp"

namespace keydir::storage {

struct RocksOptions {
  bool sync_writes = false;
  // Serving wants the working set in the cache (figures: docs/performance.md); bulk import
  // gains little from it and keeps it small to bound its memory.
  std::size_t block_cache_bytes = 256u << 20;
  // Cache of whole rows for point reads (certificates, index sets); 0: none.
  std::size_t row_cache_bytes = 0;
  bool create_if_missing = true;
  // How the program names itself in messages and in the store's schema
  // history ("keydird 0.1.0").
  std::string program = "keydird";
  // Files of the data folder besides the database that a pre-migration
  // backup copies (keydird: the token key).
  std::vector<std::string> backup_files;
};

// The on-disk schema (storage/rocksdb/schema.hpp): the version this build
// writes, and reads; a store of an earlier version is migrated by open().
int rocks_schema_version();

// What open() did to a store of an earlier schema.
struct SchemaMigration {
  int from = 0;
  int to = 0;
  std::string backup;              // the store as it was (a RocksDB checkpoint)
  std::uint64_t backup_bytes = 0;  // its files' sizes (tables are hard links)
  double seconds = 0;              // backup and migration
  std::string changed;             // what the steps corrected, if anything
};
// One line for the log: from, to, the time, the backup and its size.
std::string describe(const SchemaMigration& m, const std::string& dir);

class RocksKeyStore final : public KeyStore {
 public:
  // A store of an earlier schema is migrated in place, a backup first
  // (migration() says so); a read-only one is refused, naming the command
  // that migrates it. Errors: StorageIo (cannot open or write, folder in use
  // by another process, migration needs write access), StorageCorruption
  // (schema of a later version, unreadable schema record).
  static Result<std::unique_ptr<RocksKeyStore>> open(const std::string& dir,
                                                     const RocksOptions& options);
  ~RocksKeyStore() override;

  Result<std::optional<CertRecord>> get(const Fingerprint& primary) const override;
  Result<std::vector<CertRecord>> lookup(const Query& query, std::size_t limit) const override;
  Result<std::vector<std::uint64_t>> apply(std::vector<Write>& writes, std::uint64_t now) override;
  Result<void> remove(const CertRecord& record, const Tombstone& tomb) override;
  Result<std::optional<Tombstone>> tombstone(const Fingerprint& fpr) const override;
  Result<void> clear_tombstone(const Fingerprint& fpr) override;
  Result<std::vector<ChangeEntry>> changes_since(std::uint64_t seq,
                                                 std::size_t limit) const override;
  Result<void> for_each(const std::function<bool(const CertRecord&)>& visit) const override;
  Result<std::vector<Bytes>> sks_hashes_from_version(std::uint8_t version) const override;
  Result<void> put_recon_aliases(std::string_view peer,
                                 const std::vector<AliasChange>& changes) override;
  Result<void> for_each_recon_alias(
      std::string_view peer,
      const std::function<bool(ByteView peer_hash, ByteView ours)>& visit) const override;
  Result<StoreStats> stats() const override;
  std::uint64_t generation() const override;
  Result<ConsistencyReport> check() const override;
  Result<std::vector<std::string>> published(const Fingerprint& primary) const override;
  Result<std::vector<std::pair<std::string, std::uint64_t>>> published_times(
      const Fingerprint& primary) const override;
  Result<void> put_token(ByteView hash, const VerifyToken& token) override;
  Result<std::optional<VerifyToken>> token(ByteView hash) const override;
  Result<void> delete_token(ByteView hash) override;
  Result<void> for_each_token(
      const std::function<bool(ByteView hash, const VerifyToken&)>& visit) const override;
  Result<void> for_each_tombstone(
      const std::function<bool(const Fingerprint&, const Tombstone&)>& visit) const override;
  Result<void> put_tombstone(const Fingerprint& fpr, const Tombstone& tomb) override;
  Result<std::optional<std::string>> setting(std::string_view name) const override;
  Result<void> put_setting(std::string_view name, std::string_view value) override;
  Result<std::uint64_t> append_audit(std::uint64_t time, std::string_view text) override;
  Result<void> for_each_audit(const std::function<bool(const AuditEntry&)>& visit) const override;
  Result<void> start_log(const tlog::CommitmentScheme& scheme, std::uint64_t now) override;
  Result<void> append_log(const std::vector<LogItem>& items, std::uint64_t now) override;
  Result<LogState> log_state() const override;
  Result<std::optional<tlog::CommitmentScheme>> log_scheme() const override;
  Result<tlog::Hash> log_hash(tlog::NodeId id) const override;
  Result<std::vector<tlog::Hash>> log_hashes(std::uint8_t level, std::uint64_t first,
                                             std::uint64_t count) const override;
  Result<std::vector<Bytes>> log_entries(std::uint64_t first, std::uint64_t count) const override;
  Result<std::optional<std::uint64_t>> log_index(const Fingerprint& primary) const override;
  Result<ConsistencyReport> verify_log() const override;
  Result<std::unique_ptr<recon::TreeView>> recon_tree() const override;
  Result<std::uint64_t> rebuild_recon_tree() override;

  // Online backup: a consistent RocksDB checkpoint (hard links where the file
  // system allows) in `out_dir`, which must not exist. Restore = use that
  // folder as --data.
  Result<void> checkpoint(const std::string& out_dir) const;

  // Full compaction of every column family: after a bulk import, lookups
  // then read one sorted run per level instead of many fresh files.
  Result<void> compact();

  // The migration open() made, if any.
  const std::optional<SchemaMigration>& migration() const;

 private:
  struct Impl;
  explicit RocksKeyStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace keydir::storage
