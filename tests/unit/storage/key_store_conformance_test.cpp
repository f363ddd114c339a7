// The KeyStore contract (storage/key_store.hpp), one suite run against every
// implementation: RocksKeyStore in a temporary folder and MemoryKeyStore. A
// store that passes it can replace the other under the service and the API.
// Records are made by hand: storage never parses packets.
#include <gtest/gtest.h>

#include <limits>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "recon/ptree.hpp"
#include "storage/memory_key_store.hpp"
#include "storage/rocksdb/rocks_key_store.hpp"
#include "temp_dir.hpp"

namespace keydir::storage {
namespace {

using recon::PrefixTree;
using recon::Zp;
using V = Fingerprint::Version;

// --- The stores ---------------------------------------------------------------

struct RocksStore {
  static constexpr const char* kName = "Rocks";
  test::TempDir dir;
  std::unique_ptr<KeyStore> make() {
    auto s = RocksKeyStore::open(dir.str("db"), RocksOptions{});
    EXPECT_TRUE(s) << s.error().detail;
    return s ? std::unique_ptr<KeyStore>(std::move(*s)) : nullptr;
  }
};

struct MemoryStore {
  static constexpr const char* kName = "Memory";
  std::unique_ptr<KeyStore> make() { return std::make_unique<MemoryKeyStore>(); }
};

struct StoreName {
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};

template <typename Factory>
class KeyStoreConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = factory_.make();
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    // Every test leaves a consistent store behind.
    if (store_ && !this->HasFailure()) {
      expect_clean();
    }
  }
  KeyStore& store() { return *store_; }

  void expect_clean() {
    auto report = store_->check();
    ASSERT_TRUE(report) << report.error().detail;
    EXPECT_EQ(report->problem_count, 0u)
        << (report->problems.empty() ? "" : report->problems.front());
  }

  Factory factory_;
  std::unique_ptr<KeyStore> store_;
};

using Stores = ::testing::Types<RocksStore, MemoryStore>;
TYPED_TEST_SUITE(KeyStoreConformance, Stores, StoreName);

// --- Records --------------------------------------------------------------------

// A fingerprint per number, the number in the key ID too (v4: the low 64
// bits; v6: the high 64 bits), so that each has its own key ID.
Fingerprint fpr_of(std::uint32_t n, V v = V::V4) {
  Bytes b(v == V::V4 ? 20 : 32, 0x5a);
  for (std::size_t i = 0; i < 4; ++i) {
    b[i] = static_cast<std::uint8_t>(n >> (8 * (3 - i)));
    b[b.size() - 4 + i] = static_cast<std::uint8_t>(n >> (8 * (3 - i)));
  }
  return Fingerprint(v, b);
}

Bytes hash_of(std::uint32_t n) {
  Bytes h(16, 0x3c);
  for (std::size_t i = 0; i < 4; ++i) {
    h[i] = static_cast<std::uint8_t>(n >> (8 * i));
  }
  return h;
}

struct Claims {
  std::vector<Fingerprint> strong = {};  // subkeys with a back-signature
  std::vector<Fingerprint> weak = {};    // encryption-only subkeys
  std::vector<std::string> emails = {};  // their local parts become words too
  std::vector<std::string> words = {};
  std::optional<Bytes> sks = {};  // default: from the primary's first octets and version
  std::string body = "cert";
};

Write write_of(const Fingerprint& primary, const Claims& c = {}) {
  Write w;
  CertRecord& r = w.record;
  r.fingerprint = primary;
  r.cert = Bytes(c.body.begin(), c.body.end());
  r.digest = Bytes(32, static_cast<std::uint8_t>(c.body.size()));
  r.digest[0] = static_cast<std::uint8_t>(c.body.empty() ? 0 : c.body[0]);
  IndexSet& idx = r.index;
  idx.fingerprints.push_back(primary);
  idx.key_ids.push_back(primary.key_id());
  for (const auto& s : c.strong) {
    idx.fingerprints.push_back(s);
    idx.key_ids.push_back(s.key_id());
  }
  idx.weak_subkeys = c.weak;
  for (const auto& e : c.emails) {
    idx.emails.push_back(e);
    idx.wkd.push_back(openpgp::WkdHash::of(*openpgp::Email::parse(e)));
    idx.words.push_back(e.substr(0, e.find('@')));
  }
  idx.words.insert(idx.words.end(), c.words.begin(), c.words.end());
  if (c.sks) {
    idx.sks_hash = *c.sks;
  } else {
    auto b = primary.bytes();
    idx.sks_hash = hash_of(static_cast<std::uint32_t>(b[0]) << 24 | b[1] << 16 | b[2] << 8 | b[3]);
    idx.sks_hash[15] = static_cast<std::uint8_t>(primary.version());
  }
  return w;
}

// The write of a new version of `old` (as the service makes it).
Write update_of(const CertRecord& old, const Claims& c) {
  Write w = write_of(old.fingerprint, c);
  w.record.first_seen = old.first_seen;
  w.previous = old.index;
  return w;
}

std::vector<std::uint64_t> apply(KeyStore& s, std::vector<Write>& w, std::uint64_t now) {
  auto r = s.apply(w, now);
  EXPECT_TRUE(r) << r.error().detail;
  return r ? *r : std::vector<std::uint64_t>{};
}

CertRecord put(KeyStore& s, const Fingerprint& primary, const Claims& c = {},
               std::uint64_t now = 100) {
  std::vector<Write> w{write_of(primary, c)};
  apply(s, w, now);
  return w[0].record;
}

template <typename Q>
std::vector<Fingerprint> found(const KeyStore& s, Q q, std::size_t limit = 100) {
  auto r = s.lookup(Query{std::move(q)}, limit);
  EXPECT_TRUE(r) << r.error().detail;
  std::vector<Fingerprint> out;
  if (r) {
    for (const auto& rec : *r) {
      out.push_back(rec.fingerprint);
    }
  }
  return out;
}

openpgp::WkdHash wkd(std::string_view address) {
  return openpgp::WkdHash::of(*openpgp::Email::parse(address));
}

using Fprs = std::vector<Fingerprint>;

// --- Lookups ----------------------------------------------------------------------

TYPED_TEST(KeyStoreConformance, GetReturnsTheWholeRecord) {
  const Fingerprint p = fpr_of(1);
  std::vector<Write> w{write_of(p, {.strong = {fpr_of(2)},
                                    .weak = {fpr_of(3)},
                                    .emails = {"alice@example.org"},
                                    .body = "alice v1"})};
  auto seqs = apply(this->store(), w, 1000);
  EXPECT_EQ(seqs, std::vector<std::uint64_t>{1});
  // The store filled in the caller's record.
  EXPECT_EQ(w[0].record.seq, 1u);
  EXPECT_EQ(w[0].record.first_seen, 1000u);
  EXPECT_EQ(w[0].record.last_change, 1000u);
  auto rec = this->store().get(p);
  ASSERT_TRUE(rec && *rec);
  EXPECT_EQ((*rec)->fingerprint, p);
  EXPECT_EQ(as_chars((*rec)->cert), "alice v1");
  EXPECT_EQ((*rec)->digest, w[0].record.digest);
  EXPECT_EQ((*rec)->index, w[0].record.index);
  EXPECT_EQ((*rec)->seq, 1u);
  EXPECT_EQ((*rec)->first_seen, 1000u);
  EXPECT_EQ((*rec)->last_change, 1000u);
  auto missing = this->store().get(fpr_of(2));  // a subkey is no certificate
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
}

TYPED_TEST(KeyStoreConformance, EveryQueryKindFindsTheCertificate) {
  KeyStore& s = this->store();
  const Fingerprint p = fpr_of(1), strong = fpr_of(2), weak = fpr_of(3);
  const Fingerprint v6 = fpr_of(4, V::V6), v6sub = fpr_of(5, V::V6);
  const CertRecord rec = put(s, p,
                             {.strong = {strong},
                              .weak = {weak},
                              .emails = {"alice@example.org"},
                              .words = {"wonderland"}});
  put(s, v6, {.strong = {v6sub}, .emails = {"bob@example.net"}});
  const Fprs want{p};
  EXPECT_EQ(found(s, Query::ByFingerprint{p}), want);
  EXPECT_EQ(found(s, Query::ByFingerprint{strong}), want);
  EXPECT_EQ(found(s, Query::ByFingerprint{weak}), want);
  EXPECT_EQ(found(s, Query::ByKeyId{p.key_id()}), want);
  EXPECT_EQ(found(s, Query::ByKeyId{strong.key_id()}), want);
  EXPECT_EQ(found(s, Query::ByKeyId{weak.key_id()}), want);
  EXPECT_EQ(found(s, Query::ByShortKeyId{p.key_id().short_id()}), want);
  EXPECT_EQ(found(s, Query::ByShortKeyId{strong.key_id().short_id()}), want);
  EXPECT_EQ(found(s, Query::ByShortKeyId{weak.key_id().short_id()}), want);
  EXPECT_EQ(found(s, Query::ByEmail{"alice@example.org"}), want);
  EXPECT_EQ(found(s, Query::ByWkd{wkd("alice@example.org")}), want);
  EXPECT_EQ(found(s, Query::ByWords{{"alice"}}), want);
  EXPECT_EQ(found(s, Query::ByWords{{"alice", "wonderland"}}), want);  // all must match
  EXPECT_EQ(found(s, Query::BySksHash{rec.index.sks_hash}), want);
  // v6: fingerprints and key IDs (the high 64 bits).
  EXPECT_EQ(found(s, Query::ByFingerprint{v6}), Fprs{v6});
  EXPECT_EQ(found(s, Query::ByFingerprint{v6sub}), Fprs{v6});
  EXPECT_EQ(found(s, Query::ByKeyId{v6.key_id()}), Fprs{v6});
  EXPECT_EQ(found(s, Query::ByKeyId{v6sub.key_id()}), Fprs{v6});
  EXPECT_EQ(found(s, Query::ByEmail{"bob@example.net"}), Fprs{v6});
  // Misses.
  EXPECT_TRUE(found(s, Query::ByFingerprint{fpr_of(9)}).empty());
  EXPECT_TRUE(found(s, Query::ByFingerprint{fpr_of(1, V::V6)}).empty());
  EXPECT_TRUE(found(s, Query::ByKeyId{fpr_of(9).key_id()}).empty());
  EXPECT_TRUE(found(s, Query::ByShortKeyId{fpr_of(9).key_id().short_id()}).empty());
  EXPECT_TRUE(found(s, Query::ByEmail{"carol@example.org"}).empty());
  EXPECT_TRUE(found(s, Query::ByEmail{"ALICE@example.org"}).empty());  // normalised by the caller
  EXPECT_TRUE(found(s, Query::ByWkd{wkd("carol@example.org")}).empty());
  EXPECT_TRUE(found(s, Query::ByWkd{wkd("alice@example.net")}).empty());  // another domain
  EXPECT_TRUE(found(s, Query::ByWords{{"alice", "bob"}}).empty());
  EXPECT_TRUE(found(s, Query::ByWords{{"alic"}}).empty());  // whole words only
  EXPECT_TRUE(found(s, Query::ByWords{{}}).empty());
  EXPECT_TRUE(found(s, Query::BySksHash{hash_of(12345)}).empty());
  // A lookup's records carry everything but the IndexSet.
  auto got = s.lookup(Query{Query::ByEmail{"alice@example.org"}}, 10);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->at(0).cert, rec.cert);
  EXPECT_EQ(got->at(0).digest, rec.digest);
  EXPECT_EQ(got->at(0).seq, rec.seq);
  EXPECT_EQ(got->at(0).first_seen, rec.first_seen);
  EXPECT_EQ(got->at(0).index, IndexSet{});
  auto direct = s.lookup(Query{Query::ByFingerprint{p}}, 10);
  ASSERT_TRUE(direct);
  ASSERT_EQ(direct->size(), 1u);
  EXPECT_EQ(direct->at(0).cert, rec.cert);
  EXPECT_EQ(direct->at(0).index, IndexSet{});
}

// key_store.hpp, Query: the primary key's certificate, else every strong
// claim, else the one weak claim.
TYPED_TEST(KeyStoreConformance, PrimaryKeyHidesStrongClaimsButNotForShortKeyIds) {
  KeyStore& s = this->store();
  const Fingerprint owner = fpr_of(0x10), other = fpr_of(0x20);
  put(s, owner);
  put(s, other, {.strong = {owner}});  // somebody's primary key as a signing subkey
  EXPECT_EQ(found(s, Query::ByFingerprint{owner}), Fprs{owner});
  EXPECT_EQ(found(s, Query::ByKeyId{owner.key_id()}), Fprs{owner});
  // A short key ID costs 2^32 work to collide: a primary key there hides nothing.
  EXPECT_EQ(found(s, Query::ByShortKeyId{owner.key_id().short_id()}), (Fprs{owner, other}));
}

TYPED_TEST(KeyStoreConformance, StrongClaimsOfSeveralCertificatesAreAllAnswers) {
  KeyStore& s = this->store();
  const Fingerprint sub = fpr_of(0x99);
  put(s, fpr_of(0x30), {.strong = {sub}});
  put(s, fpr_of(0x10), {.strong = {sub}});
  put(s, fpr_of(0x20), {.weak = {sub}});
  const Fprs both{fpr_of(0x10), fpr_of(0x30)};  // fingerprint order
  EXPECT_EQ(found(s, Query::ByFingerprint{sub}), both);
  EXPECT_EQ(found(s, Query::ByKeyId{sub.key_id()}), both);
  EXPECT_EQ(found(s, Query::ByShortKeyId{sub.key_id().short_id()}), both);
}

TYPED_TEST(KeyStoreConformance, StrongClaimHidesAWeakOne) {
  KeyStore& s = this->store();
  const Fingerprint sub = fpr_of(0x99);
  put(s, fpr_of(0x10), {.weak = {sub}});
  EXPECT_EQ(found(s, Query::ByFingerprint{sub}), Fprs{fpr_of(0x10)});
  put(s, fpr_of(0x20), {.strong = {sub}});
  EXPECT_EQ(found(s, Query::ByFingerprint{sub}), Fprs{fpr_of(0x20)});
  EXPECT_EQ(found(s, Query::ByKeyId{sub.key_id()}), Fprs{fpr_of(0x20)});
  EXPECT_EQ(found(s, Query::ByShortKeyId{sub.key_id().short_id()}), Fprs{fpr_of(0x20)});
}

TYPED_TEST(KeyStoreConformance, PrimaryKeyHidesAWeakClaim) {
  KeyStore& s = this->store();
  const Fingerprint owner = fpr_of(0x10);
  put(s, fpr_of(0x20), {.weak = {owner}});
  EXPECT_EQ(found(s, Query::ByFingerprint{owner}), Fprs{fpr_of(0x20)});
  put(s, owner);
  EXPECT_EQ(found(s, Query::ByFingerprint{owner}), Fprs{owner});
  EXPECT_EQ(found(s, Query::ByKeyId{owner.key_id()}), Fprs{owner});
  EXPECT_EQ(found(s, Query::ByShortKeyId{owner.key_id().short_id()}), Fprs{owner});
}

TYPED_TEST(KeyStoreConformance, WeakClaimAnswersOnlyWhenItIsTheOnlyOne) {
  KeyStore& s = this->store();
  const Fingerprint sub = fpr_of(0x99), sub6 = fpr_of(0x98, V::V6);
  put(s, fpr_of(0x10), {.weak = {sub, sub6}});
  EXPECT_EQ(found(s, Query::ByFingerprint{sub}), Fprs{fpr_of(0x10)});
  EXPECT_EQ(found(s, Query::ByKeyId{sub.key_id()}), Fprs{fpr_of(0x10)});
  EXPECT_EQ(found(s, Query::ByShortKeyId{sub.key_id().short_id()}), Fprs{fpr_of(0x10)});
  EXPECT_EQ(found(s, Query::ByFingerprint{sub6}), Fprs{fpr_of(0x10)});
  EXPECT_EQ(found(s, Query::ByKeyId{sub6.key_id()}), Fprs{fpr_of(0x10)});
  put(s, fpr_of(0x20), {.weak = {sub}});  // claimed by two: nobody's
  EXPECT_TRUE(found(s, Query::ByFingerprint{sub}).empty());
  EXPECT_TRUE(found(s, Query::ByKeyId{sub.key_id()}).empty());
  EXPECT_TRUE(found(s, Query::ByShortKeyId{sub.key_id().short_id()}).empty());
  EXPECT_EQ(found(s, Query::ByFingerprint{sub6}), Fprs{fpr_of(0x10)});
}

TYPED_TEST(KeyStoreConformance, WeakClaimOnADeletedKeyAnswersNothing) {
  KeyStore& s = this->store();
  const Fingerprint deleted = fpr_of(0x10);
  const CertRecord rec = put(s, deleted, {.emails = {"gone@example.org"}});
  ASSERT_TRUE(s.remove(rec, Tombstone{200, "owner asked"}));
  put(s, fpr_of(0x20), {.weak = {deleted}});
  EXPECT_TRUE(found(s, Query::ByFingerprint{deleted}).empty());
  EXPECT_TRUE(found(s, Query::ByKeyId{deleted.key_id()}).empty());
  EXPECT_TRUE(found(s, Query::ByShortKeyId{deleted.key_id().short_id()}).empty());
  ASSERT_TRUE(s.clear_tombstone(deleted));
  EXPECT_EQ(found(s, Query::ByFingerprint{deleted}), Fprs{fpr_of(0x20)});
  EXPECT_EQ(found(s, Query::ByKeyId{deleted.key_id()}), Fprs{fpr_of(0x20)});
  // A tombstone restored from a backup counts the same.
  ASSERT_TRUE(s.put_tombstone(deleted, Tombstone{300, "restored"}));
  EXPECT_TRUE(found(s, Query::ByFingerprint{deleted}).empty());
  // A strong claim is not hidden by a tombstone.
  put(s, fpr_of(0x30), {.strong = {deleted}});
  EXPECT_EQ(found(s, Query::ByFingerprint{deleted}), Fprs{fpr_of(0x30)});
}

TYPED_TEST(KeyStoreConformance, KeyIdCollisionsAreASet) {
  KeyStore& s = this->store();
  // Two v4 fingerprints with the same low 64 bits: the same key ID.
  Bytes a(20, 0xAA), b(20, 0xBB);
  std::fill(b.begin() + 12, b.end(), 0xAA);
  const Fingerprint fa(V::V4, a), fb(V::V4, b);
  ASSERT_EQ(fa.key_id(), fb.key_id());
  put(s, fb);
  put(s, fa);
  EXPECT_EQ(found(s, Query::ByKeyId{fa.key_id()}), (Fprs{fa, fb}));
  EXPECT_EQ(found(s, Query::ByShortKeyId{fa.key_id().short_id()}), (Fprs{fa, fb}));
  EXPECT_EQ(found(s, Query::ByFingerprint{fa}), Fprs{fa});
}

TYPED_TEST(KeyStoreConformance, AnswersAreInFingerprintOrderAndLimited) {
  KeyStore& s = this->store();
  // Written out of order, v6 among them: v4 before v6, then octet order.
  const Fprs all{fpr_of(0x01), fpr_of(0x02),        fpr_of(0x7f),       fpr_of(0x80),
                 fpr_of(0xff), fpr_of(0x00, V::V6), fpr_of(0x05, V::V6)};
  std::vector<Write> batch;
  for (std::size_t i : {4u, 6u, 0u, 3u, 5u, 1u, 2u}) {
    batch.push_back(write_of(all[i], {.emails = {"shared@example.org"}, .words = {"team"}}));
  }
  apply(s, batch, 1);
  EXPECT_EQ(found(s, Query::ByEmail{"shared@example.org"}), all);
  EXPECT_EQ(found(s, Query::ByWkd{wkd("shared@example.org")}), all);
  EXPECT_EQ(found(s, Query::ByWords{{"team"}}), all);
  EXPECT_EQ(found(s, Query::ByWords{{"shared", "team"}}), all);
  EXPECT_EQ(found(s, Query::ByEmail{"shared@example.org"}, 3), (Fprs{all[0], all[1], all[2]}));
  EXPECT_EQ(found(s, Query::ByWords{{"team"}}, 1), Fprs{all[0]});
  EXPECT_TRUE(found(s, Query::ByEmail{"shared@example.org"}, 0).empty());
  EXPECT_TRUE(found(s, Query::ByFingerprint{all[0]}, 0).empty());
  EXPECT_EQ(found(s, Query::ByFingerprint{all[0]}, 1), Fprs{all[0]});
  // for_each: every certificate, in the same order, with its index; stops.
  Fprs seen;
  ASSERT_TRUE(s.for_each([&](const CertRecord& r) {
    seen.push_back(r.fingerprint);
    EXPECT_FALSE(r.index.emails.empty());
    return true;
  }));
  EXPECT_EQ(seen, all);
  seen.clear();
  ASSERT_TRUE(s.for_each([&](const CertRecord& r) {
    seen.push_back(r.fingerprint);
    return seen.size() < 2;
  }));
  EXPECT_EQ(seen, (Fprs{all[0], all[1]}));
}

// The bound on one key's set (rocks_key_store.cpp, kMaxSetMembers): further
// claims are not indexed (check() reports them; not run here: the RocksDB
// store's check reads the whole set once per member, 30 s for this one).
TYPED_TEST(KeyStoreConformance, AnAddressNamesAtMostTenThousandCertificates) {
  KeyStore& s = this->store();
  std::vector<Write> batch;
  for (std::uint32_t n = 0; n < 10001; ++n) {
    Write w = write_of(fpr_of(n), {.emails = {"flood@example.org"}});
    w.record.index.words.clear();
    batch.push_back(std::move(w));
  }
  apply(s, batch, 1);
  auto all = found(s, Query::ByEmail{"flood@example.org"}, 20000);
  ASSERT_EQ(all.size(), 10000u);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  EXPECT_EQ(all.back(), fpr_of(9999));  // the last claim is not indexed
  EXPECT_EQ(found(s, Query::ByWkd{wkd("flood@example.org")}, 20000).size(), 10000u);
  // Room again once one goes.
  std::vector<Write> none{update_of(batch[0].record, {})};
  none[0].record.index.words.clear();
  apply(s, none, 2);
  std::vector<Write> again{write_of(fpr_of(20000), {.emails = {"flood@example.org"}})};
  again[0].record.index.words.clear();
  apply(s, again, 3);
  EXPECT_EQ(found(s, Query::ByEmail{"flood@example.org"}, 20000).size(), 10000u);
  EXPECT_EQ(found(s, Query::ByEmail{"flood@example.org"}, 20000).back(), fpr_of(20000));
  this->store_.reset();  // inconsistent on purpose, and too slow to check
}

// --- Writes -------------------------------------------------------------------------

TYPED_TEST(KeyStoreConformance, UpdateReplacesTheIndexOfThePreviousVersion) {
  KeyStore& s = this->store();
  const Fingerprint p = fpr_of(1);
  const CertRecord v1 = put(s, p,
                            {.strong = {fpr_of(2)},
                             .weak = {fpr_of(3)},
                             .emails = {"old@example.org", "kept@example.org"},
                             .words = {"oldword"},
                             .sks = hash_of(1001),
                             .body = "v1"},
                            10);
  std::vector<Write> w{update_of(v1, {.strong = {fpr_of(4)},
                                      .weak = {fpr_of(5)},
                                      .emails = {"new@example.org", "kept@example.org"},
                                      .words = {"newword"},
                                      .sks = hash_of(1002),
                                      .body = "v2-longer"})};
  EXPECT_EQ(apply(s, w, 20), std::vector<std::uint64_t>{2});
  // The old version's entries are gone ...
  EXPECT_TRUE(found(s, Query::ByFingerprint{fpr_of(2)}).empty());
  EXPECT_TRUE(found(s, Query::ByFingerprint{fpr_of(3)}).empty());
  EXPECT_TRUE(found(s, Query::ByKeyId{fpr_of(2).key_id()}).empty());
  EXPECT_TRUE(found(s, Query::ByKeyId{fpr_of(3).key_id()}).empty());
  EXPECT_TRUE(found(s, Query::ByShortKeyId{fpr_of(3).key_id().short_id()}).empty());
  EXPECT_TRUE(found(s, Query::ByEmail{"old@example.org"}).empty());
  EXPECT_TRUE(found(s, Query::ByWkd{wkd("old@example.org")}).empty());
  EXPECT_TRUE(found(s, Query::ByWords{{"oldword"}}).empty());
  EXPECT_TRUE(found(s, Query::ByWords{{"old"}}).empty());
  EXPECT_TRUE(found(s, Query::BySksHash{hash_of(1001)}).empty());
  // ... the new one's are there, and what both have stays.
  const Fprs want{p};
  EXPECT_EQ(found(s, Query::ByFingerprint{fpr_of(4)}), want);
  EXPECT_EQ(found(s, Query::ByFingerprint{fpr_of(5)}), want);
  EXPECT_EQ(found(s, Query::ByKeyId{fpr_of(5).key_id()}), want);
  EXPECT_EQ(found(s, Query::ByEmail{"new@example.org"}), want);
  EXPECT_EQ(found(s, Query::ByWkd{wkd("new@example.org")}), want);
  EXPECT_EQ(found(s, Query::ByEmail{"kept@example.org"}), want);
  EXPECT_EQ(found(s, Query::ByWords{{"newword", "kept"}}), want);
  EXPECT_EQ(found(s, Query::BySksHash{hash_of(1002)}), want);
  auto rec = *s.get(p);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->first_seen, 10u);   // the caller's: the certificate is not new
  EXPECT_EQ(rec->last_change, 20u);  // the store's
  EXPECT_EQ(rec->seq, 2u);
  EXPECT_EQ(as_chars(rec->cert), "v2-longer");
  EXPECT_EQ(rec->index, w[0].record.index);
  EXPECT_EQ(s.stats()->certificates, 1u);
}

TYPED_TEST(KeyStoreConformance, KeepTimesKeepsTheRecordsTimes) {
  KeyStore& s = this->store();
  std::vector<Write> w{write_of(fpr_of(1))};
  w[0].record.first_seen = 5;
  w[0].record.last_change = 7;
  w[0].keep_times = true;
  apply(s, w, 1000);
  auto rec = *s.get(fpr_of(1));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->first_seen, 5u);
  EXPECT_EQ(rec->last_change, 7u);
  std::vector<Write> u{update_of(*rec, {.body = "v2"})};
  u[0].record.last_change = 8;
  u[0].keep_times = true;
  apply(s, u, 2000);
  rec = *s.get(fpr_of(1));
  EXPECT_EQ(rec->first_seen, 5u);
  EXPECT_EQ(rec->last_change, 8u);
  EXPECT_EQ(s.stats()->certificates, 1u);
}

TYPED_TEST(KeyStoreConformance, SeveralWritesInOneBatch) {
  KeyStore& s = this->store();
  put(s, fpr_of(9), {}, 1);
  const Fingerprint p = fpr_of(1), q = fpr_of(2);
  std::vector<Write> batch{write_of(p, {.emails = {"first@example.org"}, .body = "p1"}),
                           write_of(q, {.emails = {"q@example.org"}, .body = "q1"})};
  // A second version of p in the same batch, replacing the first.
  batch.push_back(update_of(batch[0].record, {.emails = {"second@example.org"}, .body = "p2"}));
  EXPECT_EQ(apply(s, batch, 50), (std::vector<std::uint64_t>{2, 3, 4}));
  EXPECT_EQ(found(s, Query::ByEmail{"first@example.org"}), Fprs{});
  EXPECT_EQ(found(s, Query::ByEmail{"second@example.org"}), Fprs{p});
  EXPECT_EQ(found(s, Query::ByEmail{"q@example.org"}), Fprs{q});
  auto rec = *s.get(p);
  ASSERT_TRUE(rec);
  EXPECT_EQ(as_chars(rec->cert), "p2");
  EXPECT_EQ(rec->seq, 4u);
  EXPECT_EQ(s.stats()->certificates, 3u);
  EXPECT_EQ(s.stats()->last_seq, 4u);
  auto changes = s.changes_since(1, 10);
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 3u);
  EXPECT_EQ(changes->at(0).fingerprint, p);
  EXPECT_EQ(changes->at(1).fingerprint, q);
  EXPECT_EQ(changes->at(2).fingerprint, p);
  EXPECT_EQ(changes->at(2).digest, rec->digest);
  // An empty batch writes nothing.
  std::vector<Write> empty;
  EXPECT_TRUE(apply(s, empty, 60).empty());
  EXPECT_EQ(s.stats()->last_seq, 4u);
}

TYPED_TEST(KeyStoreConformance, WriteThatForgetsThePreviousIndexIsCaughtByCheck) {
  KeyStore& s = this->store();
  put(s, fpr_of(1), {.emails = {"old@example.org"}});
  put(s, fpr_of(1), {.emails = {"new@example.org"}});  // no `previous`
  auto report = s.check();
  ASSERT_TRUE(report);
  EXPECT_GT(report->problem_count, 0u);
  EXPECT_EQ(report->problem_count, report->problems.size());
  EXPECT_EQ(report->certificates, 1u);
  this->store_.reset();
}

// --- Verification state -------------------------------------------------------------

TYPED_TEST(KeyStoreConformance, PublishedAddressesChangeWithTheWrite) {
  KeyStore& s = this->store();
  const Fingerprint p = fpr_of(1), q = fpr_of(2);
  std::vector<Write> w{write_of(p, {.emails = {"b@example.org", "a@example.org"}})};
  w[0].publish = {"b@example.org", "a@example.org"};
  apply(s, w, 1);
  put(s, q);
  EXPECT_EQ(*s.published(p), (std::vector<std::string>{"a@example.org", "b@example.org"}));
  EXPECT_TRUE(s.published(q)->empty());
  EXPECT_TRUE(s.published(fpr_of(3))->empty());
  std::vector<Write> u{update_of(w[0].record, {.emails = {"b@example.org", "c@example.org"}})};
  u[0].unpublish = {"a@example.org"};
  u[0].publish = {"c@example.org"};
  apply(s, u, 2);
  EXPECT_EQ(*s.published(p), (std::vector<std::string>{"b@example.org", "c@example.org"}));
  // Unpublishing what is not published changes nothing.
  auto rec = **s.get(p);
  std::vector<Write> v{update_of(rec, {.emails = {"b@example.org", "c@example.org"}})};
  v[0].unpublish = {"zzz@example.org"};
  apply(s, v, 3);
  EXPECT_EQ(*s.published(p), (std::vector<std::string>{"b@example.org", "c@example.org"}));
  // They go with the certificate.
  ASSERT_TRUE(s.remove(v[0].record, Tombstone{4, "gone"}));
  EXPECT_TRUE(s.published(p)->empty());
}

VerifyToken token_for(const Fingerprint& f, std::string email, std::uint64_t created,
                      VerifyToken::Kind kind = VerifyToken::Kind::Verify) {
  VerifyToken t;
  t.kind = kind;
  t.fingerprint = f;
  t.email = std::move(email);
  t.created = created;
  t.expires = created + 3600;
  return t;
}

void expect_token(const VerifyToken& got, const VerifyToken& want) {
  EXPECT_EQ(got.kind, want.kind);
  EXPECT_EQ(got.fingerprint, want.fingerprint);
  EXPECT_EQ(got.email, want.email);
  EXPECT_EQ(got.created, want.created);
  EXPECT_EQ(got.expires, want.expires);
  EXPECT_EQ(got.used_at, want.used_at);
}

TYPED_TEST(KeyStoreConformance, TokensArePutReadConsumedAndDeleted) {
  KeyStore& s = this->store();
  const Fingerprint p = fpr_of(1), q = fpr_of(2, V::V6);
  const CertRecord rp = put(s, p, {.emails = {"a@example.org"}});
  put(s, q, {.emails = {"b@example.org"}});
  const Bytes h1(32, 0x01), h2(32, 0x02), h3(32, 0x03), h4(32, 0x04);
  const VerifyToken t1 = token_for(p, "a@example.org", 10);
  const VerifyToken t2 = token_for(q, "b@example.org", 20, VerifyToken::Kind::Manage);
  const VerifyToken t3 = token_for(p, "a@example.org", 30, VerifyToken::Kind::Manage);
  const VerifyToken t4 = token_for(q, "", 40);
  ASSERT_TRUE(s.put_token(h3, t3));
  ASSERT_TRUE(s.put_token(h1, t1));
  ASSERT_TRUE(s.put_token(h2, t2));
  ASSERT_TRUE(s.put_token(h4, t4));
  auto got = s.token(h2);
  ASSERT_TRUE(got && *got);
  expect_token(**got, t2);
  EXPECT_FALSE(*s.token(Bytes(32, 0x09)));
  // Every token, in hash order; the visitor can stop.
  std::vector<Bytes> order;
  ASSERT_TRUE(s.for_each_token([&](ByteView h, const VerifyToken& t) {
    const Bytes hash(h.begin(), h.end());
    order.push_back(hash);
    expect_token(t, hash == h1 ? t1 : hash == h2 ? t2 : hash == h3 ? t3 : t4);
    return true;
  }));
  EXPECT_EQ(order, (std::vector<Bytes>{h1, h2, h3, h4}));
  order.clear();
  ASSERT_TRUE(s.for_each_token([&](ByteView h, const VerifyToken&) {
    order.emplace_back(h.begin(), h.end());
    return false;
  }));
  EXPECT_EQ(order, std::vector<Bytes>{h1});
  // Used up by the write that publishes: kept as a used marker (issue #20).
  std::vector<Write> w{update_of(rp, {.emails = {"a@example.org"}})};
  w[0].publish = {"a@example.org"};
  w[0].consume_token = h1;
  apply(s, w, 50);
  {
    VerifyToken used = t1;
    used.used_at = 50;
    expect_token(**s.token(h1), used);
  }
  EXPECT_EQ(*s.published(p), std::vector<std::string>{"a@example.org"});
  using Times = std::vector<std::pair<std::string, std::uint64_t>>;
  EXPECT_EQ(*s.published_times(p), (Times{{"a@example.org", 50}}));
  EXPECT_TRUE(s.published_times(q)->empty());
  // A used token cannot be used again, nor an absent one: the whole write
  // fails and changes nothing.
  {
    const auto before = s.stats()->last_seq;
    for (const Bytes& h : {h1, Bytes(32, 0x0a)}) {
      auto again = *s.get(p);
      std::vector<Write> w2{update_of(*again, {.emails = {"a@example.org"}})};
      w2[0].unpublish = {"a@example.org"};
      w2[0].consume_token = h;
      auto r = s.apply(w2, 55);
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().code, ErrorCode::TokenInvalid);
    }
    EXPECT_EQ(s.stats()->last_seq, before);
    EXPECT_EQ(*s.published(p), std::vector<std::string>{"a@example.org"});
    EXPECT_EQ((*s.token(h1))->used_at, 50u);
  }
  // Deleted.
  ASSERT_TRUE(s.delete_token(h4));
  EXPECT_FALSE(*s.token(h4));
  ASSERT_TRUE(s.delete_token(h4));  // again: nothing to do, no error
  // Overwritten.
  ASSERT_TRUE(s.put_token(h2, t4));
  expect_token(**s.token(h2), t4);
  // A removed certificate takes its tokens with it, and only its own.
  ASSERT_TRUE(s.remove(w[0].record, Tombstone{60, "gone"}));
  EXPECT_FALSE(*s.token(h3));
  EXPECT_TRUE(*s.token(h2));
}

// --- Removal and tombstones -----------------------------------------------------------

TYPED_TEST(KeyStoreConformance, RemoveLeavesATombstoneAndNoEntries) {
  KeyStore& s = this->store();
  const Fingerprint p = fpr_of(1);
  const CertRecord rec = put(s, p,
                             {.strong = {fpr_of(2)},
                              .weak = {fpr_of(3)},
                              .emails = {"a@example.org"},
                              .sks = hash_of(77)});
  put(s, fpr_of(4));
  ASSERT_TRUE(s.remove(rec, Tombstone{5, "owner asked"}));
  EXPECT_FALSE(*s.get(p));
  EXPECT_TRUE(found(s, Query::ByFingerprint{p}).empty());
  EXPECT_TRUE(found(s, Query::ByFingerprint{fpr_of(2)}).empty());
  EXPECT_TRUE(found(s, Query::ByFingerprint{fpr_of(3)}).empty());
  EXPECT_TRUE(found(s, Query::ByKeyId{p.key_id()}).empty());
  EXPECT_TRUE(found(s, Query::ByEmail{"a@example.org"}).empty());
  EXPECT_TRUE(found(s, Query::ByWkd{wkd("a@example.org")}).empty());
  EXPECT_TRUE(found(s, Query::ByWords{{"a"}}).empty());
  EXPECT_TRUE(found(s, Query::BySksHash{hash_of(77)}).empty());
  auto tomb = s.tombstone(p);
  ASSERT_TRUE(tomb && *tomb);
  EXPECT_EQ((*tomb)->deleted_at, 5u);
  EXPECT_EQ((*tomb)->reason, "owner asked");
  EXPECT_FALSE(*s.tombstone(fpr_of(4)));
  EXPECT_EQ(s.stats()->certificates, 1u);
  EXPECT_EQ(s.stats()->last_seq, 3u);
  auto changes = s.changes_since(2, 10);
  ASSERT_TRUE(changes);
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ(changes->at(0).seq, 3u);
  EXPECT_EQ(changes->at(0).fingerprint, p);
  EXPECT_TRUE(changes->at(0).digest.empty());  // deleted
  // Written again later: found again, the tombstone stays until cleared.
  put(s, p, {.emails = {"a@example.org"}});
  EXPECT_EQ(found(s, Query::ByEmail{"a@example.org"}), Fprs{p});
  EXPECT_TRUE(*s.tombstone(p));
  ASSERT_TRUE(s.clear_tombstone(p));
  EXPECT_FALSE(*s.tombstone(p));
  ASSERT_TRUE(s.clear_tombstone(p));  // again: no error
  EXPECT_EQ(s.stats()->certificates, 2u);
}

// A second removal (two deletes racing) finds nothing to remove: the count,
// the change log and the tree stay as the first left them.
TYPED_TEST(KeyStoreConformance, RemovingTwiceIsNotFoundAndChangesNothing) {
  KeyStore& s = this->store();
  const CertRecord rec = put(s, fpr_of(1), {.sks = hash_of(7)});
  put(s, fpr_of(2), {.sks = hash_of(8)});
  ASSERT_TRUE(s.remove(rec, Tombstone{5, "first"}));
  const auto seq = s.stats()->last_seq;
  auto again = s.remove(rec, Tombstone{6, "second"});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::NotFound);
  EXPECT_EQ(s.stats()->certificates, 1u);
  EXPECT_EQ(s.stats()->last_seq, seq);
  EXPECT_EQ((*s.tombstone(fpr_of(1)))->reason, "first");
  EXPECT_EQ((*(*s.recon_tree())->root_node()).size, 1u);
}

// Nothing comes after the largest sequence number (no wrap to the start).
TYPED_TEST(KeyStoreConformance, NothingComesAfterTheLastSequenceNumber) {
  KeyStore& s = this->store();
  put(s, fpr_of(1));
  auto after = s.changes_since(std::numeric_limits<std::uint64_t>::max(), 10);
  ASSERT_TRUE(after);
  EXPECT_TRUE(after->empty());
}

TYPED_TEST(KeyStoreConformance, TombstonesAreListedInFingerprintOrder) {
  KeyStore& s = this->store();
  const CertRecord r = put(s, fpr_of(0x50));
  ASSERT_TRUE(s.put_tombstone(fpr_of(0x01, V::V6), Tombstone{3, "six"}));
  ASSERT_TRUE(s.remove(r, Tombstone{1, "removed"}));
  ASSERT_TRUE(s.put_tombstone(fpr_of(0x90), Tombstone{2, "restored"}));
  ASSERT_TRUE(s.put_tombstone(fpr_of(0x10), Tombstone{4, ""}));
  ASSERT_TRUE(s.put_tombstone(fpr_of(0x90), Tombstone{5, "restored again"}));  // replaces
  std::vector<std::pair<Fingerprint, Tombstone>> seen;
  ASSERT_TRUE(s.for_each_tombstone([&](const Fingerprint& f, const Tombstone& t) {
    seen.emplace_back(f, t);
    return true;
  }));
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].first, fpr_of(0x10));
  EXPECT_EQ(seen[0].second.reason, "");
  EXPECT_EQ(seen[1].first, fpr_of(0x50));
  EXPECT_EQ(seen[1].second.reason, "removed");
  EXPECT_EQ(seen[1].second.deleted_at, 1u);
  EXPECT_EQ(seen[2].first, fpr_of(0x90));
  EXPECT_EQ(seen[2].second.reason, "restored again");
  EXPECT_EQ(seen[2].second.deleted_at, 5u);
  EXPECT_EQ(seen[3].first, fpr_of(0x01, V::V6));
  std::size_t visits = 0;
  ASSERT_TRUE(
      s.for_each_tombstone([&](const Fingerprint&, const Tombstone&) { return ++visits < 2; }));
  EXPECT_EQ(visits, 2u);
  ASSERT_TRUE(s.clear_tombstone(fpr_of(0x50)));
  visits = 0;
  ASSERT_TRUE(s.for_each_tombstone([&](const Fingerprint&, const Tombstone&) {
    ++visits;
    return true;
  }));
  EXPECT_EQ(visits, 3u);
  // put_tombstone alone changes neither certificates nor the change log.
  EXPECT_EQ(s.stats()->certificates, 0u);
  EXPECT_EQ(s.changes_since(0, 10)->size(), 2u);
}

// --- Change log, generation, counters --------------------------------------------------

TYPED_TEST(KeyStoreConformance, ChangeLogIsInOrderAndLimited) {
  KeyStore& s = this->store();
  std::vector<CertRecord> recs;
  for (std::uint32_t n = 1; n <= 5; ++n) {
    recs.push_back(put(s, fpr_of(n), {.body = "body" + std::to_string(n)}, 100 + n));
  }
  ASSERT_TRUE(s.remove(recs[1], Tombstone{200, "x"}));
  std::vector<Write> u{update_of(recs[0], {.body = "updated"})};
  apply(s, u, 300);
  auto all = s.changes_since(0, 100);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 7u);
  const Fprs order{fpr_of(1), fpr_of(2), fpr_of(3), fpr_of(4), fpr_of(5), fpr_of(2), fpr_of(1)};
  for (std::size_t i = 0; i < all->size(); ++i) {
    EXPECT_EQ(all->at(i).seq, i + 1);
    EXPECT_EQ(all->at(i).fingerprint, order[i]);
  }
  EXPECT_EQ(all->at(0).digest, recs[0].digest);
  EXPECT_TRUE(all->at(5).digest.empty());
  EXPECT_EQ(all->at(6).digest, u[0].record.digest);
  auto some = s.changes_since(2, 2);
  ASSERT_TRUE(some);
  ASSERT_EQ(some->size(), 2u);
  EXPECT_EQ(some->at(0).seq, 3u);
  EXPECT_EQ(some->at(1).seq, 4u);
  EXPECT_TRUE(s.changes_since(7, 10)->empty());
  EXPECT_TRUE(s.changes_since(100, 10)->empty());
  EXPECT_TRUE(s.changes_since(0, 0)->empty());
  EXPECT_EQ(s.stats()->last_seq, 7u);
  // The next write continues the sequence.
  std::vector<Write> w{write_of(fpr_of(6))};
  EXPECT_EQ(apply(s, w, 400), std::vector<std::uint64_t>{8});
}

TYPED_TEST(KeyStoreConformance, GenerationGrowsWithEveryWrite) {
  KeyStore& s = this->store();
  std::uint64_t g = s.generation();
  auto grew = [&](const char* what) {
    const std::uint64_t now = s.generation();
    EXPECT_GT(now, g) << what;
    g = now;
  };
  const CertRecord r = put(s, fpr_of(1), {.emails = {"a@example.org"}});
  grew("apply");
  std::vector<Write> u{update_of(r, {.emails = {"b@example.org"}})};
  apply(s, u, 2);
  grew("apply (update)");
  ASSERT_TRUE(s.put_token(Bytes(32, 1), token_for(fpr_of(1), "b@example.org", 1)));
  grew("put_token");
  ASSERT_TRUE(s.delete_token(Bytes(32, 1)));
  grew("delete_token");
  ASSERT_TRUE(s.put_setting("mode", "open"));
  grew("put_setting");
  ASSERT_TRUE(s.put_recon_alias("peer", hash_of(1), hash_of(2)));
  grew("put_recon_alias");
  ASSERT_TRUE(s.remove(u[0].record, Tombstone{3, "x"}));
  grew("remove");
  ASSERT_TRUE(s.clear_tombstone(fpr_of(1)));
  grew("clear_tombstone");
  ASSERT_TRUE(s.put_tombstone(fpr_of(1), Tombstone{4, "y"}));
  grew("put_tombstone");
  ASSERT_TRUE(s.rebuild_recon_tree());
  grew("rebuild_recon_tree");
  ASSERT_TRUE(s.append_audit(5, "{}"));
  grew("append_audit");
  // Reads are no writes: answer caches keep what they tagged.
  (void)s.get(fpr_of(1));
  (void)s.lookup(Query{Query::ByEmail{"b@example.org"}}, 10);
  (void)s.changes_since(0, 10);
  (void)s.stats();
  (void)s.check();
  (void)s.published(fpr_of(1));
  (void)s.recon_tree();
  (void)s.for_each([](const CertRecord&) { return true; });
  EXPECT_EQ(s.generation(), g);
}

TYPED_TEST(KeyStoreConformance, StatsCountCertificates) {
  KeyStore& s = this->store();
  EXPECT_EQ(s.stats()->certificates, 0u);
  EXPECT_EQ(s.stats()->last_seq, 0u);
  std::vector<Write> batch{write_of(fpr_of(1)), write_of(fpr_of(2)), write_of(fpr_of(3, V::V6))};
  apply(s, batch, 1);
  EXPECT_EQ(s.stats()->certificates, 3u);
  std::vector<Write> u{update_of(batch[0].record, {.body = "v2"})};
  apply(s, u, 2);
  EXPECT_EQ(s.stats()->certificates, 3u);  // an update is no new certificate
  ASSERT_TRUE(s.remove(batch[1].record, Tombstone{3, "x"}));
  EXPECT_EQ(s.stats()->certificates, 2u);
  EXPECT_EQ(s.stats()->last_seq, 5u);
  auto report = s.check();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->certificates, 2u);
  EXPECT_GT(report->index_entries, 0u);
}

// --- Settings and the audit log ----------------------------------------------------------

TYPED_TEST(KeyStoreConformance, SettingsAreKeptByName) {
  KeyStore& s = this->store();
  EXPECT_FALSE(*s.setting("mode"));
  ASSERT_TRUE(s.put_setting("mode", "verified"));
  ASSERT_TRUE(s.put_setting("domains", "example.org,example.net"));
  ASSERT_TRUE(s.put_setting("empty", ""));
  EXPECT_EQ(**s.setting("mode"), "verified");
  EXPECT_EQ(**s.setting("domains"), "example.org,example.net");
  auto empty = s.setting("empty");
  ASSERT_TRUE(empty && *empty);  // present, and empty
  EXPECT_EQ(**empty, "");
  ASSERT_TRUE(s.put_setting("mode", "managed"));
  EXPECT_EQ(**s.setting("mode"), "managed");
  EXPECT_FALSE(*s.setting("mod"));
  EXPECT_FALSE(*s.setting("modes"));
}

TYPED_TEST(KeyStoreConformance, AuditLogIsAppendedInOrder) {
  KeyStore& s = this->store();
  bool visited = false;
  ASSERT_TRUE(s.for_each_audit([&](const AuditEntry&) { return visited = true; }));
  EXPECT_FALSE(visited);
  EXPECT_EQ(*s.append_audit(30, R"({"action":"delete"})"), 1u);
  EXPECT_EQ(*s.append_audit(10, R"({"action":"restore"})"), 2u);  // time is not the order
  EXPECT_EQ(*s.append_audit(20, ""), 3u);
  std::vector<AuditEntry> seen;
  ASSERT_TRUE(s.for_each_audit([&](const AuditEntry& e) {
    seen.push_back(e);
    return true;
  }));
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].seq, 1u);
  EXPECT_EQ(seen[0].time, 30u);
  EXPECT_EQ(seen[0].text, R"({"action":"delete"})");
  EXPECT_EQ(seen[1].seq, 2u);
  EXPECT_EQ(seen[1].time, 10u);
  EXPECT_EQ(seen[1].text, R"({"action":"restore"})");
  EXPECT_EQ(seen[2].seq, 3u);
  EXPECT_EQ(seen[2].text, "");
  seen.clear();
  ASSERT_TRUE(s.for_each_audit([&](const AuditEntry& e) {
    seen.push_back(e);
    return false;
  }));
  EXPECT_EQ(seen.size(), 1u);
}

// --- Iteration under writes ---------------------------------------------------------------

// The service rewrites certificates while for_each walks them (reindex,
// mode changes) and deletes tokens while walking them: a visitor may write,
// and the walk sees the store as it was when it began.
TYPED_TEST(KeyStoreConformance, VisitorsMayWriteAndSeeASnapshot) {
  KeyStore& s = this->store();
  std::vector<Write> batch;
  for (std::uint32_t n = 1; n <= 20; ++n) {
    batch.push_back(write_of(fpr_of(n), {.emails = {"old@example.org"}}));
  }
  apply(s, batch, 1);
  std::size_t visits = 0;
  ASSERT_TRUE(s.for_each([&](const CertRecord& r) {
    ++visits;
    EXPECT_EQ(r.index.emails, std::vector<std::string>{"old@example.org"});
    std::vector<Write> u{update_of(r, {.emails = {"new@example.org"}})};
    EXPECT_TRUE(s.apply(u, 2));
    if (visits == 1) {  // a certificate written during the walk
      std::vector<Write> extra{write_of(fpr_of(1000))};
      EXPECT_TRUE(s.apply(extra, 2));
    }
    return true;
  }));
  EXPECT_EQ(visits, 20u);
  EXPECT_TRUE(found(s, Query::ByEmail{"old@example.org"}).empty());
  EXPECT_EQ(found(s, Query::ByEmail{"new@example.org"}).size(), 20u);
  for (std::uint8_t i = 1; i <= 5; ++i) {
    ASSERT_TRUE(s.put_token(Bytes(32, i), token_for(fpr_of(i), "new@example.org", i)));
  }
  visits = 0;
  ASSERT_TRUE(s.for_each_token([&](ByteView h, const VerifyToken&) {
    ++visits;
    EXPECT_TRUE(s.delete_token(h));
    return true;
  }));
  EXPECT_EQ(visits, 5u);
  ASSERT_TRUE(s.for_each_token([&](ByteView, const VerifyToken&) {
    ADD_FAILURE() << "a deleted token";
    return true;
  }));
  ASSERT_TRUE(s.for_each_tombstone([&](const Fingerprint&, const Tombstone&) { return true; }));
  ASSERT_TRUE(s.append_audit(1, "a"));
  visits = 0;
  ASSERT_TRUE(s.for_each_audit([&](const AuditEntry&) {
    ++visits;
    EXPECT_TRUE(s.append_audit(2, "written while walking"));
    return true;
  }));
  EXPECT_EQ(visits, 1u);
}

// Lookups, tree views and the generation read while another thread writes:
// each read sees one state (a view's root and its elements agree), and
// nothing goes backwards.
TYPED_TEST(KeyStoreConformance, ReadsRunAlongsideWrites) {
  KeyStore& s = this->store();
  constexpr std::uint32_t kWrites = 300;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (std::uint32_t n = 0; n < kWrites; ++n) {
      std::vector<Write> w{write_of(fpr_of(n), {.emails = {"busy@example.org"}})};
      EXPECT_TRUE(s.apply(w, n));
    }
    done = true;
  });
  std::size_t last = 0;
  std::uint64_t last_generation = 0;
  std::size_t reads = 0;
  while (!done.load()) {
    const std::uint64_t g = s.generation();
    EXPECT_GE(g, last_generation);
    last_generation = g;
    auto r = s.lookup(Query{Query::ByEmail{"busy@example.org"}}, 1000);
    EXPECT_TRUE(r);
    if (!r) {
      break;
    }
    EXPECT_GE(r->size(), last);
    last = r->size();
    auto view = s.recon_tree();
    EXPECT_TRUE(view);
    if (!view) {
      break;
    }
    auto root = (*view)->root_node();
    auto elements = (*view)->elements_of(*root);
    EXPECT_EQ(elements->size(), root->size);
    ++reads;
  }
  writer.join();
  EXPECT_GT(reads, 0u);
  EXPECT_EQ(found(s, Query::ByEmail{"busy@example.org"}, 1000).size(), kWrites);
  EXPECT_EQ(s.stats()->certificates, kWrites);
  EXPECT_EQ((*s.recon_tree())->root_node()->size, kWrites);
}

// --- Reconciliation ------------------------------------------------------------------------

Bytes random_hash(std::mt19937_64& rng, std::size_t fixed_prefix = 0) {
  Bytes h(16);
  for (auto& b : h) {
    b = static_cast<std::uint8_t>(rng());
  }
  for (std::size_t i = 0; i < fixed_prefix; ++i) {
    h[i] = 0xA5;
  }
  return h;
}

// The store's tree holds exactly `set`: the root's size and sample values
// are those of an in-memory PrefixTree of it, its elements are the set,
// every internal node is the sum of its children, and check() (which
// recomputes the tree from the SKS hash index) finds nothing.
void expect_tree_of(const KeyStore& s, const std::map<std::uint32_t, Bytes>& set) {
  auto report = s.check();
  ASSERT_TRUE(report) << report.error().detail;
  EXPECT_EQ(report->problem_count, 0u) << (report->problems.empty() ? "" : report->problems[0]);
  PrefixTree mirror;
  std::set<Zp> elements;
  for (const auto& [n, h] : set) {
    Zp z = Zp::from_le(h);
    mirror.insert(z);
    elements.insert(z);
  }
  auto view = s.recon_tree();
  ASSERT_TRUE(view) << view.error().detail;
  const recon::TreeView& v = **view;
  auto root = v.root_node();
  ASSERT_TRUE(root);
  EXPECT_EQ(root->size, set.size());
  EXPECT_EQ(root->depth, 0);
  EXPECT_EQ(root->svalues, mirror.root().svalues);
  EXPECT_EQ(v.points(), mirror.points());
  auto all = v.elements_of(*root);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), set.size());
  EXPECT_EQ(std::set<Zp>(all->begin(), all->end()), elements);
  const auto split = static_cast<std::uint64_t>(v.config().split_threshold());
  std::vector<recon::TreeNode> stack{*root};
  while (!stack.empty()) {
    auto n = stack.back();
    stack.pop_back();
    auto children = v.children_of(n);
    ASSERT_TRUE(children);
    // The stores' shape: internal exactly above the split threshold.
    EXPECT_EQ(n.leaf, n.size <= split) << "depth " << n.depth;
    auto below = v.elements_of(n);
    ASSERT_TRUE(below);
    EXPECT_EQ(below->size(), n.size);
    if (n.leaf) {
      EXPECT_TRUE(children->empty());
      continue;
    }
    ASSERT_EQ(children->size(), std::size_t{1} << v.config().bit_quantum);
    std::uint64_t size = 0;
    std::vector<Zp> product(n.svalues.size(), Zp::of_int(1));
    for (const auto& c : *children) {
      EXPECT_EQ(c.depth, n.depth + 1);
      size += c.size;
      for (std::size_t i = 0; i < product.size(); ++i) {
        product[i] = product[i] * c.svalues[i];
      }
      stack.push_back(c);
    }
    EXPECT_EQ(size, n.size);
    EXPECT_EQ(product, n.svalues);
  }
}

TYPED_TEST(KeyStoreConformance, ReconTreeIsThePrefixTreeOfTheStoredHashes) {
  KeyStore& s = this->store();
  expect_tree_of(s, {});
  std::mt19937_64 rng(42);
  std::map<std::uint32_t, Bytes> set;
  std::map<std::uint32_t, CertRecord> recs;
  std::map<Fingerprint, std::uint32_t> numbers;
  // Batches of new certificates, every fifth in a crowded corner, so that
  // nodes split several levels deep.
  std::uint32_t next = 0;
  while (next < 600) {
    std::vector<Write> batch;
    for (std::size_t i = 0, size = 1 + rng() % 40; i < size; ++i, ++next) {
      set[next] = random_hash(rng, next % 5 == 0 ? 3 : 0);
      numbers[fpr_of(next)] = next;
      batch.push_back(write_of(fpr_of(next), {.sks = set[next]}));
    }
    apply(s, batch, 1);
    for (const auto& w : batch) {
      recs[numbers.at(w.record.fingerprint)] = w.record;
    }
  }
  expect_tree_of(s, set);
  // A certificate without an SKS hash is not in the tree.
  put(s, fpr_of(100000), {.sks = Bytes{}});
  expect_tree_of(s, set);
  // A view is a snapshot.
  auto before = s.recon_tree();
  ASSERT_TRUE(before);
  const auto before_root = *(*before)->root_node();
  // Updates with new hashes, some twice in one batch.
  for (int round = 0; round < 5; ++round) {
    std::vector<Write> batch;
    for (int i = 0; i < 30; ++i) {
      auto n = static_cast<std::uint32_t>(rng() % next);
      Bytes h = random_hash(rng, n % 5 == 0 ? 3 : 0);
      batch.push_back(update_of(recs[n], {.sks = h}));
      recs[n] = batch.back().record;
      set[n] = h;
    }
    apply(s, batch, 2);
  }
  expect_tree_of(s, set);
  EXPECT_EQ((*before)->root_node()->svalues, before_root.svalues);
  EXPECT_EQ((*before)->root_node()->size, std::uint64_t{next});
  EXPECT_EQ((*before)->elements_of(before_root)->size(), std::size_t{next});
  // Removals down to below the split threshold: every join.
  std::vector<std::uint32_t> order;
  for (const auto& [n, h] : set) {
    order.push_back(n);
  }
  std::shuffle(order.begin(), order.end(), rng);
  for (std::size_t i = 0; i + 30 < order.size(); ++i) {
    ASSERT_TRUE(s.remove(recs[order[i]], Tombstone{3, "test"}));
    set.erase(order[i]);
    if (i % 200 == 0) {
      expect_tree_of(s, set);
    }
  }
  expect_tree_of(s, set);
  EXPECT_TRUE((*s.recon_tree())->root_node()->leaf);
  // Rebuilding from the hash index gives the same tree.
  const auto svalues = (*s.recon_tree())->root_node()->svalues;
  auto n = s.rebuild_recon_tree();
  ASSERT_TRUE(n) << n.error().detail;
  EXPECT_EQ(*n, 30u);
  EXPECT_EQ((*s.recon_tree())->root_node()->svalues, svalues);
  expect_tree_of(s, set);
}

TYPED_TEST(KeyStoreConformance, ReconTreeFindsDeepNodes) {
  KeyStore& s = this->store();
  std::mt19937_64 rng(6);
  std::map<std::uint32_t, Bytes> set;
  std::vector<Write> batch;
  // 200 hashes sharing their first 10 octets: 40 levels of single internal
  // nodes on the way to them.
  for (std::uint32_t n = 0; n < 200; ++n) {
    set[n] = random_hash(rng, 10);
    batch.push_back(write_of(fpr_of(n), {.sks = set[n]}));
  }
  apply(s, batch, 1);
  expect_tree_of(s, set);
  auto view = s.recon_tree();
  ASSERT_TRUE(view);
  auto deep = (*view)->find(recon::Bitstring::of(Bytes(11, 0xA5), 80));
  ASSERT_TRUE(deep);
  EXPECT_EQ(deep->depth, 40);
  EXPECT_EQ(deep->size, 200u);
  EXPECT_FALSE(deep->leaf);
  auto off = (*view)->find(recon::Bitstring::of(Bytes(11, 0x00), 80));
  ASSERT_TRUE(off);
  EXPECT_EQ(off->size, 0u);
  EXPECT_TRUE(off->leaf);
  for (std::uint32_t n = 0; n < 160; ++n) {
    ASSERT_TRUE(s.remove(batch[n].record, Tombstone{2, "test"}));
    set.erase(n);
  }
  expect_tree_of(s, set);
}

TYPED_TEST(KeyStoreConformance, SksHashesFromVersion) {
  KeyStore& s = this->store();
  std::vector<Write> batch{
      write_of(fpr_of(2, V::V6), {.sks = hash_of(62)}), write_of(fpr_of(1), {.sks = hash_of(41)}),
      write_of(fpr_of(1, V::V6), {.sks = hash_of(61)}), write_of(fpr_of(2), {.sks = hash_of(42)})};
  apply(s, batch, 1);
  // In fingerprint order.
  EXPECT_EQ(*s.sks_hashes_from_version(0),
            (std::vector<Bytes>{hash_of(41), hash_of(42), hash_of(61), hash_of(62)}));
  EXPECT_EQ(*s.sks_hashes_from_version(4),
            (std::vector<Bytes>{hash_of(41), hash_of(42), hash_of(61), hash_of(62)}));
  EXPECT_EQ(*s.sks_hashes_from_version(5), (std::vector<Bytes>{hash_of(61), hash_of(62)}));
  EXPECT_EQ(*s.sks_hashes_from_version(6), (std::vector<Bytes>{hash_of(61), hash_of(62)}));
  EXPECT_TRUE(s.sks_hashes_from_version(7)->empty());
  ASSERT_TRUE(s.remove(batch[2].record, Tombstone{2, "x"}));
  EXPECT_EQ(*s.sks_hashes_from_version(5), std::vector<Bytes>{hash_of(62)});
}

TYPED_TEST(KeyStoreConformance, ReconAliasesArePerPeer) {
  KeyStore& s = this->store();
  const Bytes a1 = hash_of(0x30), a2 = hash_of(0x10), a3 = hash_of(0x20), b1 = hash_of(0x40);
  const Bytes ours1 = hash_of(0x91), ours2 = hash_of(0x92);
  ASSERT_TRUE(s.put_recon_alias("hp.example:11370", a1, ours1));
  ASSERT_TRUE(s.put_recon_alias("hp.example:11370", a2, ours2));
  ASSERT_TRUE(s.put_recon_alias("hp.example:11370", a3, ours1));
  ASSERT_TRUE(s.put_recon_alias("hp.example:1137", b1, ours1));   // a prefix of the other name
  ASSERT_TRUE(s.put_recon_alias("hp.example:11370", a3, {}));     // deleted
  ASSERT_TRUE(s.put_recon_alias("hp.example:11370", a1, ours2));  // replaced
  ASSERT_TRUE(s.put_recon_alias("nobody", a1, {}));               // deleting nothing
  auto entries = [&](std::string_view peer, std::size_t stop = 100) {
    std::vector<std::pair<Bytes, Bytes>> out;
    EXPECT_TRUE(s.for_each_recon_alias(peer, [&](ByteView t, ByteView o) {
      out.emplace_back(Bytes(t.begin(), t.end()), Bytes(o.begin(), o.end()));
      return out.size() < stop;
    }));
    return out;
  };
  using Pairs = std::vector<std::pair<Bytes, Bytes>>;
  EXPECT_EQ(entries("hp.example:11370"), (Pairs{{a2, ours2}, {a1, ours2}}));  // hash order
  EXPECT_EQ(entries("hp.example:11370", 1), (Pairs{{a2, ours2}}));
  EXPECT_EQ(entries("hp.example:1137"), (Pairs{{b1, ours1}}));
  EXPECT_TRUE(entries("hp.example:113").empty());
  EXPECT_TRUE(entries("other").empty());
  EXPECT_TRUE(entries("nobody").empty());
}

}  // namespace
}  // namespace keydir::storage
