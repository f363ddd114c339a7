// What a reconciliation session reads of a prefix tree, whatever holds it:
// the in-memory PrefixTree (tests, benchmarks) or the tree the key store
// keeps next to the certificates (storage/rocksdb/recon_tree). A view is
// read-only and must not change during a session; the stored tree's views
// read one database snapshot.
#pragma once

#include <cstdint>
#include <vector>

#include "common/result.hpp"
#include "recon/ptree_config.hpp"
#include "recon/zp.hpp"

namespace keydir::recon {

struct TreeNode {
  Bitstring key;  // depth * bit_quantum bits
  int depth = 0;
  std::uint64_t size = 0;
  std::vector<Zp> svalues;
  bool leaf = true;
};

class TreeView {
 public:
  virtual ~TreeView() = default;
  [[nodiscard]] virtual const TreeConfig& config() const = 0;
  [[nodiscard]] virtual const std::vector<Zp>& points() const = 0;
  [[nodiscard]] virtual Result<TreeNode> root_node() const = 0;
  // The deepest node on the path of `prefix` (a leaf may stand for a
  // longer prefix, as in conflux).
  [[nodiscard]] virtual Result<TreeNode> find(const Bitstring& prefix) const = 0;
  // An internal node's 2^bit_quantum children, in index order.
  [[nodiscard]] virtual Result<std::vector<TreeNode>> children_of(const TreeNode& n) const = 0;
  // Every element at or below the node.
  [[nodiscard]] virtual Result<std::vector<Zp>> elements_of(const TreeNode& n) const = 0;
};

}  // namespace keydir::recon
