#include "recon/adjusted_view.hpp"

#include <algorithm>
#include <set>

namespace keydir::recon {

Result<std::unique_ptr<AdjustedView>> AdjustedView::make(std::unique_ptr<TreeView> base,
                                                         const std::vector<Zp>& remove,
                                                         const std::vector<Zp>& add) {
  std::unique_ptr<AdjustedView> v(new AdjustedView(std::move(base)));
  // Whether the base holds z: the leaf on its path lists it.
  auto holds = [&](const Zp& z, const Bitstring& bits) -> Result<bool> {
    KEYDIR_TRY(TreeNode leaf, v->base_->find(bits));
    KEYDIR_TRY(auto elements, v->base_->elements_of(leaf));
    return std::find(elements.begin(), elements.end(), z) != elements.end();
  };
  std::set<Zp> seen;
  for (const Zp& z : remove) {
    Bitstring bits = Bitstring::of(z);
    KEYDIR_TRY(bool present, holds(z, bits));
    if (present && seen.insert(z).second) {
      v->remove_.push_back({z, std::move(bits)});
    }
  }
  const auto& points = v->base_->points();
  for (const Zp& z : add) {
    Bitstring bits = Bitstring::of(z);
    KEYDIR_TRY(bool present, holds(z, bits));
    // A sample point as an element would zero a product (never a real hash).
    if (!present && seen.insert(z).second &&
        std::find(points.begin(), points.end(), z) == points.end()) {
      v->add_.push_back({z, std::move(bits)});
    }
  }
  return v;
}

bool AdjustedView::under(const TreeNode& n, const Bitstring& bits) const {
  const int prefix = n.key.size();
  for (int i = 0; i < prefix; ++i) {
    if (bits.get(i) != n.key.get(i)) {
      return false;
    }
  }
  return true;
}

void AdjustedView::adjust(TreeNode& n) const {
  const auto& points = base_->points();
  for (const auto& m : remove_) {
    if (!under(n, m.bits)) {
      continue;
    }
    --n.size;
    for (std::size_t i = 0; i < n.svalues.size() && i < points.size(); ++i) {
      n.svalues[i] = n.svalues[i] / (points[i] - m.z);
    }
  }
  for (const auto& m : add_) {
    if (!under(n, m.bits)) {
      continue;
    }
    ++n.size;
    for (std::size_t i = 0; i < n.svalues.size() && i < points.size(); ++i) {
      n.svalues[i] = n.svalues[i] * (points[i] - m.z);
    }
  }
}

Result<TreeNode> AdjustedView::root_node() const {
  KEYDIR_TRY(TreeNode n, base_->root_node());
  adjust(n);
  return n;
}

Result<TreeNode> AdjustedView::find(const Bitstring& prefix) const {
  KEYDIR_TRY(TreeNode n, base_->find(prefix));
  adjust(n);
  return n;
}

Result<std::vector<TreeNode>> AdjustedView::children_of(const TreeNode& n) const {
  KEYDIR_TRY(auto children, base_->children_of(n));
  for (auto& c : children) {
    adjust(c);
  }
  return children;
}

Result<std::vector<Zp>> AdjustedView::elements_of(const TreeNode& n) const {
  KEYDIR_TRY(auto elements, base_->elements_of(n));
  for (const auto& m : remove_) {
    if (under(n, m.bits)) {
      elements.erase(std::remove(elements.begin(), elements.end(), m.z), elements.end());
    }
  }
  for (const auto& m : add_) {
    if (under(n, m.bits)) {
      elements.push_back(m.z);
    }
  }
  return elements;
}

}  // namespace keydir::recon
