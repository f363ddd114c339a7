// The Merkle tree of the transparency log (RFC 6962 / RFC 9162 hashing):
// leaf and node hashes, the right edge of a growing tree, inclusion and
// consistency proofs, and their checks. Pure arithmetic over a reader of
// stored hashes: the key store keeps the hashes (storage/rocksdb), the
// client only checks.
//
// A stored hash is the root of a complete, aligned subtree: level l, index k
// covers the leaves [k * 2^l, (k + 1) * 2^l). A tree of n leaves has every
// such subtree that ends at or before n.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/bytes.hpp"
#include "common/result.hpp"

namespace keydir::tlog {

using Hash = std::array<std::uint8_t, 32>;

Hash leaf_hash(ByteView entry);
Hash node_hash(const Hash& left, const Hash& right);
Hash empty_root();                              // SHA-256 of nothing
std::optional<Hash> hash_from(ByteView bytes);  // 32 octets
std::string hash_base64(const Hash& h);
std::optional<Hash> hash_from_base64(std::string_view text);  // strict: 44 characters

// A stored hash's place.
struct NodeId {
  std::uint8_t level = 0;
  std::uint64_t index = 0;
  bool operator==(const NodeId&) const = default;
};
using HashReader = std::function<Result<Hash>(NodeId)>;

// The complete subtrees on the right edge of a tree: enough to append a leaf
// and to compute the root, without reading anything.
class Frontier {
 public:
  Frontier() = default;
  // The edge of a tree of `size` leaves, read from its stored hashes.
  static Result<Frontier> load(std::uint64_t size, const HashReader& read);

  // Appends a leaf; `stored` receives every stored hash the leaf completes
  // (level 0 first).
  void append(const Hash& leaf, std::vector<std::pair<NodeId, Hash>>& stored);
  [[nodiscard]] std::uint64_t size() const { return size_; }
  [[nodiscard]] Hash root() const;
  // The edge as 32-octet hashes, largest subtree first (a monitor keeps it).
  [[nodiscard]] const std::vector<Hash>& hashes() const { return edge_; }
  static Result<Frontier> from_hashes(std::uint64_t size, std::vector<Hash> hashes);

 private:
  std::uint64_t size_ = 0;
  std::vector<Hash> edge_;  // one per set bit of size_, highest first
};

// The root of the subtree of leaves [lo, hi) of a tree of at least hi
// leaves (RFC 9162 MTH), from stored hashes.
Result<Hash> range_hash(std::uint64_t lo, std::uint64_t hi, const HashReader& read);
Result<Hash> tree_root(std::uint64_t size, const HashReader& read);

// RFC 9162 §2.1.3.1 and §2.1.4.1. Errors: BadQuery when the indexes do not
// fit the tree.
Result<std::vector<Hash>> inclusion_proof(std::uint64_t index, std::uint64_t size,
                                          const HashReader& read);
Result<std::vector<Hash>> consistency_proof(std::uint64_t old_size, std::uint64_t new_size,
                                            const HashReader& read);

// RFC 9162 §2.1.3.2 and §2.1.4.2.
bool verify_inclusion(std::uint64_t index, std::uint64_t size, const Hash& leaf,
                      const std::vector<Hash>& proof, const Hash& root);
bool verify_consistency(std::uint64_t old_size, std::uint64_t new_size, const Hash& old_root,
                        const Hash& new_root, const std::vector<Hash>& proof);

}  // namespace keydir::tlog
