// A prefix tree as one peer is shown it: another view's elements, minus some
// and plus others, without copying the tree. Each node's size, sample values
// (divided by, or multiplied with, (k - e) for each element e moved below
// it) and elements are adjusted as they are read, so a session walks it as
// if the tree held that set; the structure (leaf or not) is the base's.
//
// keydird uses it to show a peer the set that the peer's filters describe
// (recon/filters.hpp): v5 and v6 keys left out for a peer that takes v3 and
// v4 only, and, for a key the peer holds in a form keydird's policy does not
// keep, the peer's hash in place of keydird's.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "recon/tree_view.hpp"

namespace keydir::recon {

class AdjustedView final : public TreeView {
 public:
  // `remove` elements absent from `base` and `add` elements present in it
  // are ignored (checked against `base`, so the sums stay exact even when
  // the lists were read at another moment than the view's snapshot).
  static Result<std::unique_ptr<AdjustedView>> make(std::unique_ptr<TreeView> base,
                                                    const std::vector<Zp>& remove,
                                                    const std::vector<Zp>& add);

  [[nodiscard]] const TreeConfig& config() const override { return base_->config(); }
  [[nodiscard]] const std::vector<Zp>& points() const override { return base_->points(); }
  [[nodiscard]] Result<TreeNode> root_node() const override;
  [[nodiscard]] Result<TreeNode> find(const Bitstring& prefix) const override;
  [[nodiscard]] Result<std::vector<TreeNode>> children_of(const TreeNode& n) const override;
  [[nodiscard]] Result<std::vector<Zp>> elements_of(const TreeNode& n) const override;

  [[nodiscard]] std::size_t removed() const { return remove_.size(); }
  [[nodiscard]] std::size_t added() const { return add_.size(); }

 private:
  struct Moved {
    Zp z;
    Bitstring bits;
    int depth = 0;  // of the base's leaf on its path
  };
  struct Delta {
    std::int64_t size = 0;
    std::vector<Zp> factor;  // per sample point
  };
  AdjustedView(std::unique_ptr<TreeView> base) : base_(std::move(base)) {}
  // [first, last) of the elements of `moved` below the node named `prefix`.
  static std::pair<std::size_t, std::size_t> range(const std::vector<Moved>& moved,
                                                   const Bitstring& prefix);
  void adjust(TreeNode& n) const;

  std::unique_ptr<TreeView> base_;
  std::vector<Moved> remove_;
  std::vector<Moved> add_;
  // Node name (its bits as "0101…") → what changed below it.
  std::map<std::string, Delta> deltas_;
};

}  // namespace keydir::recon
