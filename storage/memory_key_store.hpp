// MemoryKeyStore: the whole KeyStore in memory (std::map-based, one mutex),
// for tests of the layers above storage that need no RocksDB, and for a
// throw-away keydird. Nothing survives the object.
//
// It behaves as RocksKeyStore does, method for method (the conformance
// suite, tests/unit/storage/key_store_conformance_test.cpp, runs the same
// tests against both): the same best-claim rules for fingerprints and key
// IDs, the same fingerprint order and limits, the same bound on the members
// of one key ID, address or WKD hash, the same change-log sequence numbers,
// the same treatment of Write::previous (the caller's word for what the old
// version indexed), and a recon tree of the same shape (a node is internal
// exactly when it holds more than split_threshold elements).
//
// Snapshots: certificates are kept as shared immutable records, and the
// recon tree as a shared immutable state that a write copies only while a
// view still holds it. Iterations (for_each, for_each_token, ...) take a
// snapshot under the mutex and visit it without holding the mutex, so a
// visitor may read and write the store, as with RocksDB's iterators; a
// recon_tree() view does not change while a session walks it.
//
// Differences that are not behaviour: stats().disk_bytes is 0 (nothing on
// disk), writes never fail, and generation() also grows on append_audit
// (every write of the store, as key_store.hpp says).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "storage/key_store.hpp"

namespace keydir::storage {

class MemoryKeyStore final : public KeyStore {
 public:
  MemoryKeyStore();
  ~MemoryKeyStore() override;
  MemoryKeyStore(const MemoryKeyStore&) = delete;
  MemoryKeyStore& operator=(const MemoryKeyStore&) = delete;

  Result<std::optional<CertRecord>> get(const Fingerprint& primary) const override;
  Result<std::vector<CertRecord>> lookup(const Query& query, std::size_t limit) const override;
  Result<std::vector<std::uint64_t>> apply(std::vector<Write>& writes, std::uint64_t now) override;
  Result<void> remove(const CertRecord& record, const Tombstone& tomb) override;
  Result<std::optional<Tombstone>> tombstone(const Fingerprint& fpr) const override;
  Result<void> clear_tombstone(const Fingerprint& fpr) override;
  Result<std::vector<ChangeEntry>> changes_since(std::uint64_t seq,
                                                 std::size_t limit) const override;
  Result<std::unique_ptr<recon::TreeView>> recon_tree() const override;
  Result<std::uint64_t> rebuild_recon_tree() override;
  Result<std::vector<Bytes>> sks_hashes_from_version(std::uint8_t version) const override;
  Result<void> put_recon_aliases(std::string_view peer,
                                 const std::vector<AliasChange>& changes) override;
  Result<void> for_each_recon_alias(
      std::string_view peer,
      const std::function<bool(ByteView peer_hash, ByteView ours)>& visit) const override;
  Result<void> for_each(const std::function<bool(const CertRecord&)>& visit) const override;
  Result<StoreStats> stats() const override;
  Result<ConsistencyReport> check() const override;
  std::uint64_t generation() const override;
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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace keydir::storage
