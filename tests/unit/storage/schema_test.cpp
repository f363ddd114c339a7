// The store's on-disk schema (storage/rocksdb/schema.hpp): a new store
// records the current version; one of schema 1 is migrated in place, a
// backup first, once; a later or unreadable version is refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include <rocksdb/db.h>

#include "storage/rocksdb/rocks_key_store.hpp"
#include "temp_dir.hpp"

namespace keydir::storage {
namespace {

namespace fs = std::filesystem;

// The meta column family of a closed store, written without RocksKeyStore
// (as an earlier or later keydird would have left it). Without the store's
// merge operators: the store is compacted before (its log holds no merge),
// and the open fails rather than drop a log it cannot replay.
void raw_meta(const std::string& dir,
              const std::function<void(rocksdb::DB&, rocksdb::ColumnFamilyHandle*)>& f) {
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  std::size_t meta = 0;
  for (std::size_t i = 0; i < names.size(); ++i) {
    cfs.emplace_back(names[i], rocksdb::ColumnFamilyOptions());
    meta = names[i] == "meta" ? i : meta;
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::DBOptions options;
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kAbsoluteConsistency;
  ASSERT_TRUE(rocksdb::DB::Open(options, dir, cfs, &handles, &raw).ok());
  f(*raw, handles[meta]);
  for (auto* h : handles) {
    raw->DestroyColumnFamilyHandle(h);
  }
  delete raw;
}

std::string meta_value(const std::string& dir, const std::string& key) {
  std::string v;
  raw_meta(dir, [&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* meta) {
    if (!db.Get(rocksdb::ReadOptions(), meta, key, &v).ok()) {
      v = "<none>";
    }
  });
  return v;
}

void set_meta(const std::string& dir, const std::string& key, const std::string& value) {
  raw_meta(dir, [&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle* meta) {
    ASSERT_TRUE(db.Put(rocksdb::WriteOptions(), meta, key, value).ok());
  });
}

Write make(std::uint8_t fill) {
  Write w;
  w.record.fingerprint = Fingerprint(Fingerprint::Version::V4, Bytes(20, fill));
  w.record.cert = Bytes{1, 2, 3};
  w.record.digest = Bytes(32, fill);
  w.record.index.fingerprints.push_back(w.record.fingerprint);
  w.record.index.key_ids.push_back(w.record.fingerprint.key_id());
  w.record.index.sks_hash = Bytes(16, fill);
  return w;
}

RocksOptions options() {
  RocksOptions o;
  o.program = "keydird 9.9.9";
  o.backup_files = {"token.key"};
  return o;
}

// A store of three certificates, as keydird before 0.1.0 left it: schema
// "1", no history, and (the early double-remove bug) a counter that says 5.
std::string schema_1_store(const test::TempDir& dir) {
  const std::string db = dir.str("db");
  {
    auto s = RocksKeyStore::open(db, options());
    EXPECT_TRUE(s);
    std::vector<Write> w{make(1), make(2), make(3)};
    EXPECT_TRUE((*s)->apply(w, 1000));
    EXPECT_TRUE((*s)->compact());  // nothing left in the log (raw_meta)
  }
  raw_meta(db, [](rocksdb::DB& raw, rocksdb::ColumnFamilyHandle* meta) {
    ASSERT_TRUE(raw.Put(rocksdb::WriteOptions(), meta, "schema", "1").ok());
    ASSERT_TRUE(raw.Delete(rocksdb::WriteOptions(), meta, "schema.history").ok());
    ASSERT_TRUE(raw.Put(rocksdb::WriteOptions(), meta, "count.certificates",
                        std::string("\0\0\0\0\0\0\0\5", 8))
                    .ok());
  });
  std::ofstream(db + "/token.key") << std::string(32, 'k');
  return db;
}

TEST(StoreSchema, NewStoreRecordsTheCurrentVersion) {
  test::TempDir dir;
  {
    auto s = RocksKeyStore::open(dir.str("db"), options());
    ASSERT_TRUE(s) << s.error().detail;
    EXPECT_FALSE((*s)->migration());
  }
  EXPECT_EQ(rocks_schema_version(), 2);
  EXPECT_EQ(meta_value(dir.str("db"), "schema"), "2");
  EXPECT_TRUE(
      meta_value(dir.str("db"), "schema.history").starts_with("2 created by keydird 9.9.9 at "));
  EXPECT_FALSE(fs::exists(dir.str("db") + "/backups"));
}

TEST(StoreSchema, Schema1IsMigratedOnceWithABackupFirst) {
  test::TempDir dir;
  const std::string db = schema_1_store(dir);
  {
    auto s = RocksKeyStore::open(db, options());
    ASSERT_TRUE(s) << s.error().detail;
    const auto& m = (*s)->migration();
    ASSERT_TRUE(m);
    EXPECT_EQ(m->from, 1);
    EXPECT_EQ(m->to, 2);
    EXPECT_EQ(m->changed, "certificate counter corrected from 5 to 3");
    EXPECT_TRUE(fs::path(m->backup).filename().string().starts_with("pre-migration-1-2-"));
    EXPECT_EQ(fs::path(m->backup).parent_path(), fs::path(db) / "backups");
    EXPECT_TRUE(fs::exists(m->backup + "/CURRENT"));
    EXPECT_TRUE(fs::exists(m->backup + "/token.key"));
    EXPECT_GT(m->backup_bytes, 0u);
    EXPECT_NE(describe(*m, db).find("from schema 1 to 2"), std::string::npos);
    // The store is whole and consistent; the counter is right again.
    auto report = (*s)->check();
    ASSERT_TRUE(report);
    EXPECT_EQ(report->problem_count, 0u);
    EXPECT_EQ((*s)->stats()->certificates, 3u);
    // The audit log says who migrated it.
    std::string last;
    ASSERT_TRUE((*s)->for_each_audit([&](const AuditEntry& e) {
      last = e.text;
      return true;
    }));
    EXPECT_NE(last.find("\"action\":\"migrate\""), std::string::npos) << last;
    EXPECT_NE(last.find("keydird 9.9.9"), std::string::npos) << last;
  }
  EXPECT_EQ(meta_value(db, "schema"), "2");
  EXPECT_TRUE(meta_value(db, "schema.history").starts_with("2 migrated from 1 by keydird 9.9.9"));
  // The backup holds the store as it was: schema 1, the wrong counter.
  std::string backup;
  for (const auto& e : fs::directory_iterator(db + "/backups")) {
    backup = e.path().string();
  }
  EXPECT_EQ(meta_value(backup, "schema"), "1");
  // A second open migrates nothing and takes no second backup.
  {
    auto s = RocksKeyStore::open(db, options());
    ASSERT_TRUE(s);
    EXPECT_FALSE((*s)->migration());
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(db + "/backups"), fs::directory_iterator()), 1);
}

TEST(StoreSchema, StoreWithoutARecordIsSchema1) {
  test::TempDir dir;
  const std::string db = schema_1_store(dir);
  raw_meta(db, [](rocksdb::DB& raw, rocksdb::ColumnFamilyHandle* meta) {
    ASSERT_TRUE(raw.Delete(rocksdb::WriteOptions(), meta, "schema").ok());
  });
  auto s = RocksKeyStore::open(db, options());
  ASSERT_TRUE(s);
  ASSERT_TRUE((*s)->migration());
  EXPECT_EQ((*s)->migration()->from, 1);
}

TEST(StoreSchema, LaterSchemaIsRefused) {
  test::TempDir dir;
  { ASSERT_TRUE(RocksKeyStore::open(dir.str("db"), options())); }
  set_meta(dir.str("db"), "schema", "3");
  auto s = RocksKeyStore::open(dir.str("db"), options());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::StorageCorruption);
  EXPECT_EQ(s.error().detail, dir.str("db") +
                                  ": this store has schema 3; this keydird 9.9.9 reads up to 2: "
                                  "install a newer keydird");
  EXPECT_EQ(meta_value(dir.str("db"), "schema"), "3");  // untouched
}

// A later keydird may add a column family: the store is still refused for
// its schema (not for the column family), and nothing is written to it.
TEST(StoreSchema, LaterSchemaWithANewColumnFamilyIsRefusedUntouched) {
  test::TempDir dir;
  const std::string db = dir.str("db");
  { ASSERT_TRUE(RocksKeyStore::open(db, options())); }
  set_meta(db, "schema", "3");
  {
    rocksdb::Options o;
    o.wal_recovery_mode = rocksdb::WALRecoveryMode::kAbsoluteConsistency;
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(o, db, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const auto& n : names) {
      cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, db, cfs, &handles, &raw).ok());
    rocksdb::ColumnFamilyHandle* later = nullptr;
    ASSERT_TRUE(raw->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), "later", &later).ok());
    handles.push_back(later);
    for (auto* h : handles) {
      raw->DestroyColumnFamilyHandle(h);
    }
    delete raw;
  }
  std::map<std::string, std::uintmax_t> before;
  for (const auto& e : fs::directory_iterator(db)) {
    before[e.path().filename().string()] = e.file_size();
  }
  auto s = RocksKeyStore::open(db, options());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().detail,
            db + ": this store has schema 3; this keydird 9.9.9 reads up to 2: install a newer "
                 "keydird");
  std::map<std::string, std::uintmax_t> after;
  for (const auto& e : fs::directory_iterator(db)) {
    after[e.path().filename().string()] = e.file_size();
  }
  EXPECT_EQ(before, after);
}

TEST(StoreSchema, UnreadableSchemaRecordIsRefused) {
  test::TempDir dir;
  { ASSERT_TRUE(RocksKeyStore::open(dir.str("db"), options())); }
  set_meta(dir.str("db"), "schema", "two");
  auto s = RocksKeyStore::open(dir.str("db"), options());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().detail.find("unreadable schema record (\"two\")"), std::string::npos);
}

TEST(StoreSchema, BackupsAreNotPartOfTheStoreSize) {
  test::TempDir dir;
  const std::string db = schema_1_store(dir);
  auto s = RocksKeyStore::open(db, options());
  ASSERT_TRUE(s);
  std::uint64_t all = 0;
  for (const auto& e : fs::recursive_directory_iterator(db)) {
    all += e.is_regular_file() ? e.file_size() : 0;
  }
  EXPECT_LT((*s)->stats()->disk_bytes, all);
}

}  // namespace
}  // namespace keydir::storage
