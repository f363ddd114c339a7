#include "recon/adjusted_view.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace keydir::recon {

Result<std::unique_ptr<AdjustedView>> AdjustedView::make(std::unique_ptr<TreeView> base,
                                                         const std::vector<Zp>& remove,
                                                         const std::vector<Zp>& add) {
  std::unique_ptr<AdjustedView> v(new AdjustedView(std::move(base)));
  // The leaf on z's path, and whether it lists z.
  auto leaf_of = [&](const Zp& z, const Bitstring& bits, int& depth) -> Result<bool> {
    KEYDIR_TRY(TreeNode leaf, v->base_->find(bits));
    depth = leaf.depth;
    KEYDIR_TRY(auto elements, v->base_->elements_of(leaf));
    return std::find(elements.begin(), elements.end(), z) != elements.end();
  };
  const auto& points = v->base_->points();
  std::set<Zp> seen;  // each element once, before any read
  for (const Zp& z : remove) {
    if (!seen.insert(z).second) {
      continue;
    }
    Bitstring bits = Bitstring::of(z);
    int depth = 0;
    KEYDIR_TRY(bool present, leaf_of(z, bits, depth));
    if (present) {
      v->remove_.push_back({z, std::move(bits), depth});
    }
  }
  for (const Zp& z : add) {
    // A sample point as an element would zero a product (never a real hash).
    if (!seen.insert(z).second || std::find(points.begin(), points.end(), z) != points.end()) {
      continue;
    }
    Bitstring bits = Bitstring::of(z);
    int depth = 0;
    KEYDIR_TRY(bool present, leaf_of(z, bits, depth));
    if (!present) {
      v->add_.push_back({z, std::move(bits), depth});
    }
  }
  // In bit order (an element's bits are its octets, most significant bit
  // first): the elements below a node are one contiguous range.
  auto by_bits = [](const Moved& a, const Moved& b) { return a.bits.bytes() < b.bits.bytes(); };
  std::sort(v->remove_.begin(), v->remove_.end(), by_bits);
  std::sort(v->add_.begin(), v->add_.end(), by_bits);
  // Each node on a moved element's path, root to leaf, once: its size
  // change and the factor of its sample values (one inversion per sample
  // point and node), so reading a node costs one lookup however many
  // elements moved.
  const int bq = v->base_->config().bit_quantum;
  struct Acc {
    std::int64_t size = 0;
    std::vector<Zp> num, den;
  };
  std::map<std::string, Acc> acc;
  auto walk = [&](const Moved& m, bool adding) {
    const std::string all = m.bits.to_string();
    for (int d = 0; d <= m.depth; ++d) {
      Acc& a = acc[all.substr(0, static_cast<std::size_t>(d * bq))];
      if (a.num.empty()) {
        a.num.assign(points.size(), Zp::of_int(1));
        a.den.assign(points.size(), Zp::of_int(1));
      }
      a.size += adding ? 1 : -1;
      auto& f = adding ? a.num : a.den;
      for (std::size_t i = 0; i < points.size(); ++i) {
        f[i] = f[i] * (points[i] - m.z);
      }
    }
  };
  for (const auto& m : v->remove_) {
    walk(m, false);
  }
  for (const auto& m : v->add_) {
    walk(m, true);
  }
  for (auto& [key, a] : acc) {
    Delta d{a.size, std::vector<Zp>(points.size())};
    for (std::size_t i = 0; i < points.size(); ++i) {
      d.factor[i] = a.num[i] / a.den[i];
    }
    v->deltas_.emplace(key, std::move(d));
  }
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
  auto hi = std::partition_point(
      lo, moved.end(), [&](const Moved& m) { return compare_prefix(m.bits, prefix) == 0; });
  return {static_cast<std::size_t>(lo - moved.begin()),
          static_cast<std::size_t>(hi - moved.begin())};
}

void AdjustedView::adjust(TreeNode& n) const {
  auto it = deltas_.find(n.key.to_string());
  if (it == deltas_.end()) {
    return;  // nothing moved below this node
  }
  const Delta& d = it->second;
  for (std::size_t i = 0; i < n.svalues.size() && i < d.factor.size(); ++i) {
    n.svalues[i] = n.svalues[i] * d.factor[i];
  }
  n.size = static_cast<std::uint64_t>(static_cast<std::int64_t>(n.size) + d.size);
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
