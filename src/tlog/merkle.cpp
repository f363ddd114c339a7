#include "tlog/merkle.hpp"

#include <bit>
#include <cstring>

#include "openpgp/crypto/primitives.hpp"

namespace keydir::tlog {

namespace {
Hash to_hash(const Bytes& b) {
  Hash h{};
  std::memcpy(h.data(), b.data(), h.size());
  return h;
}
// The largest power of two smaller than n (n > 1).
std::uint64_t split_point(std::uint64_t n) {
  return std::bit_floor(n - 1);
}
bool lsb(std::uint64_t x) {
  return (x & 1U) != 0;
}
}  // namespace

Hash leaf_hash(ByteView entry) {
  Bytes in;
  in.reserve(entry.size() + 1);
  in.push_back(0x00);
  in.insert(in.end(), entry.begin(), entry.end());
  return to_hash(openpgp::crypto::sha256(in));
}

Hash node_hash(const Hash& left, const Hash& right) {
  std::array<std::uint8_t, 65> in{};
  in[0] = 0x01;
  std::memcpy(in.data() + 1, left.data(), 32);
  std::memcpy(in.data() + 33, right.data(), 32);
  return to_hash(openpgp::crypto::sha256(ByteView(in.data(), in.size())));
}

Hash empty_root() {
  return to_hash(openpgp::crypto::sha256(ByteView()));
}

std::optional<Hash> hash_from(ByteView bytes) {
  if (bytes.size() != 32) {
    return std::nullopt;
  }
  Hash h{};
  std::memcpy(h.data(), bytes.data(), 32);
  return h;
}

std::string hash_base64(const Hash& h) {
  return base64_encode(ByteView(h.data(), h.size()));
}

std::optional<Hash> hash_from_base64(std::string_view text) {
  if (text.size() != 44) {
    return std::nullopt;
  }
  for (char c : text) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
          c == '/' || c == '=')) {
      return std::nullopt;
    }
  }
  auto b = base64_decode(text);
  if (!b) {
    return std::nullopt;
  }
  return hash_from(*b);
}

Result<Frontier> Frontier::load(std::uint64_t size, const HashReader& read) {
  Frontier f;
  f.size_ = size;
  std::uint64_t start = 0;
  for (int level = 63; level >= 0; --level) {
    const std::uint64_t width = std::uint64_t{1} << level;
    if ((size & width) == 0) {
      continue;
    }
    KEYDIR_TRY(auto h, read(NodeId{static_cast<std::uint8_t>(level), start >> level}));
    f.edge_.push_back(h);
    start += width;
  }
  return f;
}

Result<Frontier> Frontier::from_hashes(std::uint64_t size, std::vector<Hash> hashes) {
  if (static_cast<std::size_t>(std::popcount(size)) != hashes.size()) {
    return fail(ErrorCode::BadQuery, "a tree edge needs one hash per set bit of the size");
  }
  Frontier f;
  f.size_ = size;
  f.edge_ = std::move(hashes);
  return f;
}

void Frontier::append(const Hash& leaf, std::vector<std::pair<NodeId, Hash>>& stored) {
  const std::uint64_t n = size_;
  Hash h = leaf;
  stored.emplace_back(NodeId{0, n}, h);
  std::uint8_t level = 0;
  // Each trailing one bit of n is a complete subtree on the edge that the
  // new leaf completes into the next level.
  while ((n >> level) & 1U) {
    h = node_hash(edge_.back(), h);
    edge_.pop_back();
    ++level;
    stored.emplace_back(NodeId{level, n >> level}, h);
  }
  edge_.push_back(h);
  ++size_;
}

Hash Frontier::root() const {
  if (edge_.empty()) {
    return empty_root();
  }
  Hash h = edge_.back();
  for (std::size_t i = edge_.size() - 1; i-- > 0;) {
    h = node_hash(edge_[i], h);
  }
  return h;
}

Result<Hash> range_hash(std::uint64_t lo, std::uint64_t hi, const HashReader& read) {
  if (hi <= lo) {
    return fail(ErrorCode::BadQuery, "an empty range has no subtree hash");
  }
  const std::uint64_t n = hi - lo;
  if (std::has_single_bit(n) && lo % n == 0) {
    return read(NodeId{static_cast<std::uint8_t>(std::countr_zero(n)), lo / n});
  }
  const std::uint64_t k = split_point(n);
  KEYDIR_TRY(auto left, range_hash(lo, lo + k, read));
  KEYDIR_TRY(auto right, range_hash(lo + k, hi, read));
  return node_hash(left, right);
}

Result<Hash> tree_root(std::uint64_t size, const HashReader& read) {
  if (size == 0) {
    return empty_root();
  }
  return range_hash(0, size, read);
}

namespace {
Result<void> path(std::uint64_t m, std::uint64_t lo, std::uint64_t hi, const HashReader& read,
                  std::vector<Hash>& out) {
  const std::uint64_t n = hi - lo;
  if (n == 1) {
    return {};
  }
  const std::uint64_t k = split_point(n);
  if (m < k) {
    KEYDIR_CHECK(path(m, lo, lo + k, read, out));
    KEYDIR_TRY(auto h, range_hash(lo + k, hi, read));
    out.push_back(h);
  } else {
    KEYDIR_CHECK(path(m - k, lo + k, hi, read, out));
    KEYDIR_TRY(auto h, range_hash(lo, lo + k, read));
    out.push_back(h);
  }
  return {};
}

Result<void> subproof(std::uint64_t m, std::uint64_t lo, std::uint64_t hi, bool whole,
                      const HashReader& read, std::vector<Hash>& out) {
  const std::uint64_t n = hi - lo;
  if (m == n) {
    if (!whole) {
      KEYDIR_TRY(auto h, range_hash(lo, hi, read));
      out.push_back(h);
    }
    return {};
  }
  const std::uint64_t k = split_point(n);
  if (m <= k) {
    KEYDIR_CHECK(subproof(m, lo, lo + k, whole, read, out));
    KEYDIR_TRY(auto h, range_hash(lo + k, hi, read));
    out.push_back(h);
  } else {
    KEYDIR_CHECK(subproof(m - k, lo + k, hi, false, read, out));
    KEYDIR_TRY(auto h, range_hash(lo, lo + k, read));
    out.push_back(h);
  }
  return {};
}
}  // namespace

Result<std::vector<Hash>> inclusion_proof(std::uint64_t index, std::uint64_t size,
                                          const HashReader& read) {
  if (index >= size) {
    return fail(ErrorCode::BadQuery, "the entry is not in a tree of that size");
  }
  std::vector<Hash> out;
  KEYDIR_CHECK(path(index, 0, size, read, out));
  return out;
}

Result<std::vector<Hash>> consistency_proof(std::uint64_t old_size, std::uint64_t new_size,
                                            const HashReader& read) {
  if (old_size > new_size) {
    return fail(ErrorCode::BadQuery, "the old tree is larger than the new one");
  }
  std::vector<Hash> out;
  if (old_size == 0 || old_size == new_size) {
    return out;
  }
  KEYDIR_CHECK(subproof(old_size, 0, new_size, true, read, out));
  return out;
}

bool verify_inclusion(std::uint64_t index, std::uint64_t size, const Hash& leaf,
                      const std::vector<Hash>& proof, const Hash& root) {
  if (index >= size) {
    return false;
  }
  std::uint64_t fn = index;
  std::uint64_t sn = size - 1;
  Hash r = leaf;
  for (const auto& p : proof) {
    if (sn == 0) {
      return false;
    }
    if (lsb(fn) || fn == sn) {
      r = node_hash(p, r);
      while (!lsb(fn) && fn != 0) {
        fn >>= 1U;
        sn >>= 1U;
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1U;
    sn >>= 1U;
  }
  return sn == 0 && r == root;
}

bool verify_consistency(std::uint64_t old_size, std::uint64_t new_size, const Hash& old_root,
                        const Hash& new_root, const std::vector<Hash>& proof) {
  if (old_size > new_size) {
    return false;
  }
  if (old_size == new_size) {
    return proof.empty() && old_root == new_root;
  }
  if (old_size == 0) {
    return proof.empty();  // the empty tree is a prefix of every tree
  }
  std::vector<Hash> path = proof;
  if (std::has_single_bit(old_size)) {
    path.insert(path.begin(), old_root);
  }
  if (path.empty()) {
    return false;
  }
  std::uint64_t fn = old_size - 1;
  std::uint64_t sn = new_size - 1;
  while (lsb(fn)) {
    fn >>= 1U;
    sn >>= 1U;
  }
  Hash fr = path[0];
  Hash sr = path[0];
  for (std::size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) {
      return false;
    }
    if (lsb(fn) || fn == sn) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
      while (!lsb(fn) && fn != 0) {
        fn >>= 1U;
        sn >>= 1U;
      }
    } else {
      sr = node_hash(sr, c);
    }
    fn >>= 1U;
    sn >>= 1U;
  }
  return fr == old_root && sr == new_root && sn == 0;
}

}  // namespace keydir::tlog
