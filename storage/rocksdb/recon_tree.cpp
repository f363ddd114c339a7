#include "storage/rocksdb/recon_tree.hpp"

#include <algorithm>
#include <array>

#include "recon/poly.hpp"

namespace keydir::storage::rocks {

using recon::Zp;

namespace {

constexpr std::size_t kHashBytes = 16;
constexpr int kHashBits = 128;

tl::unexpected<Error> io_error(const rocksdb::Status& s, std::string_view what) {
  return fail(s.IsCorruption() ? ErrorCode::StorageCorruption : ErrorCode::StorageIo,
              std::string(what) + ": " + s.ToString());
}

// Bit `i` of a hash, numbered from the most significant bit of its first
// octet (recon::Bitstring::of of the element).
int bit(std::string_view hash, int i) {
  if (i >= kHashBits) {
    return 0;
  }
  return (static_cast<std::uint8_t>(hash[static_cast<std::size_t>(i / 8)]) >> (7 - i % 8)) & 1;
}

int digit(std::string_view hash, int depth, int bq) {
  int d = 0;
  for (int j = 0; j < bq; ++j) {
    d |= bit(hash, depth * bq + j) << j;
  }
  return d;
}

bool under(std::string_view hash, const std::string& digits, int bq) {
  for (std::size_t k = 0; k < digits.size(); ++k) {
    if (digit(hash, static_cast<int>(k), bq) != digits[k]) {
      return false;
    }
  }
  return true;
}

std::string node_key(const std::string& digits) {
  return "n" + digits;
}

// A hash the tree holds: 16 octets and not one of the sample points (a
// hash below 3: never in practice, but the product would be zero).
bool is_element(std::string_view hash, const std::vector<Zp>& points) {
  if (hash.size() != kHashBytes) {
    return false;
  }
  Zp z = Zp::from_le(as_bytes(hash));
  return std::none_of(points.begin(), points.end(), [&](const Zp& p) { return p == z; });
}

recon::Bitstring key_of(const std::string& digits, int bq) {
  recon::Bitstring b(static_cast<int>(digits.size()) * bq);
  for (std::size_t k = 0; k < digits.size(); ++k) {
    for (int j = 0; j < bq; ++j) {
      b.set(static_cast<int>(k) * bq + j, (digits[k] >> j) & 1);
    }
  }
  return b;
}

}  // namespace

ReconTree::ReconTree(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* tree_cf,
                     rocksdb::ColumnFamilyHandle* hash_cf)
    : db_(db),
      tree_cf_(tree_cf),
      hash_cf_(hash_cf),
      points_(recon::sample_points(static_cast<std::size_t>(config_.num_samples()))) {}

std::string ReconTree::signature() const {
  return "1 bq=" + std::to_string(config_.bit_quantum) + " mbar=" + std::to_string(config_.mbar) +
         " split=" + std::to_string(config_.split_threshold());
}

bool ReconTree::internal(std::uint64_t count, int depth) const {
  return count > static_cast<std::uint64_t>(config_.split_threshold()) &&
         (depth + 1) * config_.bit_quantum <= kHashBits;
}

TreeNodeValue ReconTree::empty() const {
  return TreeNodeValue{0, std::vector<Zp>(points_.size(), Zp::of_int(1))};
}

std::string ReconTree::encode(const TreeNodeValue& v) const {
  std::string out;
  out.reserve(8 + v.svalues.size() * recon::kZpBytes);
  for (int i = 7; i >= 0; --i) {
    out.push_back(static_cast<char>(v.count >> (8 * i)));
  }
  for (const auto& s : v.svalues) {
    out.append(as_chars(s.to_le(recon::kZpBytes)));
  }
  return out;
}

Result<TreeNodeValue> ReconTree::decode(std::string_view v) const {
  if (v.size() != 8 + points_.size() * recon::kZpBytes) {
    return fail(ErrorCode::StorageCorruption,
                "recon tree node of " + std::to_string(v.size()) + " octets");
  }
  TreeNodeValue out;
  for (std::size_t i = 0; i < 8; ++i) {
    out.count = out.count << 8 | static_cast<std::uint8_t>(v[i]);
  }
  for (std::size_t i = 0; i < points_.size(); ++i) {
    out.svalues.push_back(
        Zp::from_le(as_bytes(v.substr(8 + i * recon::kZpBytes, recon::kZpBytes))));
  }
  return out;
}

TreeNodeValue ReconTree::value_of(const std::vector<std::string>& hashes) const {
  TreeNodeValue v = empty();
  v.count = hashes.size();
  for (const auto& h : hashes) {
    Zp z = Zp::from_le(as_bytes(h));
    for (std::size_t i = 0; i < points_.size(); ++i) {
      v.svalues[i] = v.svalues[i] * (points_[i] - z);
    }
  }
  return v;
}

Result<TreeNodeValue> ReconTree::read(const rocksdb::ReadOptions& ro,
                                      const std::string& digits) const {
  std::string v;
  auto s = db_->Get(ro, tree_cf_, node_key(digits), &v);
  if (s.IsNotFound()) {
    return empty();
  }
  if (!s.ok()) {
    return io_error(s, "reading the recon tree");
  }
  return decode(v);
}

Result<std::vector<std::string>> ReconTree::scan(const rocksdb::ReadOptions& ro,
                                                 const std::string& digits) const {
  const int bq = config_.bit_quantum;
  std::string lower(kHashBytes, '\0');
  for (std::size_t k = 0; k < digits.size(); ++k) {
    for (int j = 0; j < bq; ++j) {
      int i = static_cast<int>(k) * bq + j;
      if (i < kHashBits && ((digits[k] >> j) & 1)) {
        lower[static_cast<std::size_t>(i / 8)] |= static_cast<char>(1 << (7 - i % 8));
      }
    }
  }
  std::vector<std::string> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, hash_cf_));
  for (it->Seek(lower); it->Valid(); it->Next()) {
    std::string_view k(it->key().data(), it->key().size());
    if (!under(k, digits, bq)) {
      break;
    }
    if (is_element(k, points_)) {
      out.emplace_back(k);
    }
  }
  if (!it->status().ok()) {
    return io_error(it->status(), "reading the SKS hash index");
  }
  return out;
}

Result<std::uint64_t> ReconTree::compute(
    const rocksdb::ReadOptions& ro,
    const std::function<void(const std::string&, const TreeNodeValue&)>& emit) const {
  // Every hash, 16 octets apiece: as strings each would take a heap block
  // of its own (a million: 143 MB peak for the whole rebuild instead of
  // 190, of which 83 are the opened store).
  std::vector<std::array<char, kHashBytes>> all;
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, hash_cf_));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string_view k(it->key().data(), it->key().size());
      if (is_element(k, points_)) {
        auto& h = all.emplace_back();
        std::copy(k.begin(), k.end(), h.begin());
      }
    }
    if (!it->status().ok()) {
      return io_error(it->status(), "reading the SKS hash index");
    }
  }
  auto hash = [&all](std::size_t i) { return std::string_view(all[i].data(), kHashBytes); };
  const int bq = config_.bit_quantum;
  const int fan = 1 << bq;
  // Depth-first over index ranges: the index is in tree order, so every
  // node's elements are one contiguous run (children in the order of their
  // bits, not of their indexes).
  std::string digits;
  std::function<TreeNodeValue(std::size_t, std::size_t)> build = [&](std::size_t lo,
                                                                     std::size_t hi) {
    const int depth = static_cast<int>(digits.size());
    TreeNodeValue v = empty();
    v.count = hi - lo;
    if (internal(v.count, depth)) {
      for (int c = 0; c < fan; ++c) {
        std::size_t a = lo;
        while (a < hi && digit(hash(a), depth, bq) != c) {
          ++a;
        }
        std::size_t b = a;
        while (b < hi && digit(hash(b), depth, bq) == c) {
          ++b;
        }
        if (a == b) {
          continue;
        }
        digits.push_back(static_cast<char>(c));
        TreeNodeValue child = build(a, b);
        digits.pop_back();
        for (std::size_t i = 0; i < v.svalues.size(); ++i) {
          v.svalues[i] = v.svalues[i] * child.svalues[i];
        }
      }
    } else {
      for (std::size_t e = lo; e < hi; ++e) {
        Zp z = Zp::from_le(as_bytes(hash(e)));
        for (std::size_t i = 0; i < points_.size(); ++i) {
          v.svalues[i] = v.svalues[i] * (points_[i] - z);
        }
      }
    }
    if (v.count > 0) {
      emit(node_key(digits), v);
    }
    return v;
  };
  build(0, all.size());
  return static_cast<std::uint64_t>(all.size());
}

// --- Txn -------------------------------------------------------------------

Result<bool> ReconTree::Txn::present(const std::string& hash) {
  if (auto it = hashes_.find(hash); it != hashes_.end()) {
    return it->second;
  }
  std::string v;
  auto s = tree_.db_->Get(rocksdb::ReadOptions(), tree_.hash_cf_, hash, &v);
  if (!s.ok() && !s.IsNotFound()) {
    return io_error(s, "reading the SKS hash index");
  }
  return s.ok();
}

Result<TreeNodeValue> ReconTree::Txn::load(const std::string& digits) {
  if (auto it = nodes_.find(digits); it != nodes_.end()) {
    return it->second ? *it->second : tree_.empty();
  }
  return tree_.read(rocksdb::ReadOptions(), digits);
}

void ReconTree::Txn::store(const std::string& digits, TreeNodeValue v) {
  if (v.count == 0) {
    nodes_[digits] = std::nullopt;
  } else {
    nodes_[digits] = std::move(v);
  }
}

Result<std::vector<std::string>> ReconTree::Txn::hashes_under(const std::string& digits) {
  KEYDIR_TRY(auto stored, tree_.scan(rocksdb::ReadOptions(), digits));
  std::vector<std::string> out;
  for (const auto& h : stored) {
    auto it = hashes_.find(h);
    if (it == hashes_.end() || it->second) {
      out.push_back(h);
    }
  }
  for (const auto& [h, in] : hashes_) {
    if (in && under(h, digits, tree_.config_.bit_quantum) &&
        !std::binary_search(stored.begin(), stored.end(), h)) {
      out.push_back(h);
    }
  }
  return out;
}

void ReconTree::Txn::materialize(const std::string& digits,
                                 const std::vector<std::string>& hashes) {
  const int depth = static_cast<int>(digits.size());
  TreeNodeValue v = tree_.value_of(hashes);
  const bool split = tree_.internal(v.count, depth);
  store(digits, std::move(v));
  if (!split) {
    return;
  }
  const int bq = tree_.config_.bit_quantum;
  for (int c = 0; c < (1 << bq); ++c) {
    std::vector<std::string> sub;
    for (const auto& h : hashes) {
      if (digit(h, depth, bq) == c) {
        sub.push_back(h);
      }
    }
    materialize(digits + static_cast<char>(c), sub);
  }
}

Result<void> ReconTree::Txn::drop_below(const std::string& digits) {
  const std::string prefix = node_key(digits);
  std::unique_ptr<rocksdb::Iterator> it(
      tree_.db_->NewIterator(rocksdb::ReadOptions(), tree_.tree_cf_));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (it->key().size() > prefix.size()) {
      nodes_[std::string(it->key().data() + 1, it->key().size() - 1)] = std::nullopt;
    }
  }
  if (!it->status().ok()) {
    return io_error(it->status(), "reading the recon tree");
  }
  for (auto& [k, v] : nodes_) {
    if (k.size() > digits.size() && k.starts_with(digits)) {
      v = std::nullopt;
    }
  }
  return {};
}

Result<void> ReconTree::Txn::insert(ByteView hash) {
  return change(hash, true);
}

Result<void> ReconTree::Txn::remove(ByteView hash) {
  return change(hash, false);
}

Result<void> ReconTree::Txn::change(ByteView hash, bool add) {
  std::string h(as_chars(hash));
  if (!is_element(h, tree_.points_)) {
    return {};
  }
  KEYDIR_TRY(bool in, present(h));
  if (in == add) {
    return {};
  }
  hashes_[h] = add;
  // Every node on the path is multiplied by (k - h) for an insert and by
  // its inverse for a removal.
  const Zp z = Zp::from_le(hash);
  std::vector<Zp> factors;
  for (const auto& p : tree_.points_) {
    factors.push_back(add ? p - z : (p - z).inverse());
  }
  const int bq = tree_.config_.bit_quantum;
  std::string digits;
  for (;;) {
    const int depth = static_cast<int>(digits.size());
    KEYDIR_TRY(auto v, load(digits));
    if (!add && v.count == 0) {
      return fail(ErrorCode::StorageCorruption, "recon tree node without the element it holds");
    }
    const bool was_internal = tree_.internal(v.count, depth);
    v.count = add ? v.count + 1 : v.count - 1;
    for (std::size_t i = 0; i < factors.size(); ++i) {
      v.svalues[i] = v.svalues[i] * factors[i];
    }
    const bool is_internal = tree_.internal(v.count, depth);
    store(digits, std::move(v));
    if (was_internal && is_internal) {
      digits.push_back(static_cast<char>(digit(h, depth, bq)));
      continue;
    }
    if (is_internal) {
      // A leaf that just passed the threshold: it and its children again,
      // from the index (which already counts `hash`).
      KEYDIR_TRY(auto all, hashes_under(digits));
      materialize(digits, all);
    } else if (was_internal) {
      // Now a leaf: nothing is stored below a leaf.
      KEYDIR_CHECK(drop_below(digits));
    }
    return {};
  }
}

void ReconTree::Txn::flush(rocksdb::WriteBatch& batch) const {
  for (const auto& [digits, v] : nodes_) {
    if (v) {
      batch.Put(tree_.tree_cf_, node_key(digits), tree_.encode(*v));
    } else {
      batch.Delete(tree_.tree_cf_, node_key(digits));
    }
  }
}

// --- View ------------------------------------------------------------------

class StoredView final : public recon::TreeView {
 public:
  explicit StoredView(const ReconTree& t) : t_(t), snap_(t.db_->GetSnapshot()) {
    ro_.snapshot = snap_;
  }
  ~StoredView() override { t_.db_->ReleaseSnapshot(snap_); }
  StoredView(const StoredView&) = delete;
  StoredView& operator=(const StoredView&) = delete;

  const recon::TreeConfig& config() const override { return t_.config_; }
  const std::vector<Zp>& points() const override { return t_.points_; }

  Result<recon::TreeNode> root_node() const override { return node(""); }

  Result<recon::TreeNode> find(const recon::Bitstring& prefix) const override {
    const int bq = t_.config_.bit_quantum;
    std::string digits;
    KEYDIR_TRY(auto n, node(digits));
    while (!n.leaf && (n.depth + 1) * bq <= prefix.size()) {
      digits.push_back(static_cast<char>(recon::child_index(prefix, n.depth, bq)));
      KEYDIR_TRY(n, node(digits));
    }
    return n;
  }

  Result<std::vector<recon::TreeNode>> children_of(const recon::TreeNode& n) const override {
    std::vector<recon::TreeNode> out;
    if (n.leaf) {
      return out;
    }
    const std::string digits = digits_of(n);
    for (int c = 0; c < (1 << t_.config_.bit_quantum); ++c) {
      KEYDIR_TRY(auto child, node(digits + static_cast<char>(c)));
      out.push_back(std::move(child));
    }
    return out;
  }

  Result<std::vector<Zp>> elements_of(const recon::TreeNode& n) const override {
    KEYDIR_TRY(auto hashes, t_.scan(ro_, digits_of(n)));
    std::vector<Zp> out;
    out.reserve(hashes.size());
    for (const auto& h : hashes) {
      out.push_back(Zp::from_le(as_bytes(h)));
    }
    return out;
  }

 private:
  std::string digits_of(const recon::TreeNode& n) const {
    std::string d;
    for (int k = 0; k < n.depth; ++k) {
      d.push_back(static_cast<char>(recon::child_index(n.key, k, t_.config_.bit_quantum)));
    }
    return d;
  }
  Result<recon::TreeNode> node(const std::string& digits) const {
    KEYDIR_TRY(auto v, t_.read(ro_, digits));
    const int depth = static_cast<int>(digits.size());
    recon::TreeNode n;
    n.key = key_of(digits, t_.config_.bit_quantum);
    n.depth = depth;
    n.size = v.count;
    n.leaf = !t_.internal(v.count, depth);
    n.svalues = std::move(v.svalues);
    return n;
  }

  const ReconTree& t_;
  const rocksdb::Snapshot* snap_;
  rocksdb::ReadOptions ro_;
};

std::unique_ptr<recon::TreeView> ReconTree::view() const {
  return std::make_unique<StoredView>(*this);
}

}  // namespace keydir::storage::rocks
