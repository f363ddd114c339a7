#include "storage/memory_key_store.hpp"

#include <algorithm>
#include <atomic>
#include <iterator>
#include <map>
#include <mutex>
#include <set>

#include "recon/poly.hpp"
#include "storage/index_entries.hpp"

namespace keydir::storage {

using recon::Zp;

namespace {

// The bounds of the RocksDB store (rocks_key_store.cpp), so that both answer
// alike: the most certificates one key ID, address or WKD hash may name
// (further claims are not indexed; check reports them), the most
// certificates one word of a words query reads, the problems a check lists.
constexpr std::size_t kMaxSetMembers = 10000;
constexpr std::size_t kMaxPerWord = 100000;
constexpr std::size_t kMaxProblems = 100;

// --- Indexes -----------------------------------------------------------------
//
// The keys are the RocksDB store's (index_entries.hpp), a word's without the
// primary appended.

using index_keys::be;
using index_keys::fpr_key;
using index_keys::Index;
using index_keys::kEmail;
using index_keys::kFpr;
using index_keys::kIndexNames;
using index_keys::kKeyId;
using index_keys::kShort;
using index_keys::kSks;
using index_keys::kWeak;
using index_keys::kWkd;
using index_keys::kWord;
using index_keys::wkd_key;

// One index entry: `key` in index `ix` names certificate `owner`.
struct Entry {
  Index ix;
  std::string key;
  Fingerprint owner;
  bool operator==(const Entry&) const = default;
};

// Every index entry an IndexSet makes (the RocksDB store's entries_of, with
// the same keys).
std::vector<Entry> entries_of(const IndexSet& idx, const Fingerprint& primary) {
  std::vector<Entry> out;
  index_keys::for_each_key(idx, [&](Index ix, std::string key) {
    out.push_back({ix, std::move(key), primary});
  });
  return out;
}

// --- The recon tree ------------------------------------------------------------
//
// The shape of the RocksDB store's tree (storage/rocksdb/recon_tree.hpp): a
// node is internal exactly when it holds more than split_threshold elements,
// so the tree is a function of the set; only non-empty nodes are kept, named
// by one child index per level.

constexpr std::size_t kHashBytes = 16;
constexpr int kHashBits = 128;

struct NodeValue {
  std::uint64_t count = 0;
  std::vector<Zp> svalues;
  bool operator==(const NodeValue&) const = default;
};

struct TreeState {
  std::map<std::string, NodeValue> nodes;  // digits → value; non-empty nodes only
  std::set<std::string> elements;          // 16-octet SKS hashes (octet order is tree order)
};

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

recon::Bitstring key_of(const std::string& digits, int bq) {
  recon::Bitstring b(static_cast<int>(digits.size()) * bq);
  for (std::size_t k = 0; k < digits.size(); ++k) {
    for (int j = 0; j < bq; ++j) {
      b.set(static_cast<int>(k) * bq + j, (digits[k] >> j) & 1);
    }
  }
  return b;
}

// The parameters and sample points, shared by the store and its views.
struct TreeShape {
  recon::TreeConfig config;
  std::vector<Zp> points = recon::sample_points(static_cast<std::size_t>(config.num_samples()));

  // A hash the tree holds: 16 octets and not a sample point.
  [[nodiscard]] bool is_element(std::string_view hash) const {
    if (hash.size() != kHashBytes) {
      return false;
    }
    Zp z = Zp::from_le(as_bytes(hash));
    return std::none_of(points.begin(), points.end(), [&](const Zp& p) { return p == z; });
  }
  [[nodiscard]] bool internal(std::uint64_t count, int depth) const {
    return count > static_cast<std::uint64_t>(config.split_threshold()) &&
           (depth + 1) * config.bit_quantum <= kHashBits;
  }
  [[nodiscard]] NodeValue empty() const {
    return NodeValue{0, std::vector<Zp>(points.size(), Zp::of_int(1))};
  }
  [[nodiscard]] NodeValue value_of(const std::vector<std::string>& hashes) const {
    NodeValue v = empty();
    v.count = hashes.size();
    for (const auto& h : hashes) {
      Zp z = Zp::from_le(as_bytes(h));
      for (std::size_t i = 0; i < points.size(); ++i) {
        v.svalues[i] = v.svalues[i] * (points[i] - z);
      }
    }
    return v;
  }
  // The elements under the node `digits`, in order.
  [[nodiscard]] std::vector<std::string> under_node(const std::set<std::string>& elements,
                                                    const std::string& digits) const {
    const int bq = config.bit_quantum;
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
    for (auto it = elements.lower_bound(lower); it != elements.end() && under(*it, digits, bq);
         ++it) {
      out.push_back(*it);
    }
    return out;
  }

  // The whole tree of a set of elements.
  [[nodiscard]] std::map<std::string, NodeValue> compute(const std::set<std::string>& set) const {
    std::map<std::string, NodeValue> out;
    materialize(out, "", std::vector<std::string>(set.begin(), set.end()));
    return out;
  }
  // The node `digits` holding `hashes`, and its children if it is internal.
  void materialize(std::map<std::string, NodeValue>& nodes, const std::string& digits,
                   const std::vector<std::string>& hashes) const {
    const int depth = static_cast<int>(digits.size());
    // Below: every stored node under this one goes, then what it holds now.
    for (auto it = nodes.upper_bound(digits); it != nodes.end() && it->first.starts_with(digits);) {
      it = nodes.erase(it);
    }
    NodeValue v = value_of(hashes);
    if (v.count == 0) {
      nodes.erase(digits);
      return;
    }
    const bool split = internal(v.count, depth);
    nodes[digits] = std::move(v);
    if (!split) {
      return;
    }
    const int bq = config.bit_quantum;
    for (int c = 0; c < (1 << bq); ++c) {
      std::vector<std::string> sub;
      for (const auto& h : hashes) {
        if (digit(h, depth, bq) == c) {
          sub.push_back(h);
        }
      }
      materialize(nodes, digits + static_cast<char>(c), sub);
    }
  }

  // `hash` entered (`add`) or left `state.elements` (already changed): every
  // node on its path is multiplied by (k - hash) or its inverse; a leaf
  // that passes the threshold gets its children, an internal node that
  // falls to it loses them.
  void change(TreeState& state, const std::string& hash, bool add) const {
    const Zp z = Zp::from_le(as_bytes(hash));
    std::vector<Zp> factors;
    for (const auto& p : points) {
      factors.push_back(add ? p - z : (p - z).inverse());
    }
    const int bq = config.bit_quantum;
    std::string digits;
    for (;;) {
      const int depth = static_cast<int>(digits.size());
      auto found = state.nodes.find(digits);
      NodeValue v = found == state.nodes.end() ? empty() : found->second;
      const bool was_internal = internal(v.count, depth);
      v.count = add ? v.count + 1 : v.count - 1;
      for (std::size_t i = 0; i < factors.size(); ++i) {
        v.svalues[i] = v.svalues[i] * factors[i];
      }
      const bool is_internal = internal(v.count, depth);
      if (v.count == 0) {
        state.nodes.erase(digits);
      } else {
        state.nodes[digits] = std::move(v);
      }
      if (was_internal && is_internal) {
        digits.push_back(static_cast<char>(digit(hash, depth, bq)));
        continue;
      }
      if (is_internal || was_internal) {
        // Split or joined: this node and everything below it again.
        materialize(state.nodes, digits, under_node(state.elements, digits));
      }
      return;
    }
  }
};

class MemoryTreeView final : public recon::TreeView {
 public:
  MemoryTreeView(std::shared_ptr<const TreeShape> shape, std::shared_ptr<const TreeState> state)
      : shape_(std::move(shape)), state_(std::move(state)) {}

  const recon::TreeConfig& config() const override { return shape_->config; }
  const std::vector<Zp>& points() const override { return shape_->points; }

  Result<recon::TreeNode> root_node() const override { return node(""); }

  Result<recon::TreeNode> find(const recon::Bitstring& prefix) const override {
    const int bq = shape_->config.bit_quantum;
    std::string digits;
    recon::TreeNode n = node(digits);
    while (!n.leaf && (n.depth + 1) * bq <= prefix.size()) {
      digits.push_back(static_cast<char>(recon::child_index(prefix, n.depth, bq)));
      n = node(digits);
    }
    return n;
  }

  Result<std::vector<recon::TreeNode>> children_of(const recon::TreeNode& n) const override {
    std::vector<recon::TreeNode> out;
    if (n.leaf) {
      return out;
    }
    const std::string digits = digits_of(n);
    for (int c = 0; c < (1 << shape_->config.bit_quantum); ++c) {
      out.push_back(node(digits + static_cast<char>(c)));
    }
    return out;
  }

  Result<std::vector<Zp>> elements_of(const recon::TreeNode& n) const override {
    std::vector<Zp> out;
    for (const auto& h : shape_->under_node(state_->elements, digits_of(n))) {
      out.push_back(Zp::from_le(as_bytes(h)));
    }
    return out;
  }

 private:
  std::string digits_of(const recon::TreeNode& n) const {
    std::string d;
    for (int k = 0; k < n.depth; ++k) {
      d.push_back(static_cast<char>(recon::child_index(n.key, k, shape_->config.bit_quantum)));
    }
    return d;
  }
  recon::TreeNode node(const std::string& digits) const {
    auto it = state_->nodes.find(digits);
    NodeValue v = it == state_->nodes.end() ? shape_->empty() : it->second;
    const int depth = static_cast<int>(digits.size());
    recon::TreeNode n;
    n.key = key_of(digits, shape_->config.bit_quantum);
    n.depth = depth;
    n.size = v.count;
    n.leaf = !shape_->internal(v.count, depth);
    n.svalues = std::move(v.svalues);
    return n;
  }

  std::shared_ptr<const TreeShape> shape_;
  std::shared_ptr<const TreeState> state_;
};

CertRecord without_index(const CertRecord& r) {
  CertRecord out;
  out.fingerprint = r.fingerprint;
  out.first_seen = r.first_seen;
  out.last_change = r.last_change;
  out.seq = r.seq;
  out.digest = r.digest;
  out.cert = r.cert;
  return out;
}

}  // namespace

struct MemoryKeyStore::Impl {
  mutable std::mutex mutex;
  // Records are immutable once stored: a snapshot is a copy of pointers.
  std::map<Fingerprint, std::shared_ptr<const CertRecord>> certs;
  // Indexes kFpr .. kWord: key → the certificates it names.
  std::map<std::string, std::set<Fingerprint>> sets[kSks];
  std::map<std::string, Fingerprint> by_sks;  // unique: the last write wins
  std::map<std::uint64_t, ChangeEntry> changelog;
  std::map<Fingerprint, Tombstone> tombstones;
  std::map<Fingerprint, std::map<std::string, std::uint64_t>> published;  // → time published
  std::map<std::string, VerifyToken> tokens;                              // by hash
  std::map<std::string, std::string, std::less<>> settings;
  std::vector<AuditEntry> audit;
  std::map<std::string, std::map<std::string, Bytes>, std::less<>> aliases;  // peer → hash → ours
  std::int64_t cert_counter = 0;  // + new writes, - removals (as the RocksDB store's counter)
  std::uint64_t last_seq = 0;
  std::shared_ptr<const TreeShape> shape = std::make_shared<TreeShape>();
  std::shared_ptr<TreeState> tree = std::make_shared<TreeState>();
  std::vector<std::string> touched;  // SKS hashes whose index entry changed in this write
  std::atomic<std::uint64_t> generation{0};

  // After every write (release): see KeyStore::generation.
  void bump() { generation.fetch_add(1, std::memory_order_release); }

  void index(const Entry& e) {
    if (e.ix == kSks) {
      by_sks[e.key] = e.owner;
      touched.push_back(e.key);
      return;
    }
    auto& set = sets[e.ix][e.key];
    if (e.ix == kWord || set.size() < kMaxSetMembers) {
      set.insert(e.owner);
    }
  }
  void unindex(const Entry& e) {
    if (e.ix == kSks) {
      by_sks.erase(e.key);
      touched.push_back(e.key);
      return;
    }
    auto it = sets[e.ix].find(e.key);
    if (it != sets[e.ix].end()) {
      it->second.erase(e.owner);
      if (it->second.empty()) {
        sets[e.ix].erase(it);
      }
    }
  }
  [[nodiscard]] bool holds(const Entry& e) const {
    if (e.ix == kSks) {
      auto it = by_sks.find(e.key);
      return it != by_sks.end() && it->second == e.owner;
    }
    auto it = sets[e.ix].find(e.key);
    return it != sets[e.ix].end() && it->second.contains(e.owner);
  }

  // The tree holds exactly the SKS hash index's elements.
  void sync_tree() {
    for (const auto& h : touched) {
      if (!shape->is_element(h)) {
        continue;
      }
      const bool in_index = by_sks.contains(h);
      if (in_index == tree->elements.contains(h)) {
        continue;
      }
      if (tree.use_count() > 1) {
        tree = std::make_shared<TreeState>(*tree);  // a view holds the old state
      }
      if (in_index) {
        tree->elements.insert(h);
      } else {
        tree->elements.erase(h);
      }
      shape->change(*tree, h, in_index);
    }
    touched.clear();
  }

  [[nodiscard]] std::set<Fingerprint> members(Index ix, const std::string& key) const {
    auto it = sets[ix].find(key);
    return it == sets[ix].end() ? std::set<Fingerprint>{} : it->second;
  }

  // The certificates one key names: index_keys::best_claims (the rule the
  // RocksDB store applies) over this store's maps.
  [[nodiscard]] std::set<Fingerprint> claims(Index ix, const std::string& key,
                                             const std::string& weak_key,
                                             const std::function<bool(const Fingerprint&)>& is_it,
                                             bool owner_first) const {
    index_keys::ClaimSource source{
        [&](const std::string& k) -> Result<std::set<Fingerprint>> { return members(ix, k); },
        [&](const Fingerprint& f) -> Result<std::optional<std::vector<Fingerprint>>> {
          auto rec = certs.find(f);
          if (rec == certs.end()) {
            return std::optional<std::vector<Fingerprint>>{};
          }
          return std::optional<std::vector<Fingerprint>>(rec->second->index.weak_subkeys);
        },
        [&](const Fingerprint& f) -> Result<bool> { return tombstones.contains(f); }};
    // Nothing here fails.
    return *index_keys::best_claims(source, key, weak_key, is_it, owner_first);
  }
};

MemoryKeyStore::MemoryKeyStore() : impl_(std::make_unique<Impl>()) {}
MemoryKeyStore::~MemoryKeyStore() = default;

Result<std::optional<CertRecord>> MemoryKeyStore::get(const Fingerprint& primary) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->certs.find(primary);
  if (it == impl_->certs.end()) {
    return std::optional<CertRecord>{};
  }
  return std::optional<CertRecord>(*it->second);
}

Result<std::vector<CertRecord>> MemoryKeyStore::lookup(const Query& query,
                                                       std::size_t limit) const {
  std::lock_guard lock(impl_->mutex);
  const Impl& s = *impl_;
  std::vector<CertRecord> out;
  std::set<Fingerprint> found;
  if (auto* q = std::get_if<Query::ByFingerprint>(&query.what)) {
    if (auto direct = s.certs.find(q->fpr); direct != s.certs.end()) {
      if (limit > 0) {
        out.push_back(without_index(*direct->second));
      }
      return out;
    }
    const std::string key = fpr_key(q->fpr);
    found = s.claims(
        kFpr, key, kWeak + key, [&](const Fingerprint& f) { return f == q->fpr; }, true);
  } else if (auto* k = std::get_if<Query::ByKeyId>(&query.what)) {
    const std::string key(as_chars(k->id.bytes()));
    found = s.claims(
        kKeyId, key, key + kWeak, [&](const Fingerprint& f) { return f.key_id() == k->id; }, true);
  } else if (auto* sh = std::get_if<Query::ByShortKeyId>(&query.what)) {
    const std::string key = be(sh->id, 4);
    found = s.claims(
        kShort, key, key + kWeak,
        [&](const Fingerprint& f) { return f.key_id().short_id() == sh->id; }, false);
  } else if (auto* e = std::get_if<Query::ByEmail>(&query.what)) {
    found = s.members(kEmail, e->address);
  } else if (auto* w = std::get_if<Query::ByWkd>(&query.what)) {
    found = s.members(kWkd, wkd_key(w->hash));
  } else if (auto* ws = std::get_if<Query::ByWords>(&query.what)) {
    // Intersection of the words' sets; each word reads at most kMaxPerWord.
    bool first = true;
    for (const auto& word : ws->words) {
      std::set<Fingerprint> set;
      if (auto it = s.sets[kWord].find(word); it != s.sets[kWord].end()) {
        for (const auto& f : it->second) {
          set.insert(f);
          if (set.size() >= kMaxPerWord) {
            break;
          }
        }
      }
      if (first) {
        found = std::move(set);
        first = false;
      } else {
        std::set<Fingerprint> both;
        std::set_intersection(found.begin(), found.end(), set.begin(), set.end(),
                              std::inserter(both, both.begin()));
        found = std::move(both);
      }
      if (found.empty()) {
        break;
      }
    }
  } else if (auto* h = std::get_if<Query::BySksHash>(&query.what)) {
    if (auto it = s.by_sks.find(std::string(as_chars(h->hash))); it != s.by_sks.end()) {
      found.insert(it->second);
    }
  }
  for (const auto& f : found) {
    if (out.size() >= limit) {
      break;
    }
    if (auto it = s.certs.find(f); it != s.certs.end()) {
      out.push_back(without_index(*it->second));
    }
  }
  return out;
}

Result<std::vector<std::uint64_t>> MemoryKeyStore::apply(std::vector<Write>& writes,
                                                         std::uint64_t now) {
  std::lock_guard lock(impl_->mutex);
  Impl& s = *impl_;
  // Tokens this write uses up must be stored and unused (as RocksKeyStore).
  for (const auto& w : writes) {
    if (!w.consume_token) {
      continue;
    }
    auto t = s.tokens.find(std::string(as_chars(*w.consume_token)));
    if (t == s.tokens.end() || t->second.used_at != 0) {
      return fail(ErrorCode::TokenInvalid, "the link was used already or is no longer valid");
    }
  }
  std::vector<std::uint64_t> seqs;
  for (auto& w : writes) {
    CertRecord& r = w.record;
    r.seq = ++s.last_seq;
    if (!w.keep_times) {
      r.last_change = now;
    }
    if (!w.previous) {
      if (!w.keep_times) {
        r.first_seen = now;
      }
      ++s.cert_counter;
    } else {
      for (const auto& e : entries_of(*w.previous, r.fingerprint)) {
        s.unindex(e);
      }
    }
    for (const auto& e : entries_of(r.index, r.fingerprint)) {
      s.index(e);
    }
    s.sync_tree();
    s.certs[r.fingerprint] = std::make_shared<const CertRecord>(r);
    s.changelog[r.seq] = ChangeEntry{r.seq, r.fingerprint, r.digest};
    for (const auto& e : w.publish) {
      s.published[r.fingerprint][e] = now;
    }
    if (auto p = s.published.find(r.fingerprint); p != s.published.end()) {
      for (const auto& e : w.unpublish) {
        p->second.erase(e);
      }
      if (p->second.empty()) {
        s.published.erase(p);
      }
    }
    if (w.consume_token) {
      s.tokens[std::string(as_chars(*w.consume_token))].used_at = now;
    }
    seqs.push_back(r.seq);
  }
  s.bump();
  return seqs;
}

Result<void> MemoryKeyStore::remove(const CertRecord& record, const Tombstone& tomb) {
  std::lock_guard lock(impl_->mutex);
  Impl& s = *impl_;
  if (!s.certs.count(record.fingerprint)) {
    return fail(ErrorCode::NotFound,
                "no certificate " + record.fingerprint.to_hex() + " to remove");
  }
  // The caller's record says what to unindex, as with RocksDB.
  for (const auto& e : entries_of(record.index, record.fingerprint)) {
    s.unindex(e);
  }
  s.sync_tree();
  s.certs.erase(record.fingerprint);
  s.tombstones[record.fingerprint] = tomb;
  // Its verification state goes with it: published addresses and tokens.
  s.published.erase(record.fingerprint);
  std::erase_if(s.tokens,
                [&](const auto& t) { return t.second.fingerprint == record.fingerprint; });
  const std::uint64_t seq = ++s.last_seq;
  s.changelog[seq] = ChangeEntry{seq, record.fingerprint, {}};
  --s.cert_counter;
  s.bump();
  return {};
}

Result<std::optional<Tombstone>> MemoryKeyStore::tombstone(const Fingerprint& fpr) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->tombstones.find(fpr);
  if (it == impl_->tombstones.end()) {
    return std::optional<Tombstone>{};
  }
  return std::optional<Tombstone>(it->second);
}

Result<void> MemoryKeyStore::clear_tombstone(const Fingerprint& fpr) {
  std::lock_guard lock(impl_->mutex);
  impl_->tombstones.erase(fpr);
  impl_->bump();
  return {};
}

Result<void> MemoryKeyStore::put_tombstone(const Fingerprint& fpr, const Tombstone& tomb) {
  std::lock_guard lock(impl_->mutex);
  impl_->tombstones[fpr] = tomb;
  impl_->bump();
  return {};
}

Result<void> MemoryKeyStore::for_each_tombstone(
    const std::function<bool(const Fingerprint&, const Tombstone&)>& visit) const {
  std::vector<std::pair<Fingerprint, Tombstone>> snapshot;
  {
    std::lock_guard lock(impl_->mutex);
    snapshot.assign(impl_->tombstones.begin(), impl_->tombstones.end());
  }
  for (const auto& [f, t] : snapshot) {
    if (!visit(f, t)) {
      break;
    }
  }
  return {};
}

Result<std::vector<ChangeEntry>> MemoryKeyStore::changes_since(std::uint64_t seq,
                                                               std::size_t limit) const {
  std::lock_guard lock(impl_->mutex);
  std::vector<ChangeEntry> out;
  for (auto it = impl_->changelog.upper_bound(seq);
       it != impl_->changelog.end() && out.size() < limit; ++it) {
    out.push_back(it->second);
  }
  return out;
}

Result<std::unique_ptr<recon::TreeView>> MemoryKeyStore::recon_tree() const {
  std::lock_guard lock(impl_->mutex);
  return std::unique_ptr<recon::TreeView>(std::make_unique<MemoryTreeView>(
      impl_->shape, std::shared_ptr<const TreeState>(impl_->tree)));
}

Result<std::uint64_t> MemoryKeyStore::rebuild_recon_tree() {
  std::lock_guard lock(impl_->mutex);
  Impl& s = *impl_;
  auto fresh = std::make_shared<TreeState>();
  for (const auto& [h, owner] : s.by_sks) {
    if (s.shape->is_element(h)) {
      fresh->elements.insert(h);
    }
  }
  fresh->nodes = s.shape->compute(fresh->elements);
  s.tree = std::move(fresh);
  s.bump();
  return static_cast<std::uint64_t>(s.tree->elements.size());
}

Result<std::vector<Bytes>> MemoryKeyStore::sks_hashes_from_version(std::uint8_t version) const {
  std::lock_guard lock(impl_->mutex);
  std::vector<Bytes> out;
  // In fingerprint order, which starts with the version octet.
  for (const auto& [f, rec] : impl_->certs) {
    if (static_cast<std::uint8_t>(f.version()) >= version) {
      out.push_back(rec->index.sks_hash);
    }
  }
  return out;
}

Result<void> MemoryKeyStore::put_recon_aliases(std::string_view peer,
                                               const std::vector<AliasChange>& changes) {
  std::lock_guard lock(impl_->mutex);
  for (const auto& c : changes) {
    const std::string key(as_chars(c.peer_hash));
    if (c.ours.empty()) {
      if (auto it = impl_->aliases.find(peer); it != impl_->aliases.end()) {
        it->second.erase(key);
        if (it->second.empty()) {
          impl_->aliases.erase(it);
        }
      }
    } else {
      impl_->aliases[std::string(peer)][key] = c.ours;
    }
  }
  impl_->bump();
  return {};
}

Result<void> MemoryKeyStore::for_each_recon_alias(
    std::string_view peer, const std::function<bool(ByteView, ByteView)>& visit) const {
  std::map<std::string, Bytes> snapshot;
  {
    std::lock_guard lock(impl_->mutex);
    if (auto it = impl_->aliases.find(peer); it != impl_->aliases.end()) {
      snapshot = it->second;
    }
  }
  for (const auto& [h, ours] : snapshot) {
    if (!visit(as_bytes(h), ours)) {
      break;
    }
  }
  return {};
}

Result<void> MemoryKeyStore::for_each(const std::function<bool(const CertRecord&)>& visit) const {
  std::vector<std::shared_ptr<const CertRecord>> snapshot;
  {
    std::lock_guard lock(impl_->mutex);
    snapshot.reserve(impl_->certs.size());
    for (const auto& [f, rec] : impl_->certs) {
      snapshot.push_back(rec);
    }
  }
  for (const auto& rec : snapshot) {
    if (!visit(*rec)) {
      break;
    }
  }
  return {};
}

Result<StoreStats> MemoryKeyStore::stats() const {
  std::lock_guard lock(impl_->mutex);
  StoreStats st;
  st.certificates = static_cast<std::uint64_t>(std::max<std::int64_t>(0, impl_->cert_counter));
  st.last_seq = impl_->last_seq;
  st.disk_bytes = 0;
  return st;
}

std::uint64_t MemoryKeyStore::generation() const {
  return impl_->generation.load(std::memory_order_acquire);
}

Result<ConsistencyReport> MemoryKeyStore::check() const {
  std::lock_guard lock(impl_->mutex);
  const Impl& s = *impl_;
  ConsistencyReport report;
  auto problem = [&](std::string what) {
    ++report.problem_count;
    if (report.problems.size() < kMaxProblems) {
      report.problems.push_back(std::move(what));
    }
  };
  // 1. Every certificate is fully indexed.
  for (const auto& [fpr, rec] : s.certs) {
    ++report.certificates;
    if (rec->fingerprint != fpr) {
      problem(fpr.to_hex() + ": record of another fingerprint");
    }
    if (rec->index.fingerprints.empty() || rec->index.fingerprints.front() != fpr) {
      problem(fpr.to_hex() + ": index does not start with its own fingerprint");
    }
    for (const auto& e : entries_of(rec->index, fpr)) {
      if (!s.holds(e)) {
        problem(fpr.to_hex() + ": missing entry in " + kIndexNames[e.ix]);
      }
    }
  }
  // 2. Every index entry points to a certificate that lists it.
  auto owned = [&](const Entry& e) {
    ++report.index_entries;
    auto rec = s.certs.find(e.owner);
    if (rec == s.certs.end()) {
      problem(std::string(kIndexNames[e.ix]) + " entry points to missing certificate " +
              e.owner.to_hex());
      return;
    }
    auto listed = entries_of(rec->second->index, e.owner);
    if (std::find(listed.begin(), listed.end(), e) == listed.end()) {
      problem(std::string(kIndexNames[e.ix]) + " entry not listed by certificate " +
              e.owner.to_hex());
    }
  };
  for (std::uint8_t ix = 0; ix < kSks; ++ix) {
    for (const auto& [key, set] : s.sets[ix]) {
      if (set.empty()) {
        problem(std::string(kIndexNames[ix]) + " entry naming no certificate");
      }
      for (const auto& owner : set) {
        owned(Entry{static_cast<Index>(ix), key, owner});
      }
    }
  }
  for (const auto& [key, owner] : s.by_sks) {
    owned(Entry{kSks, key, owner});
  }
  // 3. The recon tree is the one the SKS hash index implies.
  {
    std::set<std::string> elements;
    for (const auto& [h, owner] : s.by_sks) {
      if (s.shape->is_element(h)) {
        elements.insert(h);
      }
    }
    if (elements != s.tree->elements) {
      problem("the recon tree's elements differ from the SKS hash index");
    }
    const auto expected = s.shape->compute(elements);
    std::size_t seen = 0;
    for (const auto& [digits, v] : s.tree->nodes) {
      auto e = expected.find(digits);
      if (e == expected.end()) {
        problem("recon tree node at depth " + std::to_string(digits.size()) +
                " that the SKS hash index does not imply");
      } else {
        ++seen;
        if (!(e->second == v)) {
          problem("recon tree node at depth " + std::to_string(digits.size()) +
                  " differs from the SKS hash index");
        }
      }
    }
    if (seen < expected.size()) {
      problem("recon tree lacks " + std::to_string(expected.size() - seen) +
              " nodes that the SKS hash index implies");
    }
  }
  // 4. Verification state belongs to stored certificates.
  for (const auto& [f, addresses] : s.published) {
    if (!s.certs.contains(f)) {
      problem("verification state of missing certificate " + f.to_hex());
    }
  }
  for (const auto& [h, t] : s.tokens) {
    if (!s.certs.contains(t.fingerprint)) {
      problem("verification state of missing certificate " + t.fingerprint.to_hex());
    }
  }
  // 5. The counter agrees.
  const auto counted = static_cast<std::uint64_t>(std::max<std::int64_t>(0, s.cert_counter));
  if (counted != report.certificates) {
    problem("certificate counter says " + std::to_string(counted) + ", found " +
            std::to_string(report.certificates));
  }
  return report;
}

Result<std::vector<std::string>> MemoryKeyStore::published(const Fingerprint& primary) const {
  std::lock_guard lock(impl_->mutex);
  std::vector<std::string> out;
  if (auto it = impl_->published.find(primary); it != impl_->published.end()) {
    for (const auto& [address, time] : it->second) {
      out.push_back(address);
    }
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::uint64_t>>> MemoryKeyStore::published_times(
    const Fingerprint& primary) const {
  std::lock_guard lock(impl_->mutex);
  std::vector<std::pair<std::string, std::uint64_t>> out;
  if (auto it = impl_->published.find(primary); it != impl_->published.end()) {
    out.assign(it->second.begin(), it->second.end());
  }
  return out;
}

Result<void> MemoryKeyStore::put_token(ByteView hash, const VerifyToken& token) {
  std::lock_guard lock(impl_->mutex);
  impl_->tokens[std::string(as_chars(hash))] = token;
  impl_->bump();
  return {};
}

Result<std::optional<VerifyToken>> MemoryKeyStore::token(ByteView hash) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->tokens.find(std::string(as_chars(hash)));
  if (it == impl_->tokens.end()) {
    return std::optional<VerifyToken>{};
  }
  return std::optional<VerifyToken>(it->second);
}

Result<void> MemoryKeyStore::delete_token(ByteView hash) {
  std::lock_guard lock(impl_->mutex);
  impl_->tokens.erase(std::string(as_chars(hash)));
  impl_->bump();
  return {};
}

Result<void> MemoryKeyStore::for_each_token(
    const std::function<bool(ByteView hash, const VerifyToken&)>& visit) const {
  std::vector<std::pair<std::string, VerifyToken>> snapshot;
  {
    std::lock_guard lock(impl_->mutex);
    snapshot.assign(impl_->tokens.begin(), impl_->tokens.end());
  }
  for (const auto& [h, t] : snapshot) {
    if (!visit(as_bytes(h), t)) {
      break;
    }
  }
  return {};
}

Result<std::optional<std::string>> MemoryKeyStore::setting(std::string_view name) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->settings.find(name);
  if (it == impl_->settings.end()) {
    return std::optional<std::string>{};
  }
  return std::optional<std::string>(it->second);
}

Result<void> MemoryKeyStore::put_setting(std::string_view name, std::string_view value) {
  std::lock_guard lock(impl_->mutex);
  impl_->settings.insert_or_assign(std::string(name), std::string(value));
  impl_->bump();
  return {};
}

Result<std::uint64_t> MemoryKeyStore::append_audit(std::uint64_t time, std::string_view text) {
  std::lock_guard lock(impl_->mutex);
  const std::uint64_t seq = impl_->audit.empty() ? 1 : impl_->audit.back().seq + 1;
  impl_->audit.push_back(AuditEntry{seq, time, std::string(text)});
  impl_->bump();
  return seq;
}

Result<void> MemoryKeyStore::for_each_audit(
    const std::function<bool(const AuditEntry&)>& visit) const {
  std::vector<AuditEntry> snapshot;
  {
    std::lock_guard lock(impl_->mutex);
    snapshot = impl_->audit;
  }
  for (const auto& e : snapshot) {
    if (!visit(e)) {
      break;
    }
  }
  return {};
}

}  // namespace keydir::storage
