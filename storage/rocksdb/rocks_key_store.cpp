#include "storage/rocksdb/rocks_key_store.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <set>

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include "storage/rocksdb/codec.hpp"
#include "storage/rocksdb/merge_operators.hpp"
#include "storage/rocksdb/recon_tree.hpp"
#include "storage/rocksdb/rocks_impl.hpp"
#include "storage/rocksdb/rocks_logger.hpp"
#include "storage/rocksdb/schema.hpp"

namespace keydir::storage {

using namespace rocks;  // the encodings (codec.hpp)

int rocks_schema_version() {
  return kSchemaCurrent;
}

std::string describe(const SchemaMigration& m, const std::string& dir) {
  char took[32];
  std::snprintf(took, sizeof took, "%.2f", m.seconds);
  std::string line = "migrated the store in " + dir + " from schema " + std::to_string(m.from) +
                     " to " + std::to_string(m.to) + " in " + took + " s";
  if (!m.changed.empty()) {
    line += " (" + m.changed + ")";
  }
  return line + "; the store as it was: " + m.backup + " (" +
         std::to_string((m.backup_bytes + 1023) / 1024) +
         " KiB, its tables hard links; restore: use it as --data with the keydird that wrote it)";
}

namespace {

// A value read from a store, for a message: control bytes escaped, cut at 32
// bytes (a crafted store must not write to the operator's terminal).
std::string printable(const std::string& value) {
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < value.size() && i < 32; ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (value.size() > 32) {
    out += "...";
  }
  return out;
}

// The user that owns `path` ("uid N" when it has no name).
std::string owner_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return "";
  }
  if (const passwd* pw = ::getpwuid(st.st_uid)) {
    return pw->pw_name;
  }
  return "uid " + std::to_string(st.st_uid);
}

// The file RocksDB could not write, from its status ("... while open a file
// for lock: DIR/LOCK: Permission denied"): DIR/LOCK; `dir` when it names none.
std::string denied_path(const std::string& status, const std::string& dir) {
  const auto end = status.find(": Permission denied");
  if (end == std::string::npos) {
    return dir;
  }
  const auto start = status.rfind(": ", end - 1);
  return start == std::string::npos ? dir : status.substr(start + 2, end - start - 2);
}

// The command that migrates the store in `dir`, and who must run it.
std::string migrate_command(const std::string& dir) {
  std::string who = owner_of(dir);
  return "run `keydird migrate --data " + dir + "` as the user that owns " + dir +
         (who.empty() ? "" : " (" + who + ")") + "; it takes a backup first";
}

// The schema of the store in `dir`, opened read-only (nothing written):
// 1 when it has no record; nullopt when it cannot be opened or read.
// The column families of `all` that the store in `dir` has: a read-only open
// cannot create the ones a later keydird added (the transparency log's).
std::vector<rocksdb::ColumnFamilyDescriptor> present_families(
    const rocksdb::Options& options, const std::string& dir,
    const std::vector<rocksdb::ColumnFamilyDescriptor>& all) {
  std::vector<std::string> names;
  if (!rocksdb::DB::ListColumnFamilies(options, dir, &names).ok()) {
    return all;
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> out;
  for (const auto& d : all) {
    if (std::find(names.begin(), names.end(), d.name) != names.end()) {
      out.push_back(d);
    }
  }
  return out;
}

std::optional<int> schema_read_only(const rocksdb::Options& options, const std::string& dir,
                                    const std::vector<rocksdb::ColumnFamilyDescriptor>& all) {
  const auto cfs = present_families(options, dir, all);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::OpenForReadOnly(options, dir, cfs, &handles, &db).ok()) {
    return std::nullopt;
  }
  std::optional<int> version;
  std::string v;
  auto meta =
      std::find_if(cfs.begin(), cfs.end(), [](const auto& d) { return d.name == kCfNames[kMeta]; });
  if (meta == cfs.end()) {
    for (auto* h : handles) {
      db->DestroyColumnFamilyHandle(h);
    }
    delete db;
    return std::nullopt;
  }
  auto g = db->Get(rocksdb::ReadOptions(), handles[static_cast<std::size_t>(meta - cfs.begin())],
                   std::string(kSchemaKey), &v);
  if (g.IsNotFound()) {
    version = 1;
  } else if (g.ok()) {
    version = parse_schema(v);
  }
  for (auto* h : handles) {
    db->DestroyColumnFamilyHandle(h);
  }
  delete db;
  return version;
}

}  // namespace

RocksKeyStore::RocksKeyStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RocksKeyStore::~RocksKeyStore() = default;

Result<std::unique_ptr<RocksKeyStore>> RocksKeyStore::open(const std::string& dir,
                                                           const RocksOptions& options) {
  rocksdb::Options db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  // RocksDB's own LOG file is replaced by keydird's log at debug level
  // (rocks_logger.hpp).
  db_options.info_log = std::make_shared<SpdlogLogger>();
  db_options.bytes_per_sync = 1 << 20;
  db_options.keep_log_file_num = 5;
  // With a dozen column families, small ones rarely flush and would pin old
  // WAL files forever; this forces their flush instead.
  db_options.max_total_wal_size = 256u << 20;

  if (options.row_cache_bytes) {
    db_options.row_cache = rocksdb::NewLRUCache(options.row_cache_bytes);
  }
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  // Point reads dominate: a hash index inside each data block replaces the
  // binary search there.
  table.data_block_index_type = rocksdb::BlockBasedTableOptions::kDataBlockBinaryAndHash;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10, false));
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf_options.write_buffer_size = 64u << 20;
  cf_options.compression = rocksdb::kLZ4Compression;
  cf_options.level_compaction_dynamic_level_bytes = true;

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (std::size_t i = 0; i < kCfCount; ++i) {
    rocksdb::ColumnFamilyOptions o = cf_options;
    if (i == kMeta) {
      o.merge_operator = std::make_shared<Int64Add>();
    }
    o.prefix_extractor = prefix_of(static_cast<Cf>(i));
    if (i == kByFpr || i == kByKeyId || i == kByShort || i == kByEmail || i == kByWkd) {
      o.merge_operator = std::make_shared<FprSetMerge>();
    }
    if (i == kCerts || i == kLog) {
      // Keys, signatures, fingerprints and hashes are random bytes:
      // compression costs CPU on every write and read and saves almost
      // nothing.
      o.compression = rocksdb::kNoCompression;
    }
    descriptors.emplace_back(kCfNames[i], o);
  }
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->write_options.sync = options.sync_writes;
  std::error_code ec;
  // A folder without a database is a new store (of the current schema).
  const bool existed = std::filesystem::exists(dir + "/CURRENT", ec);
  std::filesystem::create_directories(dir, ec);
  if (existed) {
    // Column families this keydird does not know: a store of a later one.
    // Its schema is read without writing anything, and it is refused.
    std::vector<std::string> names;
    auto all = descriptors;
    std::string unknown;
    if (rocksdb::DB::ListColumnFamilies(db_options, dir, &names).ok()) {
      for (const auto& n : names) {
        if (std::find(std::begin(kCfNames), std::end(kCfNames), n) == std::end(kCfNames)) {
          all.emplace_back(n, rocksdb::ColumnFamilyOptions());
          unknown += (unknown.empty() ? "" : ", ") + n;
        }
      }
    }
    if (!unknown.empty()) {
      const auto version = schema_read_only(db_options, dir, all);
      if (version && *version > kSchemaCurrent) {
        return fail(ErrorCode::StorageCorruption,
                    dir + ": this store has schema " + std::to_string(*version) + "; this " +
                        options.program + " reads up to " + std::to_string(kSchemaCurrent) +
                        ": install a newer keydird");
      }
      return fail(ErrorCode::StorageCorruption, "the store in " + dir +
                                                    " has column families this " + options.program +
                                                    " does not know (" + unknown + ")");
    }
  }
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(db_options, dir, descriptors, &impl->cfs, &raw);
  bool read_only_fs = false;
  if (!s.ok() && s.ToString().find("Read-only file system") != std::string::npos) {
    // A read-only data folder (a mounted snapshot, a file system remounted
    // read-only): serve lookups, refuse writes.
    impl->cfs.clear();
    // A store of an earlier keydird lacks the later column families (the
    // transparency log's), and a read-only open cannot add them: they read
    // as the empty default family.
    const auto present = present_families(db_options, dir, descriptors);
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    s = rocksdb::DB::OpenForReadOnly(db_options, dir, present, &handles, &raw);
    if (s.ok()) {
      for (const auto& d : descriptors) {
        auto it = std::find_if(present.begin(), present.end(),
                               [&](const auto& p) { return p.name == d.name; });
        impl->cfs.push_back(it == present.end()
                                ? handles[0]
                                : handles[static_cast<std::size_t>(it - present.begin())]);
      }
    }
    if (s.ok()) {
      read_only_fs = true;
      impl->write_failed = true;
      impl->write_error = "the data folder " + dir + " is read-only";
    }
  }
  if (!s.ok()) {
    const std::string why = s.ToString();
    if (why.find("Permission denied") != std::string::npos) {
      // Readable but not writable by this user: when the store needs a
      // migration, say so (with the command) rather than only the file.
      const int version =
          existed ? schema_read_only(db_options, dir, descriptors).value_or(kSchemaCurrent)
                  : kSchemaCurrent;
      const std::string file = denied_path(why, dir);
      if (version > kSchemaCurrent) {
        return fail(ErrorCode::StorageCorruption,
                    dir + ": this store has schema " + std::to_string(version) + "; this " +
                        options.program + " reads up to " + std::to_string(kSchemaCurrent) +
                        ": install a newer keydird");
      }
      if (version < kSchemaCurrent) {
        return fail(ErrorCode::StorageIo,
                    "the store in " + dir + " has schema " + std::to_string(version) +
                        " and this " + options.program + " reads " +
                        std::to_string(kSchemaCurrent) +
                        ": it must be migrated once, which needs write access, and this user "
                        "cannot write " +
                        file + ": " + migrate_command(dir));
      }
      const std::string who = owner_of(dir);
      return fail(ErrorCode::StorageIo,
                  "cannot write " + file + ": permission denied (run as the user that owns " + dir +
                      (who.empty() ? "" : " (" + who + ")") + ", or fix its permissions)");
    }
    if (why.find("lock") != std::string::npos) {
      return fail(ErrorCode::StorageIo,
                  "data folder " + dir + " is in use by another keydird process");
    }
    return io_error(s, "opening " + dir);
  }
  impl->db.reset(raw);

  // The schema (schema.hpp): new, current, earlier (migrated), later (refused).
  const auto now = static_cast<std::uint64_t>(std::time(nullptr));
  std::string schema;
  s = raw->Get(rocksdb::ReadOptions(), impl->cf(kMeta), std::string(kSchemaKey), &schema);
  int version = 0;  // 0: a new store
  if (s.ok()) {
    auto parsed = parse_schema(schema);
    if (!parsed) {
      return fail(ErrorCode::StorageCorruption, "the store in " + dir +
                                                    " has an unreadable schema record (\"" +
                                                    printable(schema) + "\")");
    }
    version = *parsed;
  } else if (!s.IsNotFound()) {
    return io_error(s, "reading the schema version");
  } else if (existed) {
    version = 1;  // a store of data without the record: the first format
  }
  if (version > kSchemaCurrent) {
    return fail(ErrorCode::StorageCorruption,
                dir + ": this store has schema " + std::to_string(version) + "; this " +
                    options.program + " reads up to " + std::to_string(kSchemaCurrent) +
                    ": install a newer keydird");
  }
  if (version == 0 && !impl->write_failed) {
    rocksdb::WriteBatch batch;
    new_store_schema(impl->cfs, options.program, now, batch);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = raw->Write(wo, &batch);
    if (!s.ok()) {
      return io_error(s, "writing the schema version");
    }
  } else if (version > 0 && version < kSchemaCurrent) {
    if (impl->write_failed) {
      return fail(ErrorCode::StorageIo,
                  "the store in " + dir + " has schema " + std::to_string(version) + " and this " +
                      options.program + " reads " + std::to_string(kSchemaCurrent) +
                      ": it must be migrated once, which needs write access, and " + dir +
                      (read_only_fs ? " is on a read-only file system" : " is read-only") +
                      ": make it writable and " + migrate_command(dir));
    }
    const auto start = std::chrono::steady_clock::now();
    KEYDIR_TRY(auto backup,
               pre_migration_backup(*raw, dir, version, kSchemaCurrent, now, options.backup_files));
    SchemaMigration m{version, kSchemaCurrent, backup.path, backup.bytes, 0, ""};
    for (int from = version; from < kSchemaCurrent; ++from) {
      rocksdb::WriteBatch batch;
      std::string changed;
      KEYDIR_CHECK(migration_step(*raw, impl->cfs, from, options.program, now, batch, changed));
      if (!changed.empty()) {
        m.changed += (m.changed.empty() ? "" : "; ") + changed;
      }
      // The step and its version record at once, made durable before the
      // next step reads it.
      rocksdb::WriteOptions wo;
      wo.sync = true;
      s = raw->Write(wo, &batch);
      if (!s.ok()) {
        return io_error(s, "migrating the store from schema " + std::to_string(from) +
                               " (the backup " + backup.path + " holds it as it was)");
      }
    }
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    impl->migration = std::move(m);
  }
  impl->tree = std::make_unique<rocks::ReconTree>(raw, impl->cf(kReconTree), impl->cf(kBySks));
  if (!impl->write_failed) {
    // A store written before the tree existed, or with other parameters.
    std::string sig;
    s = raw->Get(rocksdb::ReadOptions(), impl->cf(kMeta), std::string(kTreeSignature), &sig);
    if (!s.ok() && !s.IsNotFound()) {
      return io_error(s, "reading the recon tree signature");
    }
    if (s.IsNotFound() || sig != impl->tree->signature()) {
      std::lock_guard lock(impl->write_mutex);
      KEYDIR_CHECK(impl->rebuild_tree());
    }
  }
  KEYDIR_CHECK(impl->load_log());
  std::unique_ptr<rocksdb::Iterator> it(
      raw->NewIterator(rocksdb::ReadOptions(), impl->cf(kChangelog)));
  it->SeekToLast();
  if (it->Valid() && it->key().size() == 8) {
    for (std::size_t i = 0; i < 8; ++i) {
      impl->last_seq = impl->last_seq << 8 | static_cast<std::uint8_t>(it->key()[i]);
    }
  }
  return std::unique_ptr<RocksKeyStore>(new RocksKeyStore(std::move(impl)));
}

Result<std::optional<CertRecord>> RocksKeyStore::get(const Fingerprint& primary) const {
  return impl_->get(rocksdb::ReadOptions(), primary);
}

Result<std::vector<CertRecord>> RocksKeyStore::lookup(const Query& query, std::size_t limit) const {
  // Most lookups name a primary key: one read of the certificate itself,
  // which needs no snapshot.
  if (auto* q = std::get_if<Query::ByFingerprint>(&query.what)) {
    KEYDIR_TRY(auto direct, impl_->get(rocksdb::ReadOptions(), q->fpr, false));
    std::vector<CertRecord> out;
    if (direct) {
      if (limit > 0) {
        out.push_back(std::move(*direct));
      }
      return out;
    }
    // A subkey's fingerprint: index, then certificates, without a snapshot
    // (most such lookups are misses; a certificate removed in between is
    // simply not found).
    const std::string key = fpr_key(q->fpr);
    KEYDIR_TRY(auto found, impl_->claims(rocksdb::ReadOptions(), kByFpr, key, kWeak + key,
                                         [&](const Fingerprint& f) { return f == q->fpr; }));
    for (const auto& f : found) {
      if (out.size() >= limit) {
        break;
      }
      KEYDIR_TRY(auto rec, impl_->get(rocksdb::ReadOptions(), f, false));
      if (rec) {
        out.push_back(std::move(*rec));
      }
    }
    return out;
  }
  // Index, then certificates: from one snapshot so that both agree.
  Impl::Snapshot snap(impl_->db.get());
  auto ro = snap.options();
  std::set<Fingerprint> found;
  if (auto* k = std::get_if<Query::ByKeyId>(&query.what)) {
    const std::string key(as_chars(k->id.bytes()));
    KEYDIR_TRY(found, impl_->claims(ro, kByKeyId, key, key + kWeak,
                                    [&](const Fingerprint& f) { return f.key_id() == k->id; }));
  } else if (auto* s = std::get_if<Query::ByShortKeyId>(&query.what)) {
    const std::string key = be(s->id, 4);
    KEYDIR_TRY(found,
               impl_->claims(
                   ro, kByShort, key, key + kWeak,
                   [&](const Fingerprint& f) { return f.key_id().short_id() == s->id; }, false));
  } else if (auto* e = std::get_if<Query::ByEmail>(&query.what)) {
    KEYDIR_TRY(found, impl_->members(ro, kByEmail, e->address));
  } else if (auto* w = std::get_if<Query::ByWkd>(&query.what)) {
    KEYDIR_TRY(found, impl_->members(ro, kByWkd, wkd_prefix(w->hash)));
  } else if (auto* ws = std::get_if<Query::ByWords>(&query.what)) {
    // Intersection of the words' sets; each word's scan is bounded.
    constexpr std::size_t kMaxPerWord = 100000;
    bool first = true;
    for (const auto& word : ws->words) {
      KEYDIR_TRY(auto set, impl_->scan(ro, kByWord, sep_key(word, ""), kMaxPerWord));
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
    KEYDIR_TRY(auto p, impl_->point(ro, kBySks, std::string(as_chars(h->hash))));
    if (p) {
      found.insert(*p);
    }
  }
  std::vector<CertRecord> out;
  for (const auto& f : found) {
    if (out.size() >= limit) {
      break;
    }
    KEYDIR_TRY(auto rec, impl_->get(ro, f, false));
    if (rec) {
      out.push_back(std::move(*rec));
    }
  }
  return out;
}

namespace {

// Operations collected for one write batch, written in (column family, key)
// order; operations on the same key keep the order they were added in.
class SortedOps {
 public:
  void put(rocksdb::ColumnFamilyHandle* cf, std::string key, std::string value) {
    ops_.push_back({cf, Type::Put, std::move(key), std::move(value)});
  }
  void del(rocksdb::ColumnFamilyHandle* cf, std::string key) {
    ops_.push_back({cf, Type::Delete, std::move(key), {}});
  }
  // What Impl::index and Impl::unindex write for an index entry.
  void index(rocksdb::ColumnFamilyHandle* cf, rocks::Entry e) {
    if (e.kind == rocks::Kind::Set) {
      ops_.push_back({cf, Type::Merge, std::move(e.key), "+" + e.value});
    } else {
      put(cf, std::move(e.key), std::move(e.value));
    }
  }
  void unindex(rocksdb::ColumnFamilyHandle* cf, rocks::Entry e) {
    if (e.kind == rocks::Kind::Set) {
      ops_.push_back({cf, Type::Merge, std::move(e.key), "-" + e.value});
    } else {
      del(cf, std::move(e.key));
    }
  }
  void write_to(rocksdb::WriteBatch& batch) {
    std::stable_sort(ops_.begin(), ops_.end(), [](const Op& a, const Op& b) {
      if (a.cf->GetID() != b.cf->GetID()) {
        return a.cf->GetID() < b.cf->GetID();
      }
      return a.key < b.key;
    });
    for (const auto& op : ops_) {
      switch (op.type) {
        case Type::Put:
          batch.Put(op.cf, op.key, op.value);
          break;
        case Type::Delete:
          batch.Delete(op.cf, op.key);
          break;
        case Type::Merge:
          batch.Merge(op.cf, op.key, op.value);
          break;
      }
    }
    ops_.clear();
  }

 private:
  enum class Type : std::uint8_t { Put, Delete, Merge };
  struct Op {
    rocksdb::ColumnFamilyHandle* cf;
    Type type;
    std::string key;
    std::string value;
  };
  std::vector<Op> ops_;
};

}  // namespace

Result<std::vector<std::uint64_t>> RocksKeyStore::apply(std::vector<Write>& writes,
                                                        std::uint64_t now) {
  // Scrypt commitments before the lock: 40 ms each would hold every other
  // writer back.
  KEYDIR_TRY(const auto commitments, impl_->precommit(writes));
  std::lock_guard lock(impl_->write_mutex);
  rocksdb::WriteBatch batch;
  // Tokens this write uses up: each must be stored and unused (read under
  // the write lock, so two writes cannot both use one); kept, marked used.
  for (const auto& w : writes) {
    if (!w.consume_token) {
      continue;
    }
    std::string v;
    auto g =
        impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(kVerify), token_key(*w.consume_token), &v);
    if (!g.ok() && !g.IsNotFound()) {
      return io_error(g, "reading a verification token");
    }
    auto t = g.ok() ? decode_token(v) : std::nullopt;
    if (!t || t->used_at != 0) {
      return fail(ErrorCode::TokenInvalid, "the link was used already or is no longer valid");
    }
    t->used_at = now;
    batch.Put(impl_->cf(kVerify), token_key(*w.consume_token), encode_token(*t));
  }
  std::vector<std::uint64_t> seqs;
  std::uint64_t seq = impl_->last_seq;
  std::int64_t added = 0;
  rocks::ReconTree::Txn tree(*impl_->tree);
  // The batch's index and record operations, put in key order before they go
  // into the batch: the memtable's skip list then inserts each next to the
  // one before (measured: a third of the writer's time on a bulk import went
  // to searching the skip list from the top for keys in random order).
  // Stable, so operations on one key keep their order.
  SortedOps ops;
  auto log = impl_->log_txn();
  for (std::size_t i = 0; i < writes.size(); ++i) {
    Write& w = writes[i];
    CertRecord& r = w.record;
    KEYDIR_CHECK(Impl::retree(tree, w.previous ? w.previous->sks_hash : Bytes{}, r.index.sks_hash));
    r.seq = ++seq;
    if (!w.keep_times) {
      r.last_change = now;
    }
    if (!w.previous) {
      if (!w.keep_times) {
        r.first_seen = now;
      }
      ++added;
    } else {
      for (auto& e : entries_of(*w.previous, r.fingerprint)) {
        auto* cf = impl_->cf(e.cf);
        ops.unindex(cf, std::move(e));
      }
    }
    for (auto& e : entries_of(r.index, r.fingerprint)) {
      auto* cf = impl_->cf(e.cf);
      ops.index(cf, std::move(e));
    }
    // The transparency log: one entry per write, in this batch, its index
    // kept in the write's change record.
    KEYDIR_TRY(const std::uint64_t entry,
               impl_->log_certificate(log, r.fingerprint, r.seq, now,
                                      w.published_digest ? *w.published_digest : r.digest,
                                      r.index.emails, Impl::EntryIndex::ByChange,
                                      commitments.empty() ? nullptr : &commitments[i]));
    ops.put(impl_->cf(kChangelog), be(r.seq, 8), encode_change(r.fingerprint, r.digest, entry));
    std::string fk = fpr_key(r.fingerprint);
    for (const auto& e : w.publish) {
      ops.put(impl_->cf(kVerify), published_key(r.fingerprint, e), be(now, 8));
    }
    for (const auto& e : w.unpublish) {
      ops.del(impl_->cf(kVerify), published_key(r.fingerprint, e));
    }
    ops.put(impl_->cf(kCerts), std::move(fk), encode_record(r));
    seqs.push_back(r.seq);
  }
  auto* log_cf = impl_->cf(kLog);
  Impl::log_flush(
      log, [&](std::string k, std::string v) { ops.put(log_cf, std::move(k), std::move(v)); });
  ops.write_to(batch);
  if (added) {
    batch.Merge(impl_->cf(kMeta), std::string(kCertCounter),
                be(static_cast<std::uint64_t>(added), 8));
  }
  tree.flush(batch);
  KEYDIR_CHECK(impl_->writable());
  auto s = impl_->write(batch);
  if (!s.ok()) {
    return io_error(s, "writing certificates");
  }
  impl_->last_seq = seq;
  impl_->log_commit(log);
  return seqs;
}

Result<void> RocksKeyStore::remove(const CertRecord& record, const Tombstone& tomb) {
  std::lock_guard lock(impl_->write_mutex);
  {
    // Removed already (a second delete racing the first): nothing to undo,
    // and the counter and the tree must not move again.
    std::string present;
    auto g = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(kCerts), fpr_key(record.fingerprint),
                            &present);
    if (g.IsNotFound()) {
      return fail(ErrorCode::NotFound,
                  "no certificate " + record.fingerprint.to_hex() + " to remove");
    }
    if (!g.ok()) {
      return io_error(g, "reading a certificate");
    }
  }
  rocksdb::WriteBatch batch;
  for (const auto& e : entries_of(record.index, record.fingerprint)) {
    impl_->unindex(batch, e);
  }
  {
    rocks::ReconTree::Txn tree(*impl_->tree);
    KEYDIR_CHECK(Impl::retree(tree, record.index.sks_hash, Bytes{}));
    tree.flush(batch);
  }
  std::string fk = fpr_key(record.fingerprint);
  batch.Delete(impl_->cf(kCerts), fk);
  batch.Put(impl_->cf(kTombstones), fk, be(tomb.deleted_at, 8) + tomb.reason);
  // Its verification state goes with it: published addresses and tokens.
  {
    std::unique_ptr<rocksdb::Iterator> it(
        impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kVerify)));
    const std::string p = "p" + fk;
    for (it->Seek(p); it->Valid() && it->key().starts_with(p); it->Next()) {
      batch.Delete(impl_->cf(kVerify), it->key());
    }
    for (it->Seek("t"); it->Valid() && it->key().starts_with("t"); it->Next()) {
      auto t = decode_token(std::string_view(it->value().data(), it->value().size()));
      if (!t || t->fingerprint == record.fingerprint) {
        batch.Delete(impl_->cf(kVerify), it->key());
      }
    }
    if (!it->status().ok()) {
      return io_error(it->status(), "reading verification state");
    }
  }
  std::uint64_t seq = impl_->last_seq + 1;
  batch.Put(impl_->cf(kChangelog), be(seq, 8), encode_change(record.fingerprint, {}, std::nullopt));
  batch.Merge(impl_->cf(kMeta), std::string(kCertCounter), be(static_cast<std::uint64_t>(-1), 8));
  auto log = impl_->log_txn();
  KEYDIR_CHECK(impl_->log_deleted(log, record.fingerprint, seq, tomb.deleted_at));
  Impl::log_flush(log, [&](std::string k, std::string v) { batch.Put(impl_->cf(kLog), k, v); });
  KEYDIR_CHECK(impl_->writable());
  auto s = impl_->write(batch);
  if (!s.ok()) {
    return io_error(s, "removing a certificate");
  }
  impl_->last_seq = seq;
  impl_->log_commit(log);
  return {};
}

Result<std::optional<Tombstone>> RocksKeyStore::tombstone(const Fingerprint& fpr) const {
  std::string value;
  auto s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(kTombstones), fpr_key(fpr), &value);
  if (s.IsNotFound()) {
    return std::optional<Tombstone>{};
  }
  if (!s.ok() || value.size() < 8) {
    return io_error(s, "reading a tombstone");
  }
  Tombstone t;
  for (std::size_t i = 0; i < 8; ++i) {
    t.deleted_at = t.deleted_at << 8 | static_cast<std::uint8_t>(value[i]);
  }
  t.reason = value.substr(8);
  return std::optional<Tombstone>(t);
}

Result<void> RocksKeyStore::put_tombstone(const Fingerprint& fpr, const Tombstone& tomb) {
  std::lock_guard lock(impl_->write_mutex);
  KEYDIR_CHECK(impl_->writable());
  rocksdb::WriteBatch batch;
  batch.Put(impl_->cf(kTombstones), fpr_key(fpr), be(tomb.deleted_at, 8) + tomb.reason);
  auto s = impl_->write(batch);
  if (!s.ok()) {
    return io_error(s, "writing a tombstone");
  }
  return {};
}

Result<void> RocksKeyStore::for_each_tombstone(
    const std::function<bool(const Fingerprint&, const Tombstone&)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kTombstones)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto fpr = fpr_from(std::string_view(it->key().data(), it->key().size()));
    std::string_view v(it->value().data(), it->value().size());
    if (!fpr || v.size() < 8) {
      return fail(ErrorCode::StorageCorruption, "malformed tombstone");
    }
    Tombstone t;
    for (std::size_t i = 0; i < 8; ++i) {
      t.deleted_at = t.deleted_at << 8 | static_cast<std::uint8_t>(v[i]);
    }
    t.reason = std::string(v.substr(8));
    if (!visit(*fpr, t)) {
      break;
    }
  }
  if (!it->status().ok()) {
    return io_error(it->status(), "reading tombstones");
  }
  return {};
}

Result<std::optional<std::string>> RocksKeyStore::setting(std::string_view name) const {
  std::string v;
  auto s =
      impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(kMeta), "setting." + std::string(name), &v);
  if (s.IsNotFound()) {
    return std::optional<std::string>{};
  }
  if (!s.ok()) {
    return io_error(s, "reading the setting " + std::string(name));
  }
  return std::optional<std::string>(std::move(v));
}

Result<void> RocksKeyStore::put_setting(std::string_view name, std::string_view value) {
  std::lock_guard lock(impl_->write_mutex);
  KEYDIR_CHECK(impl_->writable());
  rocksdb::WriteBatch batch;
  batch.Put(impl_->cf(kMeta), "setting." + std::string(name), std::string(value));
  auto s = impl_->write(batch);
  if (!s.ok()) {
    return io_error(s, "writing the setting " + std::string(name));
  }
  return {};
}

Result<void> RocksKeyStore::put_recon_aliases(std::string_view peer,
                                              const std::vector<AliasChange>& changes) {
  std::lock_guard lock(impl_->write_mutex);
  KEYDIR_CHECK(impl_->writable());
  rocksdb::WriteBatch batch;
  const std::string prefix = alias_prefix(peer);
  for (const auto& c : changes) {
    const std::string key = prefix + std::string(as_chars(c.peer_hash));
    if (c.ours.empty()) {
      batch.Delete(impl_->cf(kMeta), key);
    } else {
      batch.Put(impl_->cf(kMeta), key, std::string(as_chars(c.ours)));
    }
  }
  auto s = impl_->write(batch);
  if (!s.ok()) {
    return io_error(s, "writing a reconciliation alias");
  }
  return {};
}

Result<void> RocksKeyStore::for_each_recon_alias(
    std::string_view peer, const std::function<bool(ByteView, ByteView)>& visit) const {
  const std::string prefix = alias_prefix(peer);
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kMeta)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto k = it->key();
    k.remove_prefix(prefix.size());
    if (!visit(ByteView(reinterpret_cast<const std::uint8_t*>(k.data()), k.size()),
               ByteView(reinterpret_cast<const std::uint8_t*>(it->value().data()),
                        it->value().size()))) {
      break;
    }
  }
  if (!it->status().ok()) {
    return io_error(it->status(), "reading reconciliation aliases");
  }
  return {};
}

Result<std::uint64_t> RocksKeyStore::append_audit(std::uint64_t time, std::string_view text) {
  std::lock_guard lock(impl_->write_mutex);
  KEYDIR_CHECK(impl_->writable());
  KEYDIR_TRY(auto seq, next_audit_sequence(*impl_->db, impl_->cf(kAudit)));
  rocksdb::WriteBatch batch;
  batch.Put(impl_->cf(kAudit), be(seq, 8), be(time, 8) + std::string(text));
  // The audit log is always made durable, whatever the store's setting.
  rocksdb::WriteOptions wo = impl_->write_options;
  wo.sync = true;
  auto s = impl_->db->Write(wo, &batch);
  impl_->generation.fetch_add(1, std::memory_order_release);  // every write (KeyStore::generation)
  if (!s.ok()) {
    return io_error(s, "writing the audit log");
  }
  return seq;
}

Result<void> RocksKeyStore::for_each_audit(
    const std::function<bool(const AuditEntry&)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kAudit)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view k(it->key().data(), it->key().size());
    std::string_view v(it->value().data(), it->value().size());
    if (k.size() != 8 || v.size() < 8) {
      return fail(ErrorCode::StorageCorruption, "malformed audit log entry");
    }
    AuditEntry e;
    for (std::size_t i = 0; i < 8; ++i) {
      e.seq = e.seq << 8 | static_cast<std::uint8_t>(k[i]);
      e.time = e.time << 8 | static_cast<std::uint8_t>(v[i]);
    }
    e.text = std::string(v.substr(8));
    if (!visit(e)) {
      break;
    }
  }
  if (!it->status().ok()) {
    return io_error(it->status(), "reading the audit log");
  }
  return {};
}

Result<void> RocksKeyStore::clear_tombstone(const Fingerprint& fpr) {
  std::lock_guard lock(impl_->write_mutex);
  KEYDIR_CHECK(impl_->writable());
  rocksdb::WriteBatch batch;
  batch.Delete(impl_->cf(kTombstones), fpr_key(fpr));
  auto s = impl_->write(batch);
  if (!s.ok()) {
    return io_error(s, "clearing a tombstone");
  }
  return {};
}

Result<std::vector<ChangeEntry>> RocksKeyStore::changes_since(std::uint64_t seq,
                                                              std::size_t limit) const {
  std::vector<ChangeEntry> out;
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kChangelog)));
  if (seq == std::numeric_limits<std::uint64_t>::max()) {
    return out;  // nothing comes after the last number (seq + 1 would wrap to 0)
  }
  for (it->Seek(be(seq + 1, 8)); it->Valid() && out.size() < limit; it->Next()) {
    ChangeEntry e;
    for (std::size_t i = 0; i < 8; ++i) {
      e.seq = e.seq << 8 | static_cast<std::uint8_t>(it->key()[i]);
    }
    auto change = decode_change(std::string_view(it->value().data(), it->value().size()));
    if (!change) {
      return fail(ErrorCode::StorageCorruption, "bad change-log entry " + std::to_string(e.seq));
    }
    e.fingerprint = change->fingerprint;
    e.digest.assign(change->digest.begin(), change->digest.end());
    out.push_back(std::move(e));
  }
  if (!it->status().ok()) {
    return io_error(it->status(), "reading the change log");
  }
  return out;
}

Result<void> RocksKeyStore::for_each(const std::function<bool(const CertRecord&)>& visit) const {
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->cf(kCerts)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto fpr = fpr_from(std::string_view(it->key().data(), it->key().size()));
    if (!fpr) {
      return fail(ErrorCode::StorageCorruption, "bad certificate key");
    }
    KEYDIR_TRY(auto rec,
               decode_record(*fpr, std::string_view(it->value().data(), it->value().size())));
    if (!visit(rec)) {
      break;
    }
  }
  if (!it->status().ok()) {
    return io_error(it->status(), "reading certificates");
  }
  return {};
}

Result<std::vector<Bytes>> RocksKeyStore::sks_hashes_from_version(std::uint8_t version) const {
  // Certificates are keyed by version octet, then fingerprint.
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->cf(kCerts)));
  std::vector<Bytes> out;
  for (it->Seek(std::string(1, static_cast<char>(version))); it->Valid(); it->Next()) {
    auto fpr = fpr_from(std::string_view(it->key().data(), it->key().size()));
    if (!fpr) {
      return fail(ErrorCode::StorageCorruption, "bad certificate key");
    }
    KEYDIR_TRY(auto rec,
               decode_record(*fpr, std::string_view(it->value().data(), it->value().size())));
    out.push_back(std::move(rec.index.sks_hash));
  }
  if (!it->status().ok()) {
    return io_error(it->status(), "reading certificates");
  }
  return out;
}

std::uint64_t RocksKeyStore::generation() const {
  return impl_->generation.load(std::memory_order_acquire);
}

Result<StoreStats> RocksKeyStore::stats() const {
  StoreStats st;
  std::string v;
  auto s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(kMeta), std::string(kCertCounter), &v);
  if (s.ok()) {
    st.certificates = static_cast<std::uint64_t>(std::max<std::int64_t>(0, Int64Add::decode(v)));
  } else if (!s.IsNotFound()) {
    return io_error(s, "reading counters");
  }
  {
    std::lock_guard lock(impl_->write_mutex);
    st.last_seq = impl_->last_seq;
  }
  // The database's files: not the pre-migration backups beside them.
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(impl_->dir, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      break;
    }
    if (it.depth() == 0 && it->path().filename() == kBackupsFolder) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) {
      st.disk_bytes += it->file_size(ec);
    }
  }
  return st;
}

Result<std::vector<std::string>> RocksKeyStore::published(const Fingerprint& primary) const {
  std::vector<std::string> out;
  const std::string p = "p" + fpr_key(primary);
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kVerify)));
  for (it->Seek(p); it->Valid() && it->key().starts_with(p); it->Next()) {
    out.emplace_back(it->key().data() + p.size(), it->key().size() - p.size());
  }
  if (!it->status().ok()) {
    return io_error(it->status(), "reading published addresses");
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::uint64_t>>> RocksKeyStore::published_times(
    const Fingerprint& primary) const {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  const std::string p = "p" + fpr_key(primary);
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kVerify)));
  for (it->Seek(p); it->Valid() && it->key().starts_with(p); it->Next()) {
    std::uint64_t at = 0;
    if (it->value().size() == 8) {
      for (std::size_t i = 0; i < 8; ++i) {
        at = at << 8 | static_cast<std::uint8_t>(it->value()[i]);
      }
    }
    out.emplace_back(std::string(it->key().data() + p.size(), it->key().size() - p.size()), at);
  }
  if (!it->status().ok()) {
    return io_error(it->status(), "reading published addresses");
  }
  return out;
}

Result<void> RocksKeyStore::put_token(ByteView hash, const VerifyToken& token) {
  std::lock_guard lock(impl_->write_mutex);
  KEYDIR_CHECK(impl_->writable());
  rocksdb::WriteBatch batch;
  batch.Put(impl_->cf(kVerify), token_key(hash), encode_token(token));
  auto s = impl_->write(batch);
  if (!s.ok()) {
    return io_error(s, "storing a verification token");
  }
  return {};
}

Result<std::optional<VerifyToken>> RocksKeyStore::token(ByteView hash) const {
  std::string v;
  auto s = impl_->db->Get(rocksdb::ReadOptions(), impl_->cf(kVerify), token_key(hash), &v);
  if (s.IsNotFound()) {
    return std::optional<VerifyToken>{};
  }
  if (!s.ok()) {
    return io_error(s, "reading a verification token");
  }
  auto t = decode_token(v);
  if (!t) {
    return fail(ErrorCode::StorageCorruption, "malformed verification token record");
  }
  return t;
}

Result<void> RocksKeyStore::delete_token(ByteView hash) {
  std::lock_guard lock(impl_->write_mutex);
  KEYDIR_CHECK(impl_->writable());
  rocksdb::WriteBatch batch;
  batch.Delete(impl_->cf(kVerify), token_key(hash));
  auto s = impl_->write(batch);
  if (!s.ok()) {
    return io_error(s, "deleting a verification token");
  }
  return {};
}

Result<void> RocksKeyStore::for_each_token(
    const std::function<bool(ByteView hash, const VerifyToken&)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->cf(kVerify)));
  for (it->Seek("t"); it->Valid() && it->key().starts_with("t"); it->Next()) {
    auto t = decode_token(std::string_view(it->value().data(), it->value().size()));
    if (t && !visit(as_bytes(std::string_view(it->key().data() + 1, it->key().size() - 1)), *t)) {
      break;
    }
  }
  if (!it->status().ok()) {
    return io_error(it->status(), "reading verification tokens");
  }
  return {};
}

Result<std::unique_ptr<recon::TreeView>> RocksKeyStore::recon_tree() const {
  return impl_->tree->view();
}

Result<std::uint64_t> RocksKeyStore::rebuild_recon_tree() {
  std::lock_guard lock(impl_->write_mutex);
  return impl_->rebuild_tree();
}

Result<void> RocksKeyStore::compact() {
  rocksdb::CompactRangeOptions o;
  o.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
  for (auto* h : impl_->cfs) {
    auto s = impl_->db->CompactRange(o, h, nullptr, nullptr);
    if (!s.ok()) {
      return io_error(s, "compacting");
    }
  }
  return {};
}

const std::optional<SchemaMigration>& RocksKeyStore::migration() const {
  return impl_->migration;
}

Result<void> RocksKeyStore::checkpoint(const std::string& out_dir) const {
  rocksdb::Checkpoint* raw = nullptr;
  auto s = rocksdb::Checkpoint::Create(impl_->db.get(), &raw);
  if (!s.ok()) {
    return io_error(s, "starting a checkpoint");
  }
  std::unique_ptr<rocksdb::Checkpoint> cp(raw);
  s = cp->CreateCheckpoint(out_dir);
  if (!s.ok()) {
    return io_error(s, "writing a checkpoint to " + out_dir);
  }
  return {};
}

}  // namespace keydir::storage
