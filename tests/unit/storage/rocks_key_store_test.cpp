// RocksKeyStore on a temporary database, with hand-made records: storage
// never parses packets, so these tests need no real certificates.
#include "storage/rocksdb/rocks_key_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>

#include <rocksdb/db.h>

#include "temp_dir.hpp"
#include "tlog/entry.hpp"
#include "tlog/merkle.hpp"

namespace keydir::storage {
namespace {

Fingerprint fpr(std::uint8_t fill, Fingerprint::Version v = Fingerprint::Version::V4) {
  Bytes b(v == Fingerprint::Version::V4 ? 20 : 32, fill);
  return Fingerprint(v, b);
}

Write make(const Fingerprint& primary, std::vector<Fingerprint> subkeys,
           std::vector<std::string> emails, std::string cert = "cert") {
  Write w;
  w.record.fingerprint = primary;
  w.record.cert = Bytes(cert.begin(), cert.end());
  w.record.digest = Bytes(32, static_cast<std::uint8_t>(cert.size()));
  w.record.index.fingerprints.push_back(primary);
  w.record.index.key_ids.push_back(primary.key_id());
  for (const auto& s : subkeys) {
    w.record.index.fingerprints.push_back(s);
    w.record.index.key_ids.push_back(s.key_id());
  }
  for (const auto& e : emails) {
    w.record.index.emails.push_back(e);
    auto parsed = openpgp::Email::parse(e);
    w.record.index.wkd.push_back(openpgp::WkdHash::of(*parsed));
    w.record.index.words.push_back(e.substr(0, e.find('@')));
  }
  w.record.index.sks_hash = Bytes(16, primary.bytes()[0]);
  return w;
}

std::unique_ptr<RocksKeyStore> open(const test::TempDir& dir) {
  auto s = RocksKeyStore::open(dir.str("db"), RocksOptions{});
  EXPECT_TRUE(s) << s.error().detail;
  return std::move(*s);
}

std::vector<Fingerprint> found(const KeyStore& s, const Query& q) {
  auto r = s.lookup(q, 100);
  EXPECT_TRUE(r) << r.error().detail;
  std::vector<Fingerprint> out;
  for (const auto& rec : *r) {
    out.push_back(rec.fingerprint);
  }
  return out;
}

TEST(RocksKeyStore, EveryIndexFindsTheCertificate) {
  test::TempDir dir;
  auto store = open(dir);
  Fingerprint p = fpr(0x11);
  Fingerprint sub = fpr(0x22);
  std::vector<Write> w{make(p, {sub}, {"alice@example.org"})};
  auto seqs = store->apply(w, 1000);
  ASSERT_TRUE(seqs);
  EXPECT_EQ(seqs->at(0), 1u);
  std::vector<Fingerprint> want{p};
  EXPECT_EQ(found(*store, {Query::ByFingerprint{p}}), want);
  EXPECT_EQ(found(*store, {Query::ByFingerprint{sub}}), want);  // a subkey answers the primary
  EXPECT_EQ(found(*store, {Query::ByKeyId{p.key_id()}}), want);
  EXPECT_EQ(found(*store, {Query::ByKeyId{sub.key_id()}}), want);
  EXPECT_EQ(found(*store, {Query::ByShortKeyId{sub.key_id().short_id()}}), want);
  EXPECT_EQ(found(*store, {Query::ByEmail{"alice@example.org"}}), want);
  auto email = openpgp::Email::parse("alice@example.org");
  EXPECT_EQ(found(*store, {Query::ByWkd{openpgp::WkdHash::of(*email)}}), want);
  EXPECT_EQ(found(*store, {Query::ByWords{{"alice"}}}), want);
  EXPECT_EQ(found(*store, {Query::BySksHash{Bytes(16, 0x11)}}), want);
  EXPECT_TRUE(found(*store, {Query::ByEmail{"bob@example.org"}}).empty());
  EXPECT_TRUE(found(*store, {Query::ByFingerprint{fpr(0x33)}}).empty());
  auto rec = store->get(p);
  ASSERT_TRUE(rec && *rec);
  EXPECT_EQ((*rec)->first_seen, 1000u);
  EXPECT_EQ((*rec)->seq, 1u);
  auto report = store->check();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->problem_count, 0u);
}

TEST(RocksKeyStore, V4AndV6SideBySide) {
  test::TempDir dir;
  auto store = open(dir);
  Fingerprint v4 = fpr(0x44);
  Fingerprint v6 = fpr(0x66, Fingerprint::Version::V6);
  std::vector<Write> w{make(v4, {}, {"same@example.org"}), make(v6, {}, {"same@example.org"})};
  ASSERT_TRUE(store->apply(w, 1));
  EXPECT_EQ(found(*store, {Query::ByFingerprint{v6}}), std::vector<Fingerprint>{v6});
  EXPECT_EQ(found(*store, {Query::ByKeyId{v6.key_id()}}), std::vector<Fingerprint>{v6});
  EXPECT_EQ(found(*store, {Query::ByEmail{"same@example.org"}}).size(), 2u);
  EXPECT_EQ(store->check()->problem_count, 0u);
}

TEST(RocksKeyStore, KeyIdCollisionsAreASet) {
  test::TempDir dir;
  auto store = open(dir);
  // Two v4 fingerprints with the same low 64 bits: the same key ID.
  Bytes a(20, 0xAA);
  Bytes b(20, 0xBB);
  std::fill(b.begin() + 12, b.end(), 0xAA);
  Fingerprint fa(Fingerprint::Version::V4, a);
  Fingerprint fb(Fingerprint::Version::V4, b);
  ASSERT_EQ(fa.key_id(), fb.key_id());
  std::vector<Write> w{make(fa, {}, {}), make(fb, {}, {})};
  ASSERT_TRUE(store->apply(w, 1));
  EXPECT_EQ(found(*store, {Query::ByKeyId{fa.key_id()}}).size(), 2u);
  EXPECT_EQ(found(*store, {Query::ByShortKeyId{fa.key_id().short_id()}}).size(), 2u);
}

TEST(RocksKeyStore, UpdateRemovesEntriesOfTheOldVersion) {
  test::TempDir dir;
  auto store = open(dir);
  Fingerprint p = fpr(0x11);
  std::vector<Write> v1{make(p, {fpr(0x22)}, {"old@example.org"}, "v1")};
  ASSERT_TRUE(store->apply(v1, 10));
  Write v2 = make(p, {fpr(0x33)}, {"new@example.org"}, "v2-longer");
  v2.record.first_seen = 10;
  v2.previous = v1[0].record.index;
  std::vector<Write> w{v2};
  ASSERT_TRUE(store->apply(w, 20));
  EXPECT_TRUE(found(*store, {Query::ByEmail{"old@example.org"}}).empty());
  EXPECT_TRUE(found(*store, {Query::ByFingerprint{fpr(0x22)}}).empty());
  EXPECT_EQ(found(*store, {Query::ByEmail{"new@example.org"}}).size(), 1u);
  EXPECT_EQ(found(*store, {Query::ByFingerprint{fpr(0x33)}}).size(), 1u);
  auto rec = *store->get(p);
  EXPECT_EQ(rec->first_seen, 10u);
  EXPECT_EQ(rec->last_change, 20u);
  EXPECT_EQ(as_chars(rec->cert), "v2-longer");
  EXPECT_EQ(store->check()->problem_count, 0u);
  EXPECT_EQ(store->stats()->certificates, 1u);
}

TEST(RocksKeyStore, CheckFindsDanglingEntries) {
  test::TempDir dir;
  auto store = open(dir);
  Fingerprint p = fpr(0x11);
  std::vector<Write> v1{make(p, {}, {"old@example.org"})};
  ASSERT_TRUE(store->apply(v1, 1));
  // A write that forgets the previous index leaves old entries behind.
  std::vector<Write> bad{make(p, {}, {"new@example.org"})};
  ASSERT_TRUE(store->apply(bad, 2));
  auto report = store->check();
  ASSERT_TRUE(report);
  EXPECT_GT(report->problem_count, 0u);
}

TEST(RocksKeyStore, RemoveLeavesATombstoneAndAChangeLog) {
  test::TempDir dir;
  auto store = open(dir);
  Fingerprint p = fpr(0x11);
  std::vector<Write> w{make(p, {}, {"a@example.org"})};
  ASSERT_TRUE(store->apply(w, 1));
  ASSERT_TRUE(store->remove(w[0].record, Tombstone{5, "owner asked"}));
  EXPECT_FALSE(*store->get(p));
  EXPECT_TRUE(found(*store, {Query::ByEmail{"a@example.org"}}).empty());
  auto tomb = store->tombstone(p);
  ASSERT_TRUE(tomb && *tomb);
  EXPECT_EQ((*tomb)->reason, "owner asked");
  auto changes = store->changes_since(0, 10);
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 2u);
  EXPECT_FALSE(changes->at(0).digest.empty());
  EXPECT_TRUE(changes->at(1).digest.empty());
  EXPECT_EQ(store->stats()->certificates, 0u);
  EXPECT_EQ(store->check()->problem_count, 0u);
}

TEST(RocksKeyStore, ReopenKeepsEverythingAndTheSequence) {
  test::TempDir dir;
  {
    auto store = open(dir);
    std::vector<Write> w{make(fpr(1), {}, {}), make(fpr(2), {}, {})};
    ASSERT_TRUE(store->apply(w, 1));
  }
  auto store = open(dir);
  EXPECT_EQ(store->stats()->last_seq, 2u);
  EXPECT_EQ(store->stats()->certificates, 2u);
  std::vector<Write> w{make(fpr(3), {}, {})};
  EXPECT_EQ(store->apply(w, 2)->at(0), 3u);
}

// Opens a closed store's database as RocksDB alone and hands `edit` the
// column family named `cf`. Compact the store before closing it when it
// holds merge operands: the write-ahead log is replayed here without the
// store's merge operators.
void raw_edit(const std::string& db, const std::string& cf,
              const std::function<void(rocksdb::DB&, rocksdb::ColumnFamilyHandle*)>& edit) {
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), db, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names) {
    cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto st = rocksdb::DB::Open(rocksdb::DBOptions(), db, cfs, &handles, &raw);
  ASSERT_TRUE(st.ok()) << st.ToString();
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == cf) {
      edit(*raw, handles[i]);
    }
  }
  for (auto* h : handles) {
    EXPECT_TRUE(raw->DestroyColumnFamilyHandle(h).ok());
  }
  delete raw;
}

// Writes raw values into the verify column family of a closed store.
void put_raw_verify(const std::string& db,
                    const std::vector<std::pair<std::string, std::string>>& kv) {
  raw_edit(db, "verify", [&](rocksdb::DB& raw, rocksdb::ColumnFamilyHandle* h) {
    for (const auto& [k, v] : kv) {
      EXPECT_TRUE(raw.Put(rocksdb::WriteOptions(), h, k, v).ok());
    }
  });
}

// The keys of column family `cf` that start with `prefix`.
std::vector<std::string> raw_keys(const std::string& db, const std::string& cf,
                                  const std::string& prefix) {
  std::vector<std::string> out;
  raw_edit(db, cf, [&](rocksdb::DB& raw, rocksdb::ColumnFamilyHandle* h) {
    std::unique_ptr<rocksdb::Iterator> it(raw.NewIterator(rocksdb::ReadOptions(), h));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      out.push_back(it->key().ToString());
    }
  });
  return out;
}

// Token records: a used one keeps its time across a reopen; records written
// before used links were kept (no flag, no time) still decode, as unused;
// a record cut short or flagged used without a time is refused.
TEST(RocksKeyStore, TokenRecordsOfEveryVersionDecode) {
  test::TempDir dir;
  {
    auto store = open(dir);
    std::vector<Write> w{make(fpr(1), {}, {"a@example.org"})};
    ASSERT_TRUE(store->apply(w, 1));
    for (auto v : {Fingerprint::Version::V4, Fingerprint::Version::V6}) {
      VerifyToken t;
      t.fingerprint = v == Fingerprint::Version::V4 ? fpr(1) : fpr(1, v);
      t.email = "a@example.org";
      t.created = 1;
      t.expires = 100;
      ASSERT_TRUE(store->put_token(Bytes(32, static_cast<std::uint8_t>(v)), t));
    }
    std::vector<Write> w2{make(fpr(1), {}, {"a@example.org"})};
    w2[0].previous = w[0].record.index;
    w2[0].publish = {"a@example.org"};
    w2[0].consume_token = Bytes(32, 4);
    ASSERT_TRUE(store->apply(w2, 42));
  }
  {
    // The used marker survives a reopen.
    auto store = open(dir);
    auto t = store->token(Bytes(32, 4));
    ASSERT_TRUE(t && *t);
    EXPECT_EQ((*t)->used_at, 42u);
  }
  // The layout of earlier keydirds: kind, fingerprint key length, key,
  // created, expires, address.
  std::string old(1, '\x02');
  old.push_back(21);
  old.push_back(4);
  old.append(20, '\x07');
  old.append(7, '\0');
  old.push_back(10);
  old.append(7, '\0');
  old.push_back(20);
  old += "bob@example.org";
  std::string flagged_without_time = old;
  flagged_without_time[0] = static_cast<char>(0x82);
  flagged_without_time.insert(2 + 21 + 16, std::string(8, '\0'));
  const std::string k_old = "t" + std::string(32, '\x11');
  const std::string k_bad = "t" + std::string(32, '\x12');
  const std::string k_cut = "t" + std::string(32, '\x13');
  put_raw_verify(dir.str("db"),
                 {{k_old, old}, {k_bad, flagged_without_time}, {k_cut, old.substr(0, 30)}});
  auto store = open(dir);
  auto used = store->token(Bytes(32, 4));
  ASSERT_TRUE(used) << used.error().detail;
  ASSERT_TRUE(*used);
  EXPECT_EQ((*used)->used_at, 42u);
  EXPECT_EQ((*used)->email, "a@example.org");
  auto unused = store->token(Bytes(32, 6));
  ASSERT_TRUE(unused && *unused);
  EXPECT_EQ((*unused)->used_at, 0u);
  EXPECT_EQ((*unused)->fingerprint, fpr(1, Fingerprint::Version::V6));
  auto legacy = store->token(Bytes(32, 0x11));
  ASSERT_TRUE(legacy && *legacy);
  EXPECT_EQ((*legacy)->kind, VerifyToken::Kind::Manage);
  EXPECT_EQ((*legacy)->fingerprint, fpr(7));
  EXPECT_EQ((*legacy)->created, 10u);
  EXPECT_EQ((*legacy)->expires, 20u);
  EXPECT_EQ((*legacy)->used_at, 0u);
  EXPECT_EQ((*legacy)->email, "bob@example.org");
  for (int h : {0x12, 0x13}) {
    auto bad = store->token(Bytes(32, static_cast<std::uint8_t>(h)));
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, ErrorCode::StorageCorruption);
  }
  EXPECT_EQ(store->published_times(fpr(1))->at(0),
            (std::pair<std::string, std::uint64_t>{"a@example.org", 42}));
}

TEST(RocksKeyStore, SecondOpenOfTheSameFolderIsRefused) {
  test::TempDir dir;
  auto first = open(dir);
  auto second = RocksKeyStore::open(dir.str("db"), RocksOptions{});
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().detail.find("in use"), std::string::npos);
}

TEST(RocksKeyStore, CheckpointIsAUsableCopy) {
  test::TempDir dir;
  auto store = open(dir);
  std::vector<Write> w{make(fpr(1), {}, {"x@example.org"})};
  ASSERT_TRUE(store->apply(w, 1));
  ASSERT_TRUE(store->checkpoint(dir.str("backup")));
  auto copy = RocksKeyStore::open(dir.str("backup"), RocksOptions{});
  ASSERT_TRUE(copy);
  EXPECT_EQ(found(**copy, {Query::ByEmail{"x@example.org"}}).size(), 1u);
}

// check() keeps large sets and certificates with many entries decoded (it
// read them once per claimant / per entry before): the report is the same.
std::size_t count_with(const ConsistencyReport& r, const std::string& text) {
  return static_cast<std::size_t>(
      std::count_if(r.problems.begin(), r.problems.end(),
                    [&](const std::string& p) { return p.find(text) != std::string::npos; }));
}

TEST(RocksKeyStore, CheckReportsEntriesOfLargeSetsAndCertificates) {
  test::TempDir dir;
  auto store = open(dir);
  Fingerprint a = fpr(0x01);
  std::vector<std::string> many;
  for (int i = 0; i < 40; ++i) {
    many.push_back("a" + std::to_string(i) + "@example.org");
  }
  std::vector<Write> w{make(a, {}, many)};
  for (std::uint8_t i = 0; i < 40; ++i) {
    w.push_back(make(fpr(static_cast<std::uint8_t>(0x10 + i)), {}, {"shared@example.org"}));
  }
  ASSERT_TRUE(store->apply(w, 1));
  auto clean = store->check();
  ASSERT_TRUE(clean);
  EXPECT_EQ(clean->problem_count, 0u);
  EXPECT_EQ(clean->certificates, 41u);
  // 41 fingerprints, key IDs, short key IDs and SKS hashes; 80 e-mail and
  // WKD entries and 40 words of a; 40 members each of shared's e-mail and
  // WKD sets and 40 word entries.
  EXPECT_EQ(clean->index_entries, 4u * 41 + 120 + 120);
  // Writes that forget the previous index: a keeps 30 of its addresses, one
  // member of the shared set drops it; the counter counts both again.
  std::vector<Write> bad{make(a, {}, std::vector<std::string>(many.begin(), many.begin() + 30)),
                         make(fpr(0x10), {}, {"other@example.org"})};
  ASSERT_TRUE(store->apply(bad, 2));
  auto report = store->check();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->problem_count, 30u + 3 + 1);
  EXPECT_EQ(count_with(*report, "entry not listed by certificate " + a.to_hex()), 30u);
  EXPECT_EQ(count_with(*report, "by_email entry not listed by certificate " + a.to_hex()), 10u);
  EXPECT_EQ(count_with(*report, "entry not listed by certificate " + fpr(0x10).to_hex()), 3u);
  EXPECT_EQ(count_with(*report, "certificate counter says 43, found 41"), 1u);
}

TEST(RocksKeyStore, CheckReportsClaimsPastTheSetBound) {
  test::TempDir dir;
  auto store = open(dir);
  // More certificates claim one address than a set keeps (10000): the last
  // ones are not indexed under it, and check says so for each.
  constexpr std::uint32_t kCerts = 10003;
  std::vector<Write> w;
  std::vector<Fingerprint> fprs;
  for (std::uint32_t i = 0; i < kCerts; ++i) {
    Bytes b(20, 0x5A);
    for (int k = 0; k < 4; ++k) {
      b[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(i >> (24 - 8 * k));
      b[static_cast<std::size_t>(16 + k)] = static_cast<std::uint8_t>(i >> (24 - 8 * k));
    }
    fprs.emplace_back(Fingerprint::Version::V4, b);
    Write one = make(fprs.back(), {}, {"popular@example.org"});
    one.record.index.sks_hash = Bytes(b.begin(), b.begin() + 16);
    w.push_back(std::move(one));
  }
  ASSERT_TRUE(store->apply(w, 1));
  auto report = store->check();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->certificates, kCerts);
  // The e-mail and WKD entries of the three certificates past the bound.
  EXPECT_EQ(report->problem_count, 6u);
  EXPECT_EQ(count_with(*report, ": missing entry in by_email"), 3u);
  EXPECT_EQ(count_with(*report, ": missing entry in by_wkd"), 3u);
  EXPECT_EQ(count_with(*report, fprs.back().to_hex() + ": missing entry in by_email"), 1u);
}

// A new store's log is the empty tree: size 0, root SHA-256 of nothing, and
// `verify_log` finds nothing wrong (a store killed before its first write
// must pass `keydird check`).
TEST(RocksKeyStore, AnEmptyLogIsTheEmptyTree) {
  test::TempDir dir;
  {
    auto s = open(dir);
    auto state = s->log_state();
    ASSERT_TRUE(state) << state.error().detail;
    EXPECT_EQ(state->size, 0u);
    EXPECT_EQ(state->root, tlog::empty_root());
  }
  auto s = open(dir);
  auto state = s->log_state();
  ASSERT_TRUE(state);
  EXPECT_EQ(state->root, tlog::empty_root());
  auto report = s->verify_log();
  ASSERT_TRUE(report) << report.error().detail;
  EXPECT_TRUE(report->problems.empty()) << report->problems.front();
}

// Every write appends one entry per certificate after the header; the root
// survives a reopen, and `verify_log` recomputes it from the entries.
TEST(RocksKeyStore, WritesAppendEntriesThatSurviveAReopen) {
  test::TempDir dir;
  tlog::Hash root{};
  {
    auto s = open(dir);
    std::vector<Write> w{make(fpr(1), {}, {"a@example.org"}), make(fpr(2), {}, {})};
    ASSERT_TRUE(s->apply(w, 1000));
    std::vector<Write> again{make(fpr(1), {}, {"a@example.org", "b@example.org"}, "cert2")};
    ASSERT_TRUE(s->apply(again, 1001));
    auto state = s->log_state();
    ASSERT_TRUE(state);
    EXPECT_EQ(state->size, 4u);  // the header and three changes
    root = state->root;
    auto index = s->log_index(fpr(1));
    ASSERT_TRUE(index && *index);
    EXPECT_EQ(**index, 3u);  // its latest entry
  }
  auto s = open(dir);
  auto state = s->log_state();
  ASSERT_TRUE(state);
  EXPECT_EQ(state->size, 4u);
  EXPECT_EQ(state->root, root);
  auto report = s->verify_log();
  ASSERT_TRUE(report) << report.error().detail;
  EXPECT_TRUE(report->problems.empty()) << report->problems.front();
  EXPECT_EQ(report->certificates, 2u);
}

// A write's entry index is kept in its change record, not under a key of its
// own; deletions and backfills keep theirs ("f"); the later of the two is
// the latest entry, also in stores whose change records predate the index.
TEST(RocksKeyStore, LatestEntriesWithoutAKeyPerWrite) {
  test::TempDir dir;
  const std::string db = dir.str("db");
  {
    auto s = open(dir);
    std::vector<Write> w{make(fpr(1), {}, {"a@example.org"}), make(fpr(2), {}, {})};
    ASSERT_TRUE(s->apply(w, 1000));  // entries 1, 2 (seq 1, 2)
    ASSERT_TRUE(s->compact());       // no write-ahead log for raw_edit to replay
  }
  EXPECT_TRUE(raw_keys(db, "tlog", "f").empty());
  {
    auto s = open(dir);
    ASSERT_TRUE(s->remove(make(fpr(2), {}, {}).record, Tombstone{1001, "asked"}));  // 3, seq 3
    EXPECT_EQ(**s->log_index(fpr(2)), 3u);
    std::vector<Write> back{make(fpr(2), {}, {}, "cert2")};
    ASSERT_TRUE(s->apply(back, 1002));  // entry 4, seq 4
    EXPECT_EQ(**s->log_index(fpr(2)), 4u);
    // A later entry of the same change (the backfill path) wins.
    ASSERT_TRUE(s->append_log({LogItem{fpr(1), 1, Bytes(32, 4), {"a@example.org"}}}, 1003));
    EXPECT_EQ(**s->log_index(fpr(1)), 5u);
    EXPECT_FALSE(*s->log_index(fpr(9)));
    std::vector<Write> again{make(fpr(1), {}, {}, "cert3")};
    ASSERT_TRUE(s->apply(again, 1004));  // entry 6, seq 5
    EXPECT_EQ(**s->log_index(fpr(1)), 6u);
    auto changes = s->changes_since(0, 10);
    ASSERT_TRUE(changes);
    ASSERT_EQ(changes->size(), 5u);
    EXPECT_EQ((*changes)[2].fingerprint, fpr(2));
    EXPECT_TRUE((*changes)[2].digest.empty());  // the deletion
    EXPECT_EQ((*changes)[4].digest, Bytes(32, 5));
    ASSERT_TRUE(s->compact());
  }
  // A store written before change records kept the index: fpr(1)'s latest
  // change has none, and its "f" key says where its entry is.
  raw_edit(db, "changelog", [&](rocksdb::DB& raw, rocksdb::ColumnFamilyHandle* h) {
    std::string v;
    const std::string k("\0\0\0\0\0\0\0\5", 8);
    ASSERT_TRUE(raw.Get(rocksdb::ReadOptions(), h, k, &v).ok());
    ASSERT_EQ(v.size(), 21u + 32 + 8);
    v.resize(21 + 32);
    ASSERT_TRUE(raw.Put(rocksdb::WriteOptions(), h, k, v).ok());
  });
  raw_edit(db, "tlog", [&](rocksdb::DB& raw, rocksdb::ColumnFamilyHandle* h) {
    ASSERT_TRUE(raw.Put(rocksdb::WriteOptions(), h,
                        "f" + std::string(1, '\4') + std::string(20, '\1'),
                        std::string("\0\0\0\0\0\0\0\6", 8))
                    .ok());
  });
  {
    auto s = open(dir);
    EXPECT_EQ(**s->log_index(fpr(1)), 6u);
    auto changes = s->changes_since(4, 10);
    ASSERT_TRUE(changes);
    ASSERT_EQ(changes->size(), 1u);
    EXPECT_EQ(changes->front().digest, Bytes(32, 5));
    auto report = s->verify_log();
    ASSERT_TRUE(report) << report.error().detail;
    EXPECT_TRUE(report->problems.empty()) << report->problems.front();
    ASSERT_TRUE(s->compact());
  }
  // A change record naming another certificate is corruption, reported.
  raw_edit(db, "changelog", [&](rocksdb::DB& raw, rocksdb::ColumnFamilyHandle* h) {
    const std::string k("\0\0\0\0\0\0\0\4", 8);
    std::string v = std::string(1, '\4') + std::string(20, '\7') + std::string(32, '\5') +
                    std::string("\0\0\0\0\0\0\0\4", 8);
    ASSERT_TRUE(raw.Put(rocksdb::WriteOptions(), h, k, v).ok());
  });
  auto s = open(dir);
  auto index = s->log_index(fpr(2));
  ASSERT_FALSE(index);
  EXPECT_EQ(index.error().code, ErrorCode::StorageCorruption);
  auto report = s->verify_log();
  ASSERT_TRUE(report) << report.error().detail;
  ASSERT_EQ(report->problem_count, 1u);
  EXPECT_NE(report->problems.front().find("is not a change of"), std::string::npos)
      << report->problems.front();
}

// A scrypt log (verified and managed mode): the entries of writes, of a
// deletion and of the backfill name certificates by the scheme's blinded
// fingerprint, never the clear one; /log/entry's index stays keyed by the
// real fingerprint, and `verify_log` checks the blinded one.
TEST(RocksKeyStore, ScryptLogsCarryBlindedFingerprints) {
  test::TempDir dir;
  auto s = open(dir);
  const tlog::CommitmentScheme scheme{tlog::CommitmentScheme::Kind::Scrypt, 4, 1, 1,
                                      Bytes(32, 0x5A)};
  ASSERT_TRUE(s->start_log(scheme, 999));
  const Fingerprint v6 = fpr(2, Fingerprint::Version::V6);
  std::vector<Write> w{make(fpr(1), {}, {"a@example.org"}), make(v6, {}, {"b@example.org"}),
                       make(fpr(3), {}, {})};
  ASSERT_TRUE(s->apply(w, 1000));
  ASSERT_TRUE(s->remove(w[2].record, Tombstone{1001, "owner asked"}));
  // The backfill path (a certificate stored before the log).
  ASSERT_TRUE(s->append_log({LogItem{fpr(4), 7, Bytes(32, 1), {"c@example.org"}}}, 1002));
  auto entries = s->log_entries(0, 100);
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 6u);  // header, three writes, a deletion, the backfill
  const std::vector<Fingerprint> in_order{fpr(1), v6, fpr(3), fpr(3), fpr(4)};
  for (std::size_t i = 1; i < entries->size(); ++i) {
    auto e = tlog::Entry::decode((*entries)[i]);
    ASSERT_TRUE(e);
    const Fingerprint& f = in_order[i - 1];
    const auto version = static_cast<std::uint8_t>(f.bytes().size() == 32 ? 6 : 4);
    EXPECT_EQ(e->key_version, version);
    EXPECT_EQ(e->fingerprint, scheme.entry_fingerprint(version, f.bytes()));
    EXPECT_NE(e->fingerprint, Bytes(f.bytes().begin(), f.bytes().end()));
    EXPECT_EQ(e->kind, i == 4 ? tlog::Entry::Kind::Deleted : tlog::Entry::Kind::Certificate);
    // The commitments: computed before the write lock for the writes after
    // the log's start, under it for the backfill; the same either way.
    const std::vector<std::string> addresses = i == 1   ? std::vector<std::string>{"a@example.org"}
                                               : i == 2 ? std::vector<std::string>{"b@example.org"}
                                               : i == 5 ? std::vector<std::string>{"c@example.org"}
                                                        : std::vector<std::string>{};
    std::vector<Bytes> expected;
    for (const auto& a : addresses) {
      expected.push_back(*scheme.commit(a));
    }
    EXPECT_EQ(e->commitments, expected) << i;
  }
  for (std::uint8_t fill = 1; fill <= 4; ++fill) {
    const Fingerprint f = fill == 2 ? v6 : fpr(fill);
    auto index = s->log_index(f);
    ASSERT_TRUE(index && *index) << f.to_hex();
    EXPECT_EQ(**index, fill == 3 ? 4u : fill == 4 ? 5u : fill);
  }
  auto report = s->verify_log();
  ASSERT_TRUE(report) << report.error().detail;
  EXPECT_TRUE(report->problems.empty()) << report->problems.front();
}

}  // namespace
}  // namespace keydir::storage
