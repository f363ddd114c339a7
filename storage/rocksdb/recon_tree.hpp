// The SKS reconciliation prefix tree kept in RocksDB next to the keys
// (issue #9): its elements are the keys of the by_sks index (16-octet SKS
// key hashes), and every change to that index changes the tree in the same
// WriteBatch, so the two cannot disagree after a crash.
//
// Layout, column family recon_tree: key "n" + one octet per level (the
// child index, 0 .. 2^bit_quantum - 1), value the node's element count
// (8 octets, big-endian) and its sample values (17 octets each,
// little-endian). Only non-empty nodes are stored.
//
// Shape: unlike conflux, whose splits and joins depend on the order of
// inserts, a node here is internal exactly when it holds more than
// split_threshold elements, so the tree is a function of the set and
// `compute` can rebuild or check it. Every child of an internal node is
// stored; nothing below a leaf is. A leaf's elements are read from the
// by_sks index, whose octet order is the tree's bit order. The protocol
// lets peers shape their trees differently: a request names a prefix, and
// the sample values of a prefix depend only on the set.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "common/result.hpp"
#include "recon/tree_view.hpp"

namespace keydir::storage::rocks {

struct TreeNodeValue {
  std::uint64_t count = 0;
  std::vector<recon::Zp> svalues;
  bool operator==(const TreeNodeValue&) const = default;
};

class ReconTree {
 public:
  ReconTree(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* tree_cf,
            rocksdb::ColumnFamilyHandle* hash_cf);

  [[nodiscard]] const recon::TreeConfig& config() const { return config_; }
  // Written in the meta column family; a store whose tree has another
  // signature (or none) is rebuilt when opened.
  [[nodiscard]] std::string signature() const;

  // The tree changes of one write batch. The store's writer lock must be
  // held from the first call to `flush`: reads see the database as of the
  // batch's start plus this transaction's own changes.
  class Txn {
   public:
    explicit Txn(const ReconTree& tree) : tree_(tree) {}
    // A hash that enters or leaves the by_sks index.
    Result<void> insert(ByteView hash);
    Result<void> remove(ByteView hash);
    void flush(rocksdb::WriteBatch& batch) const;

   private:
    Result<void> change(ByteView hash, bool add);
    Result<bool> present(const std::string& hash);
    Result<TreeNodeValue> load(const std::string& digits);
    void store(const std::string& digits, TreeNodeValue v);
    Result<std::vector<std::string>> hashes_under(const std::string& digits);
    void materialize(const std::string& digits, const std::vector<std::string>& hashes);
    Result<void> drop_below(const std::string& digits);

    const ReconTree& tree_;
    std::map<std::string, std::optional<TreeNodeValue>> nodes_;  // nullopt: deleted
    std::map<std::string, bool> hashes_;                         // present or not
  };

  // A read-only view of one snapshot.
  [[nodiscard]] std::unique_ptr<recon::TreeView> view() const;

  // The tree the by_sks index implies, node by node ("n" + digits → value),
  // computed from the index alone; `emit` is called once per non-empty node.
  Result<std::uint64_t> compute(
      const rocksdb::ReadOptions& ro,
      const std::function<void(const std::string& key, const TreeNodeValue&)>& emit) const;

  // Node encoding (exposed for the checks).
  [[nodiscard]] std::string encode(const TreeNodeValue& v) const;
  [[nodiscard]] Result<TreeNodeValue> decode(std::string_view v) const;
  [[nodiscard]] bool internal(std::uint64_t count, int depth) const;
  [[nodiscard]] TreeNodeValue empty() const;

 private:
  friend class StoredView;
  // The node's value from `ro`'s view (empty when absent).
  Result<TreeNodeValue> read(const rocksdb::ReadOptions& ro, const std::string& digits) const;
  // Every element hash under a node, from `ro`'s view, in index order.
  Result<std::vector<std::string>> scan(const rocksdb::ReadOptions& ro,
                                        const std::string& digits) const;
  [[nodiscard]] TreeNodeValue value_of(const std::vector<std::string>& hashes) const;

  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* tree_cf_;
  rocksdb::ColumnFamilyHandle* hash_cf_;
  recon::TreeConfig config_;
  std::vector<recon::Zp> points_;
};

}  // namespace keydir::storage::rocks
