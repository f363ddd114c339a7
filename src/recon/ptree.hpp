// The prefix tree of SKS reconciliation (conflux PrefixTree, SKS PTree).
//
// Every element (a 128-bit SKS key hash as an element of Z(p)) sits in the
// leaf named by the leading bits of its little-endian octets, bit_quantum
// bits per level. Each node keeps, for each sample point k, the product of
// (k - e) over the elements below it, so two peers can compare a subtree
// with a handful of numbers. A leaf splits into 2^bit_quantum children past
// split_threshold elements and its parent joins them again below
// join_threshold. The parameters must match the peer's (the config
// exchange checks bit_quantum and mbar).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "recon/ptree_config.hpp"
#include "recon/tree_view.hpp"
#include "recon/zp.hpp"

namespace keydir::recon {

class PrefixTree final : public TreeView {
 public:
  struct Node {
    Node* parent = nullptr;
    int index = 0;  // in the parent's children
    int depth = 0;
    std::uint64_t size = 0;
    std::vector<Zp> svalues;
    std::vector<Zp> elements;                     // a leaf's own elements
    std::vector<std::unique_ptr<Node>> children;  // empty for a leaf

    [[nodiscard]] bool is_leaf() const { return children.empty(); }
    // The node's name: depth * bit_quantum bits.
    [[nodiscard]] Bitstring key(int bit_quantum) const;
    // Every element at or below the node.
    [[nodiscard]] std::vector<Zp> all_elements() const;
  };

  explicit PrefixTree(TreeConfig config = {});

  [[nodiscard]] const TreeConfig& config() const override { return config_; }
  [[nodiscard]] const std::vector<Zp>& points() const override { return points_; }
  [[nodiscard]] const Node& root() const { return *root_; }
  [[nodiscard]] std::uint64_t size() const { return root_->size; }
  // The deepest node on the path of `prefix` (a leaf may stand for a
  // longer prefix, as in conflux).
  [[nodiscard]] const Node& node(const Bitstring& prefix) const;

  // False (and nothing changed) for an element already present, or equal
  // to a sample point (a 128-bit hash below 3: never in practice).
  bool insert(const Zp& z);
  // False when the element is absent.
  bool remove(const Zp& z);
  [[nodiscard]] bool contains(const Zp& z) const;

  // TreeView.
  [[nodiscard]] Result<TreeNode> root_node() const override;
  [[nodiscard]] Result<TreeNode> find(const Bitstring& prefix) const override;
  [[nodiscard]] Result<std::vector<TreeNode>> children_of(const TreeNode& n) const override;
  [[nodiscard]] Result<std::vector<Zp>> elements_of(const TreeNode& n) const override;

 private:
  int child_index(const Bitstring& bits, int depth) const {
    return recon::child_index(bits, depth, config_.bit_quantum);
  }
  TreeNode view(const Node& n) const;
  void split(Node& n);
  void join(Node& n);

  TreeConfig config_;
  std::vector<Zp> points_;
  std::unique_ptr<Node> root_;
};

}  // namespace keydir::recon
