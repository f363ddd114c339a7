#include "recon/ptree.hpp"

#include <algorithm>

#include "recon/poly.hpp"

namespace keydir::recon {

Bitstring Bitstring::of(ByteView bytes, int bits) {
  Bitstring b(bits);
  for (std::size_t i = 0; i < b.buf_.size() && i < bytes.size(); ++i) {
    b.buf_[i] = bytes[i];
  }
  if (bits % 8 != 0 && !b.buf_.empty()) {
    b.buf_.back() &= static_cast<std::uint8_t>(0xff << (8 - bits % 8));
  }
  return b;
}

Bitstring Bitstring::of(const Zp& z) {
  Bytes le = z.to_le(kZpBytes);
  return of(le, 129);
}

void Bitstring::set(int i, int v) {
  auto& byte = buf_[static_cast<std::size_t>(i / 8)];
  auto mask = static_cast<std::uint8_t>(1u << (7 - i % 8));
  byte = v ? static_cast<std::uint8_t>(byte | mask) : static_cast<std::uint8_t>(byte & ~mask);
}

std::string Bitstring::to_string() const {
  std::string s;
  for (int i = 0; i < bits_; ++i) {
    s.push_back(get(i) ? '1' : '0');
  }
  return s;
}

Bitstring PrefixTree::Node::key(int bit_quantum) const {
  Bitstring b(depth * bit_quantum);
  const Node* n = this;
  for (int d = depth; d > 0; --d, n = n->parent) {
    for (int j = 0; j < bit_quantum; ++j) {
      b.set((d - 1) * bit_quantum + j, (n->index >> j) & 1);
    }
  }
  return b;
}

std::vector<Zp> PrefixTree::Node::all_elements() const {
  std::vector<Zp> out;
  std::vector<const Node*> stack{this};
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    out.insert(out.end(), n->elements.begin(), n->elements.end());
    for (const auto& c : n->children) {
      stack.push_back(c.get());
    }
  }
  return out;
}

PrefixTree::PrefixTree(TreeConfig config)
    : config_(config),
      points_(sample_points(static_cast<std::size_t>(config.num_samples()))),
      root_(std::make_unique<Node>()) {
  root_->svalues.assign(points_.size(), Zp::of_int(1));
}

int child_index(const Bitstring& bits, int depth, int bit_quantum) {
  int index = 0;
  for (int j = 0; j < bit_quantum; ++j) {
    int bit = depth * bit_quantum + j;
    if (bit < bits.size() && bits.get(bit)) {
      index |= 1 << j;
    }
  }
  return index;
}

const PrefixTree::Node& PrefixTree::node(const Bitstring& prefix) const {
  const Node* n = root_.get();
  for (int depth = 0; (depth + 1) * config_.bit_quantum <= prefix.size() && !n->is_leaf();
       ++depth) {
    n = n->children[static_cast<std::size_t>(child_index(prefix, depth))].get();
  }
  return *n;
}

bool PrefixTree::contains(const Zp& z) const {
  const Node& leaf = node(Bitstring::of(z));
  return std::find(leaf.elements.begin(), leaf.elements.end(), z) != leaf.elements.end();
}

void PrefixTree::split(Node& n) {
  const std::size_t fan = std::size_t{1} << config_.bit_quantum;
  for (std::size_t i = 0; i < fan; ++i) {
    auto c = std::make_unique<Node>();
    c->parent = &n;
    c->index = static_cast<int>(i);
    c->depth = n.depth + 1;
    c->svalues.assign(points_.size(), Zp::of_int(1));
    n.children.push_back(std::move(c));
  }
  for (const Zp& e : n.elements) {
    Node& c = *n.children[static_cast<std::size_t>(child_index(Bitstring::of(e), n.depth))];
    for (std::size_t i = 0; i < points_.size(); ++i) {
      c.svalues[i] = c.svalues[i] * (points_[i] - e);
    }
    ++c.size;
    c.elements.push_back(e);
  }
  n.elements.clear();
  n.elements.shrink_to_fit();
  // A child may itself be over the threshold (all elements on one side):
  // conflux splits it on the next insert; the same here.
}

void PrefixTree::join(Node& n) {
  n.elements = n.all_elements();
  n.children.clear();
}

bool PrefixTree::insert(const Zp& z) {
  std::vector<Zp> factors(points_.size());
  for (std::size_t i = 0; i < points_.size(); ++i) {
    factors[i] = points_[i] - z;
    if (factors[i].is_zero()) {
      return false;
    }
  }
  if (contains(z)) {
    return false;
  }
  const Bitstring bits = Bitstring::of(z);
  Node* n = root_.get();
  for (;;) {
    for (std::size_t i = 0; i < factors.size(); ++i) {
      n->svalues[i] = n->svalues[i] * factors[i];
    }
    ++n->size;
    if (n->is_leaf()) {
      // As conflux: a leaf holding more than the threshold splits before
      // taking the new element.
      if (static_cast<int>(n->elements.size()) > config_.split_threshold() &&
          (n->depth + 1) * config_.bit_quantum <= bits.size()) {
        split(*n);
      } else {
        n->elements.push_back(z);
        return true;
      }
    }
    n = n->children[static_cast<std::size_t>(child_index(bits, n->depth))].get();
  }
}

bool PrefixTree::remove(const Zp& z) {
  if (!contains(z)) {
    return false;
  }
  std::vector<Zp> factors(points_.size());
  for (std::size_t i = 0; i < points_.size(); ++i) {
    factors[i] = (points_[i] - z).inverse();
  }
  const Bitstring bits = Bitstring::of(z);
  Node* n = root_.get();
  for (;;) {
    for (std::size_t i = 0; i < factors.size(); ++i) {
      n->svalues[i] = n->svalues[i] * factors[i];
    }
    --n->size;
    if (!n->is_leaf()) {
      if (static_cast<int>(n->size) <= config_.join_threshold()) {
        join(*n);
      } else {
        n = n->children[static_cast<std::size_t>(child_index(bits, n->depth))].get();
        continue;
      }
    }
    auto it = std::find(n->elements.begin(), n->elements.end(), z);
    n->elements.erase(it);
    return true;
  }
}

TreeNode PrefixTree::view(const Node& n) const {
  return TreeNode{n.key(config_.bit_quantum), n.depth, n.size, n.svalues, n.is_leaf()};
}

Result<TreeNode> PrefixTree::root_node() const {
  return view(*root_);
}

Result<TreeNode> PrefixTree::find(const Bitstring& prefix) const {
  return view(node(prefix));
}

Result<std::vector<TreeNode>> PrefixTree::children_of(const TreeNode& n) const {
  std::vector<TreeNode> out;
  for (const auto& c : node(n.key).children) {
    out.push_back(view(*c));
  }
  return out;
}

Result<std::vector<Zp>> PrefixTree::elements_of(const TreeNode& n) const {
  return node(n.key).all_elements();
}

}  // namespace keydir::recon
