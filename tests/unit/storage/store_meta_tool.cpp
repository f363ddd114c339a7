// store_meta_tool: reads and writes one record of a RocksDB store's meta
// column family, for tests that need a store keydird would not write (a
// later schema, a store of an earlier one, a wrong counter). It has none of
// the store's merge operators: the store must be compacted first (`keydird
// compact`) so that its write-ahead log holds no merge; otherwise the open
// fails (absolute consistency) rather than drop what it cannot replay.
//   store_meta_tool DIR get KEY | set KEY VALUE | set-u64 KEY N | del KEY
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <rocksdb/db.h>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s DIR get KEY | set KEY VALUE | set-u64 KEY N | del KEY\n",
                 argv[0]);
    return 2;
  }
  const std::string dir = argv[1], op = argv[2], key = argv[3];
  std::vector<std::string> names;
  if (!rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names).ok()) {
    std::fprintf(stderr, "no store in %s\n", dir.c_str());
    return 1;
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  std::size_t meta = names.size();
  for (std::size_t i = 0; i < names.size(); ++i) {
    cfs.emplace_back(names[i], rocksdb::ColumnFamilyOptions());
    if (names[i] == "meta") {
      meta = i;
    }
  }
  if (meta == names.size()) {
    std::fprintf(stderr, "no meta column family in %s\n", dir.c_str());
    return 1;
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::DBOptions options;
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kAbsoluteConsistency;
  // `get` changes nothing (it may read a backup).
  auto s = op == "get" ? rocksdb::DB::OpenForReadOnly(options, dir, cfs, &handles, &db)
                       : rocksdb::DB::Open(options, dir, cfs, &handles, &db);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  int rc = 0;
  if (op == "get") {
    std::string v;
    s = db->Get(rocksdb::ReadOptions(), handles[meta], key, &v);
    if (s.ok()) {
      std::fwrite(v.data(), 1, v.size(), stdout);
      std::fputc('\n', stdout);
    } else {
      rc = 1;
    }
  } else if (op == "set" && argc == 5) {
    s = db->Put(wo, handles[meta], key, argv[4]);
  } else if (op == "set-u64" && argc == 5) {
    const std::uint64_t n = std::strtoull(argv[4], nullptr, 10);
    std::string v(8, '\0');
    for (int i = 0; i < 8; ++i) {
      v[static_cast<std::size_t>(i)] = static_cast<char>(n >> (8 * (7 - i)));
    }
    s = db->Put(wo, handles[meta], key, v);
  } else if (op == "del") {
    s = db->Delete(wo, handles[meta], key);
  } else {
    rc = 2;
  }
  if (!s.ok() && rc == 0) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    rc = 1;
  }
  for (auto* h : handles) {
    db->DestroyColumnFamilyHandle(h);
  }
  delete db;
  return rc;
}
