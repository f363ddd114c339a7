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
#include "recon/zp.hpp"

namespace keydir::recon {

struct TreeConfig {
  int bit_quantum = 2;
  int mbar = 5;
  int thresh_mult = 10;
  [[nodiscard]] int split_threshold() const { return thresh_mult * mbar; }
  [[nodiscard]] int join_threshold() const { return split_threshold() / 2; }
  [[nodiscard]] int num_samples() const { return mbar + 1; }
};

// Bits numbered from the most significant bit of the first octet (conflux
// Bitstring).
class Bitstring {
 public:
  Bitstring() = default;
  explicit Bitstring(int bits) : bits_(bits), buf_((static_cast<std::size_t>(bits) + 7) / 8) {}
  // The first `bits` bits of `bytes` (the rest of the last octet cleared).
  static Bitstring of(ByteView bytes, int bits);
  // An element's bits: its 17 little-endian octets, 129 bits.
  static Bitstring of(const Zp& z);

  [[nodiscard]] int size() const { return bits_; }
  [[nodiscard]] const Bytes& bytes() const { return buf_; }
  [[nodiscard]] int get(int i) const { return (buf_[static_cast<std::size_t>(i / 8)] >> (7 - i % 8)) & 1; }
  void set(int i, int v);
  [[nodiscard]] std::string to_string() const;  // "0110..."
  friend bool operator==(const Bitstring&, const Bitstring&) = default;

 private:
  int bits_ = 0;
  Bytes buf_;
};

class PrefixTree {
 public:
  struct Node {
    Node* parent = nullptr;
    int index = 0;  // in the parent's children
    int depth = 0;
    std::uint64_t size = 0;
    std::vector<Zp> svalues;
    std::vector<Zp> elements;                   // a leaf's own elements
    std::vector<std::unique_ptr<Node>> children;  // empty for a leaf

    [[nodiscard]] bool is_leaf() const { return children.empty(); }
    // The node's name: depth * bit_quantum bits.
    [[nodiscard]] Bitstring key(int bit_quantum) const;
    // Every element at or below the node.
    [[nodiscard]] std::vector<Zp> all_elements() const;
  };

  explicit PrefixTree(TreeConfig config = {});

  [[nodiscard]] const TreeConfig& config() const { return config_; }
  [[nodiscard]] const std::vector<Zp>& points() const { return points_; }
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

 private:
  int child_index(const Bitstring& bits, int depth) const;
  void split(Node& n);
  void join(Node& n);

  TreeConfig config_;
  std::vector<Zp> points_;
  std::unique_ptr<Node> root_;
};

}  // namespace keydir::recon
