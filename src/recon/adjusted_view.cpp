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
  // In bit order (an element's bits are its octets, most significant bit
  // first): the elements below a node are one contiguous range.
  auto by_bits = [](const Moved& a, const Moved& b) { return a.bits.bytes() < b.bits.bytes(); };
  std::sort(v->remove_.begin(), v->remove_.end(), by_bits);
  std::sort(v->add_.begin(), v->add_.end(), by_bits);
  return v;
}

namespace {

// -1, 0, 1: the first `n` bits of `bits` against `prefix` (n bits).
int compare_prefix(const Bitstring& bits, const Bitstring& prefix) {
  for (int i = 0; i < prefix.size(); ++i) {
    const int a = bits.get(i);
    const int b = prefix.get(i);
    if (a != b) {
      return a < b ? -1 : 1;
    }
  }
  return 0;
}

}  // namespace

std::pair<std::size_t, std::size_t> AdjustedView::range(const std::vector<Moved>& moved,
                                                        const Bitstring& prefix) {
  auto lo = std::partition_point(moved.begin(), moved.end(), [&](const Moved& m) {
    return compare_prefix(m.bits, prefix) < 0;
  });
  auto hi = std::partition_point(lo, moved.end(), [&](const Moved& m) {
    return compare_prefix(m.bits, prefix) == 0;
  });
  return {static_cast<std::size_t>(lo - moved.begin()), static_cast<std::size_t>(hi - moved.begin())};
}

void AdjustedView::adjust(TreeNode& n) const {
  const auto& points = base_->points();
  const std::size_t samples = std::min(n.svalues.size(), points.size());
  auto [rlo, rhi] = range(remove_, n.key);
  if (rlo < rhi) {
    // One inversion per sample point for the whole range.
    std::vector<Zp> divisor(samples, Zp::of_int(1));
    for (std::size_t j = rlo; j < rhi; ++j) {
      for (std::size_t i = 0; i < samples; ++i) {
        divisor[i] = divisor[i] * (points[i] - remove_[j].z);
      }
    }
    for (std::size_t i = 0; i < samples; ++i) {
      n.svalues[i] = n.svalues[i] / divisor[i];
    }
    n.size -= rhi - rlo;
  }
  auto [alo, ahi] = range(add_, n.key);
  for (std::size_t j = alo; j < ahi; ++j) {
    for (std::size_t i = 0; i < samples; ++i) {
      n.svalues[i] = n.svalues[i] * (points[i] - add_[j].z);
    }
  }
  n.size += ahi - alo;
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
  auto [rlo, rhi] = range(remove_, n.key);
  if (rlo < rhi) {
    std::set<Zp> gone;
    for (std::size_t j = rlo; j < rhi; ++j) {
      gone.insert(remove_[j].z);
    }
    elements.erase(std::remove_if(elements.begin(), elements.end(),
                                  [&](const Zp& z) { return gone.count(z) > 0; }),
                   elements.end());
  }
  auto [alo, ahi] = range(add_, n.key);
  for (std::size_t j = alo; j < ahi; ++j) {
    elements.push_back(add_[j].z);
  }
  return elements;
}

}  // namespace keydir::recon
