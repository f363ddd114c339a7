// The transparency log in the RocksDB store: column family "tlog".
//   "e" be64(index)              → entry (tlog::Entry)
//   "h" level be64(index)        → 32-octet stored hash (tlog::NodeId), levels
//                                  1 and up: a leaf's hash is computed from its
//                                  entry when read (a quarter fewer writes)
//   "f" fpr_key                  → be64 index of the certificate's latest
//                                  entry, when no change-log record holds it:
//                                  a deletion's, a backfilled certificate's,
//                                  a store's from before the change log kept
//                                  it (a write's index is kept in its change
//                                  record: one key fewer per write)
//   "s"                          → be64 tree size
// Written in the same batch as the change it records: the log and the store
// cannot disagree after a crash.
#include <algorithm>

#include "openpgp/crypto/primitives.hpp"
#include "storage/rocksdb/rocks_impl.hpp"

namespace keydir::storage {

using namespace rocks;

namespace {
constexpr std::size_t kMaxCachedCommitments = 100000;
constexpr std::uint64_t kMaxRead = 1 << 16;

std::string entry_key(std::uint64_t index) {
  return "e" + be(index, 8);
}
std::string hash_key(tlog::NodeId id) {
  return "h" + std::string(1, static_cast<char>(id.level)) + be(id.index, 8);
}
std::string fpr_index_key(const Fingerprint& f) {
  return "f" + fpr_key(f);
}
const std::string kSizeKey = "s";

std::uint64_t read_be(std::string_view v) {
  std::uint64_t x = 0;
  for (char c : v) {
    x = x << 8 | static_cast<std::uint8_t>(c);
  }
  return x;
}

std::uint8_t key_version(const Fingerprint& f) {
  return f.bytes().size() == 32 ? 6 : 4;
}

}  // namespace

// Appends `entry` at the end of the tree of `txn`.
void RocksKeyStore::Impl::log_put(LogTxn& txn, const Bytes& entry) {
  const std::uint64_t index = txn.edge.size();
  txn.puts.emplace_back(entry_key(index), std::string(as_chars(entry)));
  std::vector<std::pair<tlog::NodeId, tlog::Hash>> stored;
  txn.edge.append(tlog::leaf_hash(entry), stored);
  for (const auto& [id, h] : stored) {
    if (id.level == 0) {
      continue;  // the entry is its leaf
    }
    txn.puts.emplace_back(hash_key(id),
                          std::string(reinterpret_cast<const char*>(h.data()), h.size()));
  }
}

void RocksKeyStore::Impl::log_flush(
    LogTxn& txn, const std::function<void(std::string key, std::string value)>& put) {
  if (txn.puts.empty()) {
    return;
  }
  // Stable: a certificate written twice in one batch keeps its last index.
  std::stable_sort(txn.puts.begin(), txn.puts.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [k, v] : txn.puts) {
    put(std::move(k), std::move(v));
  }
  txn.puts.clear();
  put(kSizeKey, be(txn.edge.size(), 8));
}

Result<void> RocksKeyStore::Impl::load_log() {
  std::string v;
  auto s = db->Get(rocksdb::ReadOptions(), cf(kLog), kSizeKey, &v);
  if (s.IsNotFound()) {
    // No log yet: the empty tree, whose root is SHA-256 of nothing (RFC
    // 9162), not zeros.
    std::lock_guard lock(log_mutex);
    log_now = LogState{0, log_edge.root()};
    return {};
  }
  if (!s.ok() || v.size() != 8) {
    return io_error(s, "reading the transparency log's size");
  }
  const std::uint64_t size = read_be(v);
  KEYDIR_TRY(auto edge, tlog::Frontier::load(size, [&](tlog::NodeId id) -> Result<tlog::Hash> {
               std::string h;
               auto st = db->Get(rocksdb::ReadOptions(), cf(kLog),
                                 id.level == 0 ? entry_key(id.index) : hash_key(id), &h);
               auto parsed = !st.ok()        ? std::nullopt
                             : id.level == 0 ? std::optional(tlog::leaf_hash(as_bytes(h)))
                                             : tlog::hash_from(as_bytes(h));
               if (!parsed) {
                 return fail(ErrorCode::StorageCorruption,
                             "the transparency log lacks a hash of its right edge");
               }
               return *parsed;
             }));
  std::string first;
  s = db->Get(rocksdb::ReadOptions(), cf(kLog), entry_key(0), &first);
  if (!s.ok()) {
    return fail(ErrorCode::StorageCorruption, "the transparency log lacks its first entry");
  }
  auto header = tlog::Entry::decode(as_bytes(first));
  if (!header || header->kind != tlog::Entry::Kind::Header) {
    return fail(ErrorCode::StorageCorruption, "the transparency log's first entry is no header");
  }
  log_scheme = header->scheme;
  log_edge = std::move(edge);
  std::lock_guard lock(log_mutex);
  log_now = LogState{log_edge.size(), log_edge.root()};
  scheme_now = std::make_shared<const tlog::CommitmentScheme>(*log_scheme);
  return {};
}

Result<void> RocksKeyStore::Impl::log_start(LogTxn& txn, const tlog::CommitmentScheme& scheme,
                                            std::uint64_t now) {
  if (log_scheme || txn.started || txn.edge.size() != 0) {
    return {};
  }
  if (scheme.salt.size() != tlog::kSaltBytes) {
    return fail(ErrorCode::Internal, "a commitment scheme without its 32-octet salt");
  }
  tlog::Entry header;
  header.kind = tlog::Entry::Kind::Header;
  header.time = now;
  header.scheme = scheme;
  log_put(txn, header.encode());
  txn.started = scheme;
  return {};
}

Result<Bytes> RocksKeyStore::Impl::scrypt_commitment(const tlog::CommitmentScheme& scheme,
                                                     const std::string& address) {
  {
    std::lock_guard lock(commitment_mutex);
    if (auto it = commitment_cache.find(address); it != commitment_cache.end()) {
      return it->second;
    }
  }
  scrypt_slots.acquire();
  auto made = scheme.commit(address);
  scrypt_slots.release();
  KEYDIR_TRY(auto c, std::move(made));
  std::lock_guard lock(commitment_mutex);
  if (commitment_cache.size() >= kMaxCachedCommitments) {
    commitment_cache.clear();
  }
  commitment_cache.emplace(address, c);
  return c;
}

Result<std::vector<std::vector<Bytes>>> RocksKeyStore::Impl::precommit(
    const std::vector<Write>& writes) {
  std::shared_ptr<const tlog::CommitmentScheme> scheme;
  {
    std::lock_guard lock(log_mutex);
    scheme = scheme_now;
  }
  std::vector<std::vector<Bytes>> out;
  if (!scheme || scheme->kind != tlog::CommitmentScheme::Kind::Scrypt) {
    return out;
  }
  out.resize(writes.size());
  for (std::size_t i = 0; i < writes.size(); ++i) {
    for (const auto& a : writes[i].record.index.emails) {
      KEYDIR_TRY(auto c, scrypt_commitment(*scheme, a));
      out[i].push_back(std::move(c));
    }
  }
  return out;
}

Result<std::uint64_t> RocksKeyStore::Impl::log_certificate(
    LogTxn& txn, const Fingerprint& fpr, std::uint64_t seq, std::uint64_t now, const Bytes& digest,
    const std::vector<std::string>& addresses, EntryIndex where,
    const std::vector<Bytes>* commitments) {
  if (!log_scheme && !txn.started) {
    tlog::CommitmentScheme scheme;
    KEYDIR_TRY(scheme.salt, openpgp::crypto::random_bytes(tlog::kSaltBytes));
    KEYDIR_CHECK(log_start(txn, scheme, now));
  }
  const tlog::CommitmentScheme& scheme = log_scheme ? *log_scheme : *txn.started;
  tlog::Entry e;
  e.kind = tlog::Entry::Kind::Certificate;
  e.seq = seq;
  e.time = now;
  e.key_version = key_version(fpr);
  // Blinded in scrypt logs; the index below stays keyed by the real one.
  e.fingerprint = scheme.entry_fingerprint(e.key_version, fpr.bytes());
  e.digest = digest;
  if (e.digest.size() != 32) {
    return fail(ErrorCode::Internal, "a log entry's digest has 32 octets");
  }
  if (commitments && commitments->size() == addresses.size()) {
    e.commitments = *commitments;
  } else {
    for (const auto& a : addresses) {
      // HMAC: 0.75 µs, cheaper than a cache (a bulk import's addresses are
      // new). Scrypt here only for the write that starts the log or the
      // backfill; other writes bring theirs (precommit).
      KEYDIR_TRY(auto c, scheme.kind == tlog::CommitmentScheme::Kind::HmacSha256
                             ? scheme.commit(a)
                             : scrypt_commitment(scheme, a));
      e.commitments.push_back(std::move(c));
    }
  }
  std::sort(e.commitments.begin(), e.commitments.end());
  e.commitments.erase(std::unique(e.commitments.begin(), e.commitments.end()), e.commitments.end());
  if (e.commitments.size() > tlog::kMaxCommitments) {
    return fail(
        ErrorCode::TooManyComponents,
        "a certificate found by more than " + std::to_string(tlog::kMaxCommitments) + " addresses");
  }
  const std::uint64_t index = txn.edge.size();
  if (where == EntryIndex::Own) {
    txn.puts.emplace_back(fpr_index_key(fpr), be(index, 8));
  }
  log_put(txn, e.encode());
  return index;
}

Result<void> RocksKeyStore::Impl::log_deleted(LogTxn& txn, const Fingerprint& fpr,
                                              std::uint64_t seq, std::uint64_t now) {
  if (!log_scheme && !txn.started) {
    tlog::CommitmentScheme scheme;
    KEYDIR_TRY(scheme.salt, openpgp::crypto::random_bytes(tlog::kSaltBytes));
    KEYDIR_CHECK(log_start(txn, scheme, now));
  }
  const tlog::CommitmentScheme& scheme = log_scheme ? *log_scheme : *txn.started;
  tlog::Entry e;
  e.kind = tlog::Entry::Kind::Deleted;
  e.seq = seq;
  e.time = now;
  e.key_version = key_version(fpr);
  e.fingerprint = scheme.entry_fingerprint(e.key_version, fpr.bytes());
  txn.puts.emplace_back(fpr_index_key(fpr), be(txn.edge.size(), 8));
  log_put(txn, e.encode());
  return {};
}

void RocksKeyStore::Impl::log_commit(LogTxn& txn) {
  const bool started = txn.started.has_value();
  if (started) {
    log_scheme = std::move(txn.started);
  }
  log_edge = std::move(txn.edge);
  std::lock_guard lock(log_mutex);
  log_now = LogState{log_edge.size(), log_edge.root()};
  if (started) {
    scheme_now = std::make_shared<const tlog::CommitmentScheme>(*log_scheme);
  }
}

Result<void> RocksKeyStore::start_log(const tlog::CommitmentScheme& scheme, std::uint64_t now) {
  std::lock_guard lock(impl_->write_mutex);
  if (impl_->log_scheme) {
    return {};
  }
  KEYDIR_CHECK(impl_->writable());
  rocksdb::WriteBatch batch;
  auto txn = impl_->log_txn();
  KEYDIR_CHECK(impl_->log_start(txn, scheme, now));
  Impl::log_flush(txn, [&](std::string k, std::string v) { batch.Put(impl_->cf(kLog), k, v); });
  auto s = impl_->write(batch);
  if (!s.ok()) {
    return io_error(s, "starting the transparency log");
  }
  impl_->log_commit(txn);
  return {};
}

Result<void> RocksKeyStore::append_log(const std::vector<LogItem>& items, std::uint64_t now) {
  std::lock_guard lock(impl_->write_mutex);
  KEYDIR_CHECK(impl_->writable());
  rocksdb::WriteBatch batch;
  auto txn = impl_->log_txn();
  for (const auto& item : items) {
    if (item.digest.empty()) {
      KEYDIR_CHECK(impl_->log_deleted(txn, item.fingerprint, item.seq, now));
    } else {
      KEYDIR_CHECK(impl_->log_certificate(txn, item.fingerprint, item.seq, now, item.digest,
                                          item.addresses, Impl::EntryIndex::Own));
    }
  }
  Impl::log_flush(txn, [&](std::string k, std::string v) { batch.Put(impl_->cf(kLog), k, v); });
  auto s = impl_->write(batch);
  if (!s.ok()) {
    return io_error(s, "writing to the transparency log");
  }
  impl_->log_commit(txn);
  return {};
}

Result<LogState> RocksKeyStore::log_state() const {
  std::lock_guard lock(impl_->log_mutex);
  return impl_->log_now;
}

Result<std::optional<tlog::CommitmentScheme>> RocksKeyStore::log_scheme() const {
  KEYDIR_TRY(auto entries, log_entries(0, 1));
  if (entries.empty()) {
    return std::optional<tlog::CommitmentScheme>{};
  }
  auto header = tlog::Entry::decode(entries[0]);
  if (!header || header->kind != tlog::Entry::Kind::Header) {
    return fail(ErrorCode::StorageCorruption, "the transparency log's first entry is no header");
  }
  return std::optional<tlog::CommitmentScheme>(header->scheme);
}

Result<tlog::Hash> RocksKeyStore::log_hash(tlog::NodeId id) const {
  if (id.level == 0) {
    KEYDIR_TRY(auto leaves, log_hashes(0, id.index, 1));
    if (leaves.empty()) {
      return fail(ErrorCode::NotFound, "no such hash in the transparency log");
    }
    return leaves.front();
  }
  std::string v;
  auto s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(kLog), hash_key(id), &v);
  if (s.IsNotFound()) {
    return fail(ErrorCode::NotFound, "no such hash in the transparency log");
  }
  auto h = s.ok() ? tlog::hash_from(as_bytes(v)) : std::nullopt;
  if (!h) {
    return s.ok() ? fail(ErrorCode::StorageCorruption, "a malformed hash in the transparency log")
                  : io_error(s, "reading the transparency log");
  }
  return *h;
}

Result<std::vector<tlog::Hash>> RocksKeyStore::log_hashes(std::uint8_t level, std::uint64_t first,
                                                          std::uint64_t count) const {
  std::vector<tlog::Hash> out;
  count = std::min(count, kMaxRead);
  if (level == 0) {
    KEYDIR_TRY(auto entries, log_entries(first, count));
    out.reserve(entries.size());
    for (const auto& e : entries) {
      out.push_back(tlog::leaf_hash(e));
    }
    return out;
  }
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kLog)));
  const std::string prefix = "h" + std::string(1, static_cast<char>(level));
  for (it->Seek(hash_key(tlog::NodeId{level, first}));
       it->Valid() && it->key().starts_with(prefix) && out.size() < count; it->Next()) {
    if (read_be(std::string_view(it->key().data(), it->key().size()).substr(2)) !=
        first + out.size()) {
      break;
    }
    auto h = tlog::hash_from(as_bytes(std::string_view(it->value().data(), it->value().size())));
    if (!h) {
      return fail(ErrorCode::StorageCorruption, "a malformed hash in the transparency log");
    }
    out.push_back(*h);
  }
  if (!it->status().ok()) {
    return io_error(it->status(), "reading the transparency log");
  }
  return out;
}

Result<std::vector<Bytes>> RocksKeyStore::log_entries(std::uint64_t first,
                                                      std::uint64_t count) const {
  std::vector<Bytes> out;
  count = std::min(count, kMaxRead);
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kLog)));
  for (it->Seek(entry_key(first)); it->Valid() && it->key().starts_with("e") && out.size() < count;
       it->Next()) {
    if (read_be(std::string_view(it->key().data(), it->key().size()).substr(1)) !=
        first + out.size()) {
      break;
    }
    out.emplace_back(
        reinterpret_cast<const std::uint8_t*>(it->value().data()),
        reinterpret_cast<const std::uint8_t*>(it->value().data()) + it->value().size());
  }
  if (!it->status().ok()) {
    return io_error(it->status(), "reading the transparency log");
  }
  return out;
}

Result<std::optional<std::uint64_t>> RocksKeyStore::Impl::latest_entry(
    const rocksdb::ReadOptions& ro, const Fingerprint& fpr,
    std::optional<std::uint64_t> seq) const {
  std::optional<std::uint64_t> latest;
  std::string v;
  if (!seq) {
    auto s = db->Get(ro, cf(kCerts), fpr_key(fpr), &v);
    if (s.ok()) {
      KEYDIR_TRY(auto rec, decode_record(fpr, v, false));
      seq = rec.seq;
    } else if (!s.IsNotFound()) {
      return io_error(s, "reading a certificate");
    }
  }
  if (seq) {
    auto s = db->Get(ro, cf(kChangelog), be(*seq, 8), &v);
    if (!s.ok() && !s.IsNotFound()) {
      return io_error(s, "reading the change log");
    }
    if (s.ok()) {
      auto change = decode_change(v);
      if (!change || change->fingerprint != fpr) {
        return fail(ErrorCode::StorageCorruption,
                    "change " + std::to_string(*seq) + " is not a change of " + fpr.to_hex());
      }
      latest = change->log_index;
    }
  }
  // Indexes only grow: the later of the two is the latest entry.
  auto s = db->Get(ro, cf(kLog), fpr_index_key(fpr), &v);
  if (s.ok() && v.size() == 8) {
    latest = std::max(latest.value_or(0), read_be(v));
  } else if (!s.IsNotFound()) {
    return io_error(s, "reading the transparency log");
  }
  return latest;
}

Result<std::optional<std::uint64_t>> RocksKeyStore::log_index(const Fingerprint& primary) const {
  return impl_->latest_entry(rocksdb::ReadOptions(), primary, std::nullopt);
}

Result<ConsistencyReport> RocksKeyStore::verify_log() const {
  ConsistencyReport report;
  auto problem = [&](std::string p) {
    if (report.problems.size() < 100) {
      report.problems.push_back(std::move(p));
    }
    ++report.problem_count;
  };
  // One snapshot: the entries, the hashes and the size agree.
  Impl::Snapshot snap(impl_->db.get());
  auto ro = snap.options();
  std::string v;
  auto s = impl_->db->Get(ro, impl_->cf(kLog), kSizeKey, &v);
  const std::uint64_t size = s.ok() && v.size() == 8 ? read_be(v) : 0;
  if (!s.ok() && !s.IsNotFound()) {
    return io_error(s, "reading the transparency log's size");
  }
  tlog::Frontier edge;
  std::vector<std::pair<tlog::NodeId, tlog::Hash>> expect;
  std::unique_ptr<rocksdb::Iterator> hashes(impl_->db->NewIterator(ro, impl_->cf(kLog)));
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->cf(kLog)));
  std::uint64_t index = 0;
  std::optional<tlog::CommitmentScheme> scheme;  // entry 0's
  for (it->Seek(entry_key(0)); it->Valid() && it->key().starts_with("e"); it->Next(), ++index) {
    if (read_be(std::string_view(it->key().data(), it->key().size()).substr(1)) != index) {
      problem("transparency log: entry " + std::to_string(index) + " is missing");
      break;
    }
    const auto entry = as_bytes(std::string_view(it->value().data(), it->value().size()));
    auto decoded = tlog::Entry::decode(entry);
    if (!decoded) {
      problem("transparency log: entry " + std::to_string(index) + ": " + decoded.error().detail);
    } else if ((index == 0) != (decoded->kind == tlog::Entry::Kind::Header)) {
      problem("transparency log: entry " + std::to_string(index) +
              (index == 0 ? " is not the header" : " is a second header"));
    } else if (index == 0) {
      scheme = decoded->scheme;
    }
    expect.clear();
    edge.append(tlog::leaf_hash(entry), expect);
    for (const auto& [id, h] : expect) {
      if (id.level == 0) {
        continue;  // computed from the entry
      }
      std::string stored;
      auto g = impl_->db->Get(ro, impl_->cf(kLog), hash_key(id), &stored);
      if (!g.ok() || tlog::hash_from(as_bytes(stored)) != h) {
        problem("transparency log: the hash at level " + std::to_string(id.level) + ", index " +
                std::to_string(id.index) + " is " + (g.ok() ? "wrong" : "missing"));
      }
    }
  }
  if (!it->status().ok()) {
    return io_error(it->status(), "reading the transparency log");
  }
  report.index_entries = index;
  // The store and the log agree: every certificate's latest entry is the
  // one written with its last change (same change number, same key, as
  // the log's scheme writes it: blinded in scrypt logs).
  std::unique_ptr<rocksdb::Iterator> certs(impl_->db->NewIterator(ro, impl_->cf(kCerts)));
  for (certs->SeekToFirst(); certs->Valid(); certs->Next()) {
    const std::string_view key(certs->key().data(), certs->key().size());
    auto fpr = fpr_from(key);
    if (!fpr) {
      continue;  // rocks_check reports it
    }
    ++report.certificates;
    auto rec =
        decode_record(*fpr, std::string_view(certs->value().data(), certs->value().size()), false);
    auto at = impl_->latest_entry(ro, *fpr, rec ? std::optional(rec->seq) : std::nullopt);
    std::string entry;
    auto g = rocksdb::Status::NotFound();
    if (at && *at) {
      g = impl_->db->Get(ro, impl_->cf(kLog), entry_key(**at), &entry);
    }
    Result<tlog::Entry> e = fail(ErrorCode::NotFound, "no entry");
    if (g.ok()) {
      e = tlog::Entry::decode(as_bytes(entry));
    }
    const std::uint8_t version = key_version(*fpr);
    if (!rec || !e || !scheme || e->kind != tlog::Entry::Kind::Certificate ||
        e->key_version != version ||
        e->fingerprint != scheme->entry_fingerprint(version, fpr->bytes()) || e->seq != rec->seq) {
      problem("transparency log: certificate " + fpr->to_hex() +
              " has no entry of its last change (" +
              (!at       ? at.error().detail
               : !g.ok() ? std::string("none")
               : !e      ? std::string("malformed")
                         : std::string("another change")) +
              ")");
    }
  }
  if (!certs->status().ok()) {
    return io_error(certs->status(), "reading certificates");
  }
  if (index != size) {
    problem("transparency log: " + std::to_string(index) + " entries, and its size says " +
            std::to_string(size));
  }
  {
    std::lock_guard lock(impl_->log_mutex);
    if (impl_->log_now.size == edge.size() && impl_->log_now.root != edge.root()) {
      problem("transparency log: the root recomputed from the entries differs from the served one");
    }
  }
  return report;
}

}  // namespace keydir::storage
