// RocksKeyStore::check(): the consistency check of the RocksDB store (what
// `keydird check` reports).
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/rocksdb/codec.hpp"
#include "storage/rocksdb/rocks_impl.hpp"
#include "storage/rocksdb/rocks_key_store.hpp"
#include "tlog/merkle.hpp"

namespace keydir::storage {

using namespace rocks;  // the encodings (codec.hpp)

namespace {

constexpr std::size_t kMaxProblems = 100;

// What the check reads more than once is decoded once. Without it, a key that
// M certificates claim is read and decoded in each one's turn (M² members),
// and a certificate with E index entries is read and re-derived once per
// entry (E², plus E reads of the certificate): both numbers are anyone's to
// choose. Only large sets and certificates are kept (the others cost a
// bounded amount per entry as before), at most kCacheBudget strings in all
// (past it, the check reads as before: slower, same answer). Everything is
// read from one snapshot, so a kept answer stays true.
constexpr std::size_t kCacheSmall = 32;
constexpr std::size_t kCacheBudget = std::size_t{1} << 20;

// One entry as a comparable string: column family, key length, key, value.
std::string entry_id(Cf c, std::string_view key, std::string_view value) {
  std::string id(1, static_cast<char>(c));
  id += be(key.size(), 4);
  id += key;
  id += value;
  return id;
}

// A multiset of index entries as the sum of their hashes (two 64-bit lanes of
// SHA-256): the entries the certificates imply and those the indexes hold are
// the same multiset when the sums and counts agree, which two sequential
// passes tell without a lookup. Looking up each entry apart took 197 million
// block reads in the first 15 minutes at ten million certificates.
struct EntrySum {
  std::uint64_t count = 0;
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  void add(Cf c, std::string_view key, std::string_view value) {
    const std::string id = entry_id(c, key, value);
    const tlog::Hash h =
        tlog::leaf_hash(ByteView(reinterpret_cast<const std::uint8_t*>(id.data()), id.size()));
    std::uint64_t x = 0;
    std::uint64_t y = 0;
    for (std::size_t i = 0; i < 8; ++i) {
      x = x << 8 | h[i];
      y = y << 8 | h[8 + i];
    }
    ++count;
    a += x;
    b += y;
  }
  bool operator==(const EntrySum&) const = default;
};

// `Impl`: RocksKeyStore::Impl (private to the store, named by check()).
template <class Impl>
class CheckCache {
 public:
  CheckCache(const Impl& impl, const rocksdb::ReadOptions& ro) : impl_(impl), ro_(ro) {}

  // Whether the database holds entry `e` (Impl::holds).
  bool holds(const Entry& e) {
    if (e.kind != Kind::Set) {
      return impl_.holds(ro_, e);
    }
    std::string id = entry_id(e.cf, e.key, {});
    if (auto it = sets_.find(id); it != sets_.end()) {
      return std::binary_search(it->second.begin(), it->second.end(), e.value);
    }
    std::string value;
    auto s = impl_.db->Get(ro_, impl_.cf(e.cf), e.key, &value);
    if (!s.ok()) {
      return false;
    }
    auto set = decode_set(value);
    const bool in = std::binary_search(set.begin(), set.end(), e.value);
    if (set.size() > kCacheSmall && keep(set.size())) {
      sets_.emplace(std::move(id), std::move(set));
    }
    return in;
  }

  enum class Listed { Yes, No, NoCertificate };
  // Whether `owner`'s certificate lists the entry (c, key, member).
  Listed listed(const Fingerprint& owner, Cf c, const std::string& key, const std::string& member) {
    const std::string k = fpr_key(owner);
    if (auto it = owners_.find(k); it != owners_.end()) {
      return std::binary_search(it->second.begin(), it->second.end(), entry_id(c, key, member))
                 ? Listed::Yes
                 : Listed::No;
    }
    auto rec = impl_.get(ro_, owner);
    if (!rec || !*rec) {
      return Listed::NoCertificate;
    }
    auto entries = entries_of((*rec)->index, owner);
    bool found = false;
    for (const auto& e : entries) {
      if (e.cf == c && e.key == key && e.value == member) {
        found = true;
        break;
      }
    }
    if (entries.size() > kCacheSmall && keep(entries.size())) {
      std::vector<std::string> ids;
      ids.reserve(entries.size());
      for (const auto& e : entries) {
        ids.push_back(entry_id(e.cf, e.key, e.value));
      }
      std::sort(ids.begin(), ids.end());
      owners_.emplace(k, std::move(ids));
    }
    return found ? Listed::Yes : Listed::No;
  }

 private:
  bool keep(std::size_t n) {
    if (n > budget_) {
      return false;
    }
    budget_ -= n;
    return true;
  }

  const Impl& impl_;
  const rocksdb::ReadOptions& ro_;
  std::size_t budget_ = kCacheBudget;
  std::unordered_map<std::string, std::vector<std::string>> sets_;  // entry_id(cf, key) → members
  std::unordered_map<std::string, std::vector<std::string>> owners_;  // fpr key → sorted entry_ids
};

}  // namespace

Result<ConsistencyReport> RocksKeyStore::check() const {
  ConsistencyReport report;
  auto problem = [&](std::string what) {
    ++report.problem_count;
    if (report.problems.size() < kMaxProblems) {
      report.problems.push_back(std::move(what));
    }
  };
  Impl::Snapshot snap(impl_->db.get());
  auto ro = snap.options();
  ro.fill_cache = false;
  ro.readahead_size = 2 << 20;  // sequential passes
  // 1 and 2 at once: the entries the certificates imply, as a multiset,
  // against the entries the indexes hold. Only when they differ (or a record
  // does not decode) is each entry looked up, to name what differs.
  bool same = true;
  {
    EntrySum implied;
    EntrySum held;
    std::uint64_t certificates = 0;
    std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->cf(kCerts)));
    for (it->SeekToFirst(); it->Valid() && same; it->Next()) {
      ++certificates;
      auto fpr = fpr_from(std::string_view(it->key().data(), it->key().size()));
      if (!fpr) {
        same = false;
        break;
      }
      auto rec = decode_record(*fpr, std::string_view(it->value().data(), it->value().size()));
      if (!rec || rec->index.fingerprints.empty() || rec->index.fingerprints.front() != *fpr) {
        same = false;
        break;
      }
      for (const auto& e : entries_of(rec->index, *fpr)) {
        implied.add(e.cf, e.key, e.value);
      }
    }
    if (!it->status().ok()) {
      return io_error(it->status(), "checking certificates");
    }
    for (Cf c : {kByFpr, kByKeyId, kByShort, kByEmail, kByWkd, kByWord, kBySks}) {
      if (!same) {
        break;
      }
      std::unique_ptr<rocksdb::Iterator> ix(impl_->db->NewIterator(ro, impl_->cf(c)));
      for (ix->SeekToFirst(); ix->Valid(); ix->Next()) {
        const std::string_view key(ix->key().data(), ix->key().size());
        const std::string_view value(ix->value().data(), ix->value().size());
        if (c == kBySks) {
          held.add(c, key, value);
        } else if (c == kByWord) {
          held.add(c, key, {});
        } else {
          for (const auto& m : decode_set(value)) {
            held.add(c, key, m);
          }
        }
      }
      if (!ix->status().ok()) {
        return io_error(ix->status(), "checking indexes");
      }
    }
    same = same && implied == held;
    if (same) {
      report.certificates = certificates;
      report.index_entries = held.count;
    }
  }
  CheckCache<Impl> cache(*impl_, ro);
  // 1. Every certificate is fully indexed.
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->cf(kCerts)));
  for (it->SeekToFirst(); !same && it->Valid(); it->Next()) {
    ++report.certificates;
    auto fpr = fpr_from(std::string_view(it->key().data(), it->key().size()));
    if (!fpr) {
      problem("certificate with a malformed key");
      continue;
    }
    auto rec = decode_record(*fpr, std::string_view(it->value().data(), it->value().size()));
    if (!rec) {
      problem(fpr->to_hex() + ": " + rec.error().detail);
      continue;
    }
    if (rec->index.fingerprints.empty() || rec->index.fingerprints.front() != *fpr) {
      problem(fpr->to_hex() + ": index does not start with its own fingerprint");
    }
    for (const auto& e : entries_of(rec->index, *fpr)) {
      if (!cache.holds(e)) {
        problem(fpr->to_hex() + ": missing entry in " + kCfNames[e.cf]);
      }
    }
  }
  if (!it->status().ok()) {
    return io_error(it->status(), "checking certificates");
  }
  // 2. Every index entry points to a certificate that lists it.
  for (Cf c : {kByFpr, kByKeyId, kByShort, kByEmail, kByWkd, kByWord, kBySks}) {
    if (same) {
      break;
    }
    std::unique_ptr<rocksdb::Iterator> ix(impl_->db->NewIterator(ro, impl_->cf(c)));
    for (ix->SeekToFirst(); ix->Valid(); ix->Next()) {
      std::string key(ix->key().data(), ix->key().size());
      std::string value(ix->value().data(), ix->value().size());
      // (owner, the entry as the owner's IndexSet would produce it)
      std::vector<std::pair<std::optional<Fingerprint>, std::string>> owners;
      if (c == kBySks) {
        owners.emplace_back(fpr_from(value), value);
      } else if (c == kByWord) {
        auto nul = key.find('\0');
        owners.emplace_back(nul == std::string::npos ? std::nullopt : fpr_from(key.substr(nul + 1)),
                            std::string());
      } else {
        for (const auto& m : decode_set(value)) {
          owners.emplace_back(fpr_from(m), m);
        }
        if (owners.empty()) {
          continue;  // an emptied set, gone at the next compaction
        }
      }
      for (const auto& [owner, member] : owners) {
        ++report.index_entries;
        if (!owner) {
          problem(std::string("malformed entry in ") + kCfNames[c]);
          continue;
        }
        const auto listed = cache.listed(*owner, c, key, member);
        if (listed == CheckCache<Impl>::Listed::NoCertificate) {
          problem(std::string(kCfNames[c]) + " entry points to missing certificate " +
                  owner->to_hex());
          continue;
        }
        if (listed == CheckCache<Impl>::Listed::No) {
          problem(std::string(kCfNames[c]) + " entry not listed by certificate " + owner->to_hex());
        }
      }
    }
    if (!ix->status().ok()) {
      return io_error(ix->status(), "checking indexes");
    }
  }
  // 3. The recon tree is the one the SKS hash index implies.
  {
    std::map<std::string, std::string> expected;
    auto n = impl_->tree->compute(ro, [&](const std::string& key, const rocks::TreeNodeValue& v) {
      expected.emplace(key, impl_->tree->encode(v));
    });
    if (!n) {
      return tl::unexpected(n.error());
    }
    std::unique_ptr<rocksdb::Iterator> t(impl_->db->NewIterator(ro, impl_->cf(kReconTree)));
    std::size_t seen = 0;  // stored nodes the index implies, equal or not
    for (t->SeekToFirst(); t->Valid(); t->Next()) {
      std::string key(t->key().data(), t->key().size());
      auto e = expected.find(key);
      if (e == expected.end()) {
        problem("recon tree node at depth " + std::to_string(key.size() - 1) +
                " that the SKS hash index does not imply");
      } else {
        ++seen;
        if (e->second != std::string_view(t->value().data(), t->value().size())) {
          problem("recon tree node at depth " + std::to_string(key.size() - 1) +
                  " differs from the SKS hash index");
        }
      }
    }
    if (!t->status().ok()) {
      return io_error(t->status(), "checking the recon tree");
    }
    if (seen < expected.size()) {
      problem("recon tree lacks " + std::to_string(expected.size() - seen) +
              " nodes that the SKS hash index implies");
    }
  }
  // 4. Verification state belongs to stored certificates.
  {
    // A certificate's published addresses are adjacent ("p" + fingerprint +
    // address): its record is read once for all of them.
    std::optional<Fingerprint> last_owner;
    bool last_present = false;
    std::unique_ptr<rocksdb::Iterator> v(impl_->db->NewIterator(ro, impl_->cf(kVerify)));
    for (v->SeekToFirst(); v->Valid(); v->Next()) {
      std::string_view key(v->key().data(), v->key().size());
      std::optional<Fingerprint> owner;
      if (key.starts_with("p") && key.size() > 1) {
        std::size_t len = key[1] == 6 ? 33 : 21;
        owner = key.size() > 1 + len ? fpr_from(key.substr(1, len)) : std::nullopt;
      } else if (key.starts_with("t")) {
        auto t = decode_token(std::string_view(v->value().data(), v->value().size()));
        owner = t ? std::optional<Fingerprint>(t->fingerprint) : std::nullopt;
      }
      if (!owner) {
        problem("malformed verification entry");
        continue;
      }
      if (owner != last_owner) {
        auto rec = impl_->get(ro, *owner, false);
        last_owner = owner;
        last_present = rec && *rec;
      }
      if (!last_present) {
        problem("verification state of missing certificate " + owner->to_hex());
      }
    }
  }
  // 5. The counter agrees.
  KEYDIR_TRY(auto st, stats());
  if (st.certificates != report.certificates) {
    problem("certificate counter says " + std::to_string(st.certificates) + ", found " +
            std::to_string(report.certificates));
  }
  return report;
}

}  // namespace keydir::storage
