// RocksKeyStore: the KeyStore on an embedded RocksDB (one database, one column
// family per index; layout in the README, "Storage layout").
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

#include <memory>
#include <string>

#include "storage/key_store.hpp"

namespace keydir::storage {

struct RocksOptions {
  bool sync_writes = false;
  // Serving wants the working set in the cache (README: figures); bulk import
  // gains little from it and keeps it small to bound its memory.
  std::size_t block_cache_bytes = 256u << 20;
  // Cache of whole rows for point reads (certificates, index sets); 0: none.
  std::size_t row_cache_bytes = 0;
  bool create_if_missing = true;
};

class RocksKeyStore final : public KeyStore {
 public:
  // Errors: StorageIo (cannot open, folder in use by another process),
  // StorageCorruption (schema of another version).
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
  Result<std::unique_ptr<recon::TreeView>> recon_tree() const override;
  Result<std::uint64_t> rebuild_recon_tree() override;

  // Online backup: a consistent RocksDB checkpoint (hard links where the file
  // system allows) in `out_dir`, which must not exist. Restore = use that
  // folder as --data.
  Result<void> checkpoint(const std::string& out_dir) const;

  // Full compaction of every column family: after a bulk import, lookups
  // then read one sorted run per level instead of many fresh files.
  Result<void> compact();

 private:
  struct Impl;
  explicit RocksKeyStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace keydir::storage
