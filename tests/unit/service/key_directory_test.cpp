// KeyDirectory on a MemoryKeyStore (files in a temporary folder): merge on write,
// "unchanged", index maintenance, collisions, tombstones, concurrency, and
// the import → dump → import round trip.
#include "service/key_directory.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "cert_generator.hpp"
#include "openpgp/canonical.hpp"
#include "openpgp/crypto/hash.hpp"
#include "service/check.hpp"
#include "service/dump.hpp"
#include "service/importer.hpp"
#include "service/wkd.hpp"
#include "storage/memory_key_store.hpp"
#include "temp_dir.hpp"
#include "test_data.hpp"

namespace keydir::service {
namespace {

using storage::Query;

struct Env {
  test::TempDir dir;
  std::unique_ptr<storage::MemoryKeyStore> store = std::make_unique<storage::MemoryKeyStore>();
  std::unique_ptr<KeyDirectory> directory;
  explicit Env(DirectoryOptions o = {}) {
    directory = std::make_unique<KeyDirectory>(*store, o, [] { return test::kNow; });
  }
  std::vector<Fingerprint> find(const Query& q) {
    auto r = directory->lookup(q, 100);
    EXPECT_TRUE(r);
    std::vector<Fingerprint> out;
    for (const auto& rec : *r) {
      out.push_back(rec.fingerprint);
    }
    return out;
  }
  void expect_consistent() {
    auto r = check(*directory, true);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->ok()) << (r->store.problems.empty() ? (r->problems.empty() ? "" : r->problems[0])
                                                       : r->store.problems[0]);
  }
};

openpgp::Certificate parse_one(const Bytes& input) {
  auto bin = openpgp::decode_key_input(input, 1 << 20);
  return *openpgp::parse_certificates(*bin)->front().cert;
}

Bytes bytes_of(const openpgp::Certificate& c) {
  return openpgp::serialize(c);
}

Outcome upload_one(KeyDirectory& d, ByteView input) {
  auto r = d.upload(input);
  EXPECT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->stored.size(), 1u);
  if (!r->refused.empty()) {
    ADD_FAILURE() << r->refused[0].error.detail;
  }
  return r->stored.empty() ? Outcome::Unchanged : r->stored[0].outcome;
}

TEST(KeyDirectory, NewThenUnchangedWritesNothing) {
  Env env;
  auto input = test::fixture("gpg-multi.asc");
  EXPECT_EQ(upload_one(*env.directory, input), Outcome::New);
  auto seq = env.store->stats()->last_seq;
  EXPECT_EQ(upload_one(*env.directory, input), Outcome::Unchanged);
  EXPECT_EQ(upload_one(*env.directory, test::fixture("gpg-multi.asc")), Outcome::Unchanged);
  EXPECT_EQ(env.store->stats()->last_seq, seq);
  env.expect_consistent();
}

TEST(KeyDirectory, LookupsByEveryHandle) {
  Env env;
  upload_one(*env.directory, test::fixture("gpg-multi.asc"));
  auto full = openpgp::verify(parse_one(test::fixture("gpg-multi.asc")), {}, test::kNow);
  const auto& c = full.cert->cert();
  std::vector<Fingerprint> want{c.primary.fingerprint};
  EXPECT_EQ(env.find({Query::ByFingerprint{c.primary.fingerprint}}), want);
  for (const auto& s : c.subkeys) {
    EXPECT_EQ(env.find({Query::ByFingerprint{s.key.fingerprint}}), want);
    EXPECT_EQ(env.find({Query::ByKeyId{s.key.key_id}}), want);
  }
  EXPECT_EQ(env.find({Query::ByEmail{"multi@keydir.test"}}), want);
  EXPECT_EQ(env.find({Query::ByEmail{"second@keydir.test"}}), want);
  // The revoked user ID is served with the key but not found by.
  EXPECT_TRUE(env.find({Query::ByEmail{"gone@keydir.test"}}).empty());
  auto email = openpgp::Email::parse("Second@KEYDIR.test");
  EXPECT_EQ(env.find({Query::ByWkd{openpgp::WkdHash::of(*email)}}), want);
  EXPECT_EQ(env.find({Query::ByWords{{"keydir", "multi", "second"}}}), want);
  EXPECT_EQ(env.find({Query::BySksHash{openpgp::sks_digest(c)}}), want);
}

TEST(KeyDirectory, MergeOnWriteGivesTheWhole) {
  Env env;
  auto full = parse_one(test::fixture("gpg-multi.asc"));
  auto uid_only = full;
  uid_only.subkeys.clear();
  uid_only.user_ids.resize(1);
  auto subkeys_only = full;
  subkeys_only.user_ids.erase(subkeys_only.user_ids.begin());
  EXPECT_EQ(upload_one(*env.directory, bytes_of(uid_only)), Outcome::New);
  EXPECT_EQ(upload_one(*env.directory, bytes_of(subkeys_only)), Outcome::Updated);
  EXPECT_EQ(upload_one(*env.directory, bytes_of(full)), Outcome::Unchanged);
  auto stored = env.store->get(full.primary.fingerprint);
  auto want = openpgp::verify(full, {}, test::kNow);
  EXPECT_EQ((*stored)->cert, want.cert->to_bytes());
  env.expect_consistent();
}

TEST(KeyDirectory, RevokingAUserIdRemovesItsAddressFromTheIndexes) {
  Env env;
  auto full = parse_one(test::fixture("gpg-multi.asc"));
  auto unrevoked = full;
  for (auto& u : unrevoked.user_ids) {
    std::erase_if(u.signatures, [](const openpgp::Signature& s) {
      return s.type == openpgp::SignatureType::CertificationRevocation;
    });
  }
  upload_one(*env.directory, bytes_of(unrevoked));
  EXPECT_EQ(env.find({Query::ByEmail{"gone@keydir.test"}}).size(), 1u);
  EXPECT_EQ(upload_one(*env.directory, bytes_of(full)), Outcome::Updated);
  EXPECT_TRUE(env.find({Query::ByEmail{"gone@keydir.test"}}).empty());
  EXPECT_TRUE(env.find({Query::ByWords{{"gone"}}}).empty());
  env.expect_consistent();
}

TEST(KeyDirectory, ConcurrentUploadsOfOneCertificateLoseNothing) {
  Env env;
  auto full = parse_one(test::fixture("gpg-multi.asc"));
  // Parts that each verify on their own: one user ID, some subkeys.
  std::vector<Bytes> parts;
  for (std::size_t u = 0; u < full.user_ids.size(); ++u) {
    for (std::size_t s = 0; s <= full.subkeys.size(); ++s) {
      auto p = full;
      p.user_ids = {full.user_ids[u]};
      p.subkeys.clear();
      if (s < full.subkeys.size()) {
        p.subkeys.push_back(full.subkeys[s]);
      }
      parts.push_back(bytes_of(p));
    }
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      for (int i = 0; i < 15; ++i) {
        auto r = env.directory->upload(parts[rng() % parts.size()]);
        ASSERT_TRUE(r);
        ASSERT_TRUE(r->refused.empty()) << r->refused[0].error.detail;
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  // Whatever the interleaving, every part that was uploaded is in the result;
  // upload all parts once more, then the stored certificate is the whole.
  for (const auto& p : parts) {
    ASSERT_TRUE(env.directory->upload(p));
  }
  auto stored = env.store->get(full.primary.fingerprint);
  EXPECT_EQ((*stored)->cert, openpgp::verify(full, {}, test::kNow).cert->to_bytes());
  env.expect_consistent();
}

TEST(KeyDirectory, ConcurrentDisjointPartsAllArrive) {
  // Each thread uploads one distinct part exactly once, at the same time: if
  // an update were lost, a user ID or subkey would be missing at the end.
  for (int round = 0; round < 10; ++round) {
    Env env;
    auto full = parse_one(test::fixture("gpg-multi.asc"));
    std::vector<Bytes> parts;
    for (std::size_t u = 0; u < full.user_ids.size(); ++u) {
      auto p = full;
      p.user_ids = {full.user_ids[u]};
      p.subkeys.clear();
      if (u < full.subkeys.size()) {
        p.subkeys.push_back(full.subkeys[u]);
      }
      parts.push_back(bytes_of(p));
    }
    std::vector<std::thread> threads;
    for (const auto& p : parts) {
      threads.emplace_back([&env, &p] { ASSERT_TRUE(env.directory->upload(p)); });
    }
    for (auto& t : threads) {
      t.join();
    }
    auto stored = env.store->get(full.primary.fingerprint);
    ASSERT_EQ((*stored)->cert, openpgp::verify(full, {}, test::kNow).cert->to_bytes())
        << "round " << round;
  }
}

// The claims on one key (storage::Query): the primary owner first, then
// subkeys that proved possession, then a lone subkey bound without proof.
struct Claims {
  test::CertGenerator gen{7};
  std::array<std::uint8_t, 32> victim_seed = gen.random_seed();
  std::array<std::uint8_t, 32> signing_seed = gen.random_seed();
  static constexpr std::uint32_t kVictimTime = 1700000000;
  Bytes victim = make_victim();
  Fingerprint victim_fpr = parse_one(victim).primary.fingerprint;
  Fingerprint victim_signing = parse_one(victim).subkeys.back().key.fingerprint;

  Bytes make_victim() {
    test::CertSpec v;
    v.user_ids = {"Victim <victim@example.org>"};
    v.primary_seed = victim_seed;
    v.signing_subkey_seed = signing_seed;
    v.created = kVictimTime;
    return gen.make(v);
  }
  // The attacker's certificate: `seed`'s key (made at the victim's time)
  // bound as a subkey with `flags`, without any proof of possession.
  Bytes squat(const std::array<std::uint8_t, 32>& seed, std::uint8_t flags = 0x20,
              std::string uid = "Mallory <mallory@evil.example>", bool encryption = false) {
    test::CertSpec a;
    a.user_ids = {std::move(uid)};
    a.created = kVictimTime + 100;
    a.bound_subkeys.push_back({seed, kVictimTime, flags, encryption});
    return gen.make(a);
  }
};

std::vector<Fingerprint> by_every_id(Env& env, const Fingerprint& f) {
  auto a = env.find(Query{Query::ByFingerprint{f}});
  auto b = env.find(Query{Query::ByKeyId{f.key_id()}});
  auto c = env.find(Query{Query::ByShortKeyId{f.key_id().short_id()}});
  EXPECT_EQ(a, b) << "by fingerprint and by key ID differ";
  EXPECT_EQ(a, c) << "by fingerprint and by short key ID differ";
  return a;
}

TEST(KeyDirectory, APrimaryKeyBoundAsAnotherCertificatesSubkeyNeverTakesItsFingerprint) {
  Claims k;
  Bytes attacker = k.squat(k.victim_seed);
  const Fingerprint attacker_fpr = parse_one(attacker).primary.fingerprint;
  ASSERT_EQ(parse_one(attacker).subkeys.back().key.fingerprint, k.victim_fpr);
  for (bool attacker_first : {true, false}) {
    SCOPED_TRACE(attacker_first ? "attacker uploads first" : "victim uploads first");
    Env env;
    if (attacker_first) {
      EXPECT_EQ(upload_one(*env.directory, attacker), Outcome::New);
      // The victim's key is not here yet: a key that could be somebody's
      // primary key, bound without proof, is nobody's.
      EXPECT_TRUE(by_every_id(env, k.victim_fpr).empty());
    }
    // Neither upload blocks the other.
    EXPECT_EQ(upload_one(*env.directory, k.victim), Outcome::New);
    if (!attacker_first) {
      EXPECT_EQ(upload_one(*env.directory, attacker), Outcome::New);
    }
    EXPECT_EQ(by_every_id(env, k.victim_fpr), std::vector<Fingerprint>{k.victim_fpr});
    EXPECT_EQ(by_every_id(env, attacker_fpr), std::vector<Fingerprint>{attacker_fpr});
    env.expect_consistent();
    // Deleted, the victim's key is not found through the attacker's claim.
    ASSERT_TRUE(env.directory->remove(k.victim_fpr, "owner's request"));
    EXPECT_TRUE(by_every_id(env, k.victim_fpr).empty());
    env.expect_consistent();
  }
}

TEST(KeyDirectory, ADeletedKeyIsNotRevivedAsAnotherCertificatesSubkey) {
  Claims k;
  Env env;
  EXPECT_EQ(upload_one(*env.directory, k.victim), Outcome::New);
  ASSERT_TRUE(env.directory->remove(k.victim_fpr, "owner's request"));
  EXPECT_EQ(upload_one(*env.directory, k.squat(k.victim_seed)), Outcome::New);
  EXPECT_TRUE(by_every_id(env, k.victim_fpr).empty());
  env.expect_consistent();
}

TEST(KeyDirectory, ASigningSubkeyWithItsBackSignatureOutranksAClaimWithout) {
  Claims k;
  Bytes attacker = k.squat(k.signing_seed);
  for (bool attacker_first : {true, false}) {
    Env env;
    if (attacker_first) {
      EXPECT_EQ(upload_one(*env.directory, attacker), Outcome::New);
    }
    EXPECT_EQ(upload_one(*env.directory, k.victim), Outcome::New);
    if (!attacker_first) {
      EXPECT_EQ(upload_one(*env.directory, attacker), Outcome::New);
    }
    EXPECT_EQ(by_every_id(env, k.victim_signing), std::vector<Fingerprint>{k.victim_fpr});
    env.expect_consistent();
  }
}

TEST(KeyDirectory, AnEncryptionSubkeyIsFoundUnlessSeveralCertificatesClaimIt) {
  Claims k;
  Env env;
  auto seed = k.gen.random_seed();  // an X25519 key: never a primary key
  Bytes one = k.squat(seed, 0x0C, "One <one@example.org>", true);
  Fingerprint shared = parse_one(one).subkeys.back().key.fingerprint;
  EXPECT_EQ(upload_one(*env.directory, one), Outcome::New);
  EXPECT_EQ(by_every_id(env, shared), std::vector<Fingerprint>{parse_one(one).primary.fingerprint});
  EXPECT_EQ(upload_one(*env.directory, k.squat(seed, 0x0C, "Two <two@example.org>", true)),
            Outcome::New);
  EXPECT_TRUE(by_every_id(env, shared).empty());
  env.expect_consistent();
}

TEST(KeyDirectory, AShortKeyIdCollidingWithASigningSubkeyHidesNeither) {
  // A primary key whose short key ID equals another certificate's signing
  // subkey's (2^32 work): a lookup by short key ID names both.
  Claims k;
  Env env;
  EXPECT_EQ(upload_one(*env.directory, k.victim), Outcome::New);
  test::CertSpec same;  // the signing subkey's own key as a primary: same short ID
  same.user_ids = {"Other <other@example.org>"};
  same.primary_seed = k.signing_seed;
  same.created = Claims::kVictimTime;
  Bytes other = k.gen.make(same);
  EXPECT_EQ(upload_one(*env.directory, other), Outcome::New);
  auto found = env.find(Query{Query::ByShortKeyId{k.victim_signing.key_id().short_id()}});
  EXPECT_EQ(found.size(), 2u);
  env.expect_consistent();
}

TEST(KeyDirectory, ASigningClaimWithoutBackSignatureIsStripped) {
  Claims k;
  Env env;
  EXPECT_EQ(upload_one(*env.directory, k.victim), Outcome::New);
  auto r = env.directory->upload(k.squat(k.victim_seed, 0x02));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->stored.size(), 1u);
  EXPECT_FALSE(r->stored[0].stripped.empty());
  EXPECT_EQ(by_every_id(env, k.victim_fpr), std::vector<Fingerprint>{k.victim_fpr});
  env.expect_consistent();
}

TEST(KeyDirectory, ReindexTakesAwayClaimsAnOlderStoreGaveEverySubkey) {
  Claims k;
  Env env;
  // The squat as a store written before the claim rule kept it: every subkey
  // listed as the certificate's own.
  Bytes attacker = k.squat(k.victim_seed);
  auto vc = openpgp::verify(parse_one(attacker), {}, test::kNow);
  ASSERT_TRUE(vc.accepted());
  storage::Write w;
  w.record.fingerprint = vc.cert->fingerprint();
  w.record.cert = vc.cert->to_bytes();
  w.record.digest = *openpgp::crypto::digest(openpgp::HashAlgorithm::Sha256, w.record.cert);
  w.record.index = KeyDirectory::index_of(*vc.cert);
  for (const auto& s : vc.cert->cert().subkeys) {
    w.record.index.fingerprints.push_back(s.key.fingerprint);
    w.record.index.key_ids.push_back(s.key.key_id);
  }
  std::vector<storage::Write> writes{w};
  ASSERT_TRUE(env.store->apply(writes, test::kNow));
  EXPECT_EQ(by_every_id(env, k.victim_fpr), std::vector<Fingerprint>{vc.cert->fingerprint()});
  auto n = env.directory->reindex_claims();
  ASSERT_TRUE(n) << n.error().detail;
  EXPECT_EQ(*n, 1u);
  EXPECT_TRUE(by_every_id(env, k.victim_fpr).empty());
  EXPECT_EQ(*env.directory->reindex_claims(), 0u);  // once is enough
  env.expect_consistent();
}

TEST(KeyDirectory, TheSameHolderMayUseOneKeyAsPrimaryAndAsSigningSubkey) {
  test::CertGenerator gen(7);
  auto seed = gen.random_seed();
  test::CertSpec a;
  a.user_ids = {"A <a@example.org>"};
  a.primary_seed = seed;
  test::CertSpec b;
  b.user_ids = {"B <b@example.org>"};
  b.signing_subkey_seed = seed;  // with its back-signature: same holder
  Bytes cert_a = gen.make(a);
  Bytes cert_b = gen.make(b);
  const Fingerprint fa = parse_one(cert_a).primary.fingerprint;
  const Fingerprint fb = parse_one(cert_b).primary.fingerprint;
  Env env;
  EXPECT_EQ(upload_one(*env.directory, cert_b), Outcome::New);
  EXPECT_EQ(upload_one(*env.directory, cert_a), Outcome::New);
  EXPECT_EQ(env.find(Query{Query::ByFingerprint{fa}}), std::vector<Fingerprint>{fa});
  EXPECT_EQ(env.find(Query{Query::ByKeyId{fa.key_id()}}), std::vector<Fingerprint>{fa});
  // A short key ID names every certificate that holds the key with proof.
  EXPECT_EQ(env.find(Query{Query::ByShortKeyId{fa.key_id().short_id()}}).size(), 2u);
  ASSERT_TRUE(env.directory->remove(fa, "test"));
  EXPECT_EQ(by_every_id(env, fa), std::vector<Fingerprint>{fb});
  env.expect_consistent();
}

// Revocations must reach whoever holds the key: a user ID or subkey whose
// only self-signature is its revocation (gpg --export-options export-minimal)
// is kept, served as revoked, never found by its address.
struct RevokedUid {
  static constexpr const char* kOld = "Rita Old <rita.old@example.org>";
  static test::CertSpec base() {
    test::CertSpec s;
    s.user_ids = {"Rita <rita@example.org>"};
    s.primary_seed = std::array<std::uint8_t, 32>{1, 2, 3};
    return s;
  }
  static Bytes original() {
    auto s = base();
    s.user_ids.push_back(kOld);
    return test::CertGenerator(5).make(s);
  }
  static Bytes revoked(bool certified) {
    auto s = base();
    s.revoked_user_ids.push_back({kOld, certified});
    return test::CertGenerator(5).make(s);
  }
};

const openpgp::UserIdState* state_of(const openpgp::CertificateStates& vc, std::string_view uid) {
  for (std::size_t i = 0; i < vc.cert().user_ids.size(); ++i) {
    if (as_chars(vc.cert().user_ids[i].body) == uid) {
      return &vc.user_id_states()[i];
    }
  }
  return nullptr;
}

TEST(KeyDirectory, AUserIdWithOnlyItsRevocationIsKeptAsRevoked) {
  for (bool stored_first : {true, false}) {
    SCOPED_TRACE(stored_first ? "the unrevoked user ID was stored first" : "fresh store");
    Env env;
    const Fingerprint fpr = parse_one(RevokedUid::original()).primary.fingerprint;
    const Query by_old{Query::ByEmail{"rita.old@example.org"}};
    if (stored_first) {
      EXPECT_EQ(upload_one(*env.directory, RevokedUid::original()), Outcome::New);
      EXPECT_EQ(env.find(by_old), std::vector<Fingerprint>{fpr});
    }
    auto r = env.directory->upload(RevokedUid::revoked(false));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->stored.size(), 1u);
    EXPECT_EQ(r->stored[0].outcome, stored_first ? Outcome::Updated : Outcome::New);
    auto vc = env.directory->stored_summary(fpr);
    ASSERT_TRUE(vc);
    const auto* st = state_of(*vc, RevokedUid::kOld);
    ASSERT_NE(st, nullptr) << "the revoked user ID was dropped";
    EXPECT_TRUE(st->revocation.has_value());
    EXPECT_TRUE(env.find(by_old).empty());
    EXPECT_EQ(env.find(Query{Query::ByEmail{"rita@example.org"}}), std::vector<Fingerprint>{fpr});
    // A later upload of the old, unrevoked copy does not undo it.
    EXPECT_EQ(upload_one(*env.directory, RevokedUid::original()),
              stored_first ? Outcome::Unchanged : Outcome::Updated);
    vc = env.directory->stored_summary(fpr);
    ASSERT_TRUE(vc);
    ASSERT_NE(state_of(*vc, RevokedUid::kOld), nullptr);
    EXPECT_TRUE(state_of(*vc, RevokedUid::kOld)->revocation.has_value());
    EXPECT_TRUE(env.find(by_old).empty());
    env.expect_consistent();
  }
}

TEST(KeyDirectory, ASubkeyWithOnlyItsRevocationIsKeptAsRevoked) {
  auto spec = RevokedUid::base();
  Bytes bound = test::CertGenerator(5).make(spec);
  spec.encryption_subkey_revoked = test::CertSpec::RevokedSubkey{false};
  Bytes revocation_only = test::CertGenerator(5).make(spec);
  Env env;
  EXPECT_EQ(upload_one(*env.directory, bound), Outcome::New);
  EXPECT_EQ(upload_one(*env.directory, revocation_only), Outcome::Updated);
  auto vc = env.directory->stored_summary(parse_one(bound).primary.fingerprint);
  ASSERT_TRUE(vc);
  ASSERT_EQ(vc->subkey_states().size(), 1u);
  EXPECT_TRUE(vc->subkey_states()[0].revocation.has_value());
  Env fresh;
  EXPECT_EQ(upload_one(*fresh.directory, revocation_only), Outcome::New);
  vc = fresh.directory->stored_summary(parse_one(bound).primary.fingerprint);
  ASSERT_TRUE(vc);
  ASSERT_EQ(vc->subkey_states().size(), 1u);
  EXPECT_TRUE(vc->subkey_states()[0].revocation.has_value());
  fresh.expect_consistent();
}

TEST(KeyDirectory, V6CertificatesAreStoredAndFound) {
  Env env;
  test::CertGenerator gen(3);
  test::CertSpec spec;
  spec.version = 6;
  spec.user_ids = {"Vee Six <v6@example.org>"};
  Bytes cert = gen.make(spec);
  EXPECT_EQ(upload_one(*env.directory, cert), Outcome::New);
  auto parsed = parse_one(cert);
  ASSERT_EQ(parsed.primary.fingerprint.version(), Fingerprint::Version::V6);
  std::vector<Fingerprint> want{parsed.primary.fingerprint};
  EXPECT_EQ(env.find({Query::ByFingerprint{parsed.primary.fingerprint}}), want);
  EXPECT_EQ(env.find({Query::ByKeyId{parsed.primary.key_id}}), want);
  EXPECT_EQ(env.find({Query::ByFingerprint{parsed.subkeys.at(0).key.fingerprint}}), want);
  EXPECT_EQ(env.find({Query::ByEmail{"v6@example.org"}}), want);
  env.expect_consistent();
}

TEST(KeyDirectory, DeletedKeysStayDeletedUnlessAllowed) {
  Env env;
  auto input = test::fixture("gpg-ed25519.asc");
  upload_one(*env.directory, input);
  auto fpr = parse_one(input).primary.fingerprint;
  ASSERT_TRUE(env.directory->remove(fpr, "owner request"));
  EXPECT_TRUE(env.find({Query::ByFingerprint{fpr}}).empty());
  auto again = env.directory->upload(input);
  ASSERT_TRUE(again);
  ASSERT_EQ(again->refused.size(), 1u);
  EXPECT_EQ(again->refused[0].error.code, ErrorCode::Tombstoned);
  EXPECT_EQ(env.directory->remove(fpr, "x").error().code, ErrorCode::NotFound);
  ASSERT_TRUE(env.store->clear_tombstone(fpr));
  EXPECT_EQ(upload_one(*env.directory, input), Outcome::New);
  env.expect_consistent();
}

TEST(KeyDirectory, InputErrorsAreErrors) {
  Env env;
  auto r = env.directory->upload(test::fixture("gpg-secret-key.asc"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::SecretKeyRefused);
  auto t = env.directory->upload(test::fixture("tampered-sig.pgp"));
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->stored.empty());
  EXPECT_EQ(t->refused.at(0).error.code, ErrorCode::NoValidComponents);
  EXPECT_EQ(env.store->stats()->certificates, 0u);
}

std::vector<std::string> all_fixture_files() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(test::data_dir())) {
    auto ext = e.path().extension();
    if (ext == ".asc" || ext == ".pgp") {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Import, CountsEveryOutcomeAndIsIdempotent) {
  Env env;
  ImportOptions o;
  o.threads = 2;
  o.batch = 4;
  auto files = all_fixture_files();
  files.push_back(env.dir.str("does-not-exist.pgp"));
  {
    std::ofstream garbage(env.dir.str("garbage.bin"), std::ios::binary);
    garbage << "\x01\x02\x03 not a key";
  }
  files.push_back(env.dir.str("garbage.bin"));
  auto first = import_files(*env.directory, files, o);
  EXPECT_EQ(first.file_errors.size(), 2u);  // the missing file and the garbage
  EXPECT_GT(first.created, 15u);
  EXPECT_EQ(first.refusals["secret_key_refused"].count, 1u);
  EXPECT_EQ(first.refusals["no_valid_components"].count, 3u);  // the tampered copies
  EXPECT_EQ(first.read, first.created + first.updated + first.unchanged + first.refused);
  auto second = import_files(*env.directory, all_fixture_files(), o);
  EXPECT_EQ(second.created, 0u);
  EXPECT_EQ(second.updated, 0u);
  EXPECT_EQ(second.unchanged + second.refused, second.read);
  env.expect_consistent();
}

TEST(Import, GeneratedDumpRoundTripsThroughDump) {
  Env env;
  test::CertGenerator gen(11);
  std::string input = env.dir.str("gen.pgp");
  {
    std::ofstream f(input, std::ios::binary);
    for (int i = 0; i < 300; ++i) {
      auto c = gen.next(i % 10 == 9 ? 6 : 4);
      f.write(reinterpret_cast<const char*>(c.data()), static_cast<std::streamsize>(c.size()));
    }
  }
  ImportOptions o;
  o.batch = 64;
  auto imported = import_files(*env.directory, {input}, o);
  ASSERT_EQ(imported.created, 300u);
  DumpOptions d;
  d.per_file = 100;
  auto dumped = dump(*env.store, env.dir.str("dump"), d);
  ASSERT_TRUE(dumped) << dumped.error().detail;
  EXPECT_EQ(dumped->certificates, 300u);
  EXPECT_EQ(dumped->files, 3u);

  Env other;
  std::vector<std::string> dump_files;
  for (const auto& e : std::filesystem::directory_iterator(env.dir.path() / "dump")) {
    if (e.path().extension() == ".pgp") {
      dump_files.push_back(e.path().string());
    }
  }
  auto again = import_files(*other.directory, dump_files, o);
  EXPECT_EQ(again.created, 300u);
  EXPECT_EQ(again.refused, 0u);
  // Identical certificates, record by record.
  std::vector<std::pair<Fingerprint, Bytes>> a;
  std::vector<std::pair<Fingerprint, Bytes>> b;
  ASSERT_TRUE(env.store->for_each([&](const storage::CertRecord& r) {
    a.emplace_back(r.fingerprint, r.cert);
    return true;
  }));
  ASSERT_TRUE(other.store->for_each([&](const storage::CertRecord& r) {
    b.emplace_back(r.fingerprint, r.cert);
    return true;
  }));
  EXPECT_EQ(a, b);
  other.expect_consistent();

  // Incremental: only what changed after the first dump.
  auto extra = gen.next();
  auto up = env.directory->upload(extra);
  ASSERT_TRUE(up && up->stored.size() == 1);
  d.since = dumped->last_seq;
  auto inc = dump(*env.store, env.dir.str("dump-inc"), d);
  ASSERT_TRUE(inc);
  EXPECT_EQ(inc->certificates, 1u);
}

TEST(Import, ArmoredKeyringsAndBinaryDumpsBothStream) {
  Env env;
  // An armored file with several blocks, and text around them.
  std::string armored = "keys below\n";
  for (const char* n : {"gpg-rsa2048.asc", "gpg-nistp256.asc", "sq-cv25519.asc"}) {
    armored += std::string(as_chars(test::fixture(n))) + "\n-- \n";
  }
  {
    std::ofstream f(env.dir.str("ring.asc"));
    f << armored;
  }
  auto r = import_files(*env.directory, {env.dir.str("ring.asc")}, {});
  EXPECT_EQ(r.created, 3u);
  EXPECT_TRUE(r.file_errors.empty());
}

}  // namespace
}  // namespace keydir::service

namespace keydir::service {
namespace {

TEST(KeyDirectory, BareRevocationCertificateRevokesTheStoredKey) {
  Env env;
  auto full = parse_one(test::fixture("gpg-revoked.asc"));
  auto unrevoked = full;
  std::erase_if(unrevoked.direct_signatures, [](const openpgp::Signature& s) {
    return s.type == openpgp::SignatureType::KeyRevocation;
  });
  EXPECT_EQ(upload_one(*env.directory, bytes_of(unrevoked)), Outcome::New);
  auto before =
      openpgp::verify(parse_one((*env.store->get(full.primary.fingerprint))->cert), {}, test::kNow);
  EXPECT_FALSE(before.cert->revoked());
  // gpg's revocation certificate: one signature packet, no key.
  EXPECT_EQ(upload_one(*env.directory, test::fixture("gpg-revocation-only.asc")), Outcome::Updated);
  auto after =
      openpgp::verify(parse_one((*env.store->get(full.primary.fingerprint))->cert), {}, test::kNow);
  EXPECT_TRUE(after.cert->revoked());
  EXPECT_EQ(upload_one(*env.directory, test::fixture("gpg-revocation-only.asc")),
            Outcome::Unchanged);
  env.expect_consistent();
}

TEST(KeyDirectory, BareRevocationOfAnUnknownKeyIsRefused) {
  Env env;
  auto r = env.directory->upload(test::fixture("gpg-revocation-only.asc"));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->stored.empty());
  ASSERT_EQ(r->refused.size(), 1u);
  EXPECT_EQ(r->refused[0].error.code, ErrorCode::NotFound);
}

// keydird wkd-export: both layouts, one file per current address of the
// domain, each holding only that address's user IDs (names from
// gpg-wks-client --print-wkd-hash).
TEST(WkdExport, WritesBothLayoutsWithFilteredCertificates) {
  Env env;
  ASSERT_EQ(upload_one(*env.directory, test::fixture("gpg-multi.asc")), Outcome::New);
  ASSERT_EQ(upload_one(*env.directory, test::fixture("gpg-rsa2048.asc")), Outcome::New);
  test::CertGenerator gen(3);
  test::CertSpec other;
  other.user_ids = {"Someone <someone@example.org>"};
  ASSERT_EQ(upload_one(*env.directory, gen.make(other)), Outcome::New);

  const std::string out = env.dir.str("wkd");
  auto r = wkd_export(*env.directory, "KeyDir.Test", out, "");
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->addresses, 3u);  // multi, second, rsa2048 (gone@ is revoked)
  const std::string adv = out + "/.well-known/openpgpkey/keydir.test/";
  const std::string direct = out + "/.well-known/openpgpkey/";
  for (const std::string& base : {adv, direct}) {
    EXPECT_TRUE(std::filesystem::exists(base + "policy")) << base;
    auto multi = test::read_file(base + "hu/9ee39dq1zictybt7ncyswqsi1npqzhsa");
    auto certs = openpgp::parse_certificates(multi);
    ASSERT_TRUE(certs && certs->size() == 1) << base;
    ASSERT_EQ(certs->front().cert->user_ids.size(), 1u);
    EXPECT_EQ(std::string(as_chars(certs->front().cert->user_ids[0].body)),
              "keydir test multi <multi@keydir.test>");
    EXPECT_EQ(certs->front().cert->subkeys.size(), 2u);
    EXPECT_TRUE(std::filesystem::exists(base + "hu/gwzzokpn8bfoy8gbfcgncr68k3nww85k"));   // second@
    EXPECT_FALSE(std::filesystem::exists(base + "hu/w5x77kt4e11ckmkrfbrrxiasbnjmeym6"));  // gone@
  }
  EXPECT_FALSE(std::filesystem::exists(out + "/.well-known/openpgpkey/example.org"));
  // The same answer as the server's.
  auto hash = openpgp::WkdHash::from_parts("keydir.test", "9ee39dq1zictybt7ncyswqsi1npqzhsa");
  auto served = wkd_lookup(*env.directory, *hash, 10);
  ASSERT_TRUE(served);
  EXPECT_EQ(*served, test::read_file(adv + "hu/9ee39dq1zictybt7ncyswqsi1npqzhsa"));

  auto again = wkd_export(*env.directory, "keydir.test", out, "");
  ASSERT_FALSE(again);  // not an empty folder: nothing overwritten
  auto bad = wkd_export(*env.directory, "not a domain", env.dir.str("wkd2"), "");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::BadQuery);
}

// check --deep re-verifies on several workers: damage made behind the
// service's back (bytes that do not parse, a wrong digest, an index the
// certificate does not imply) is found whatever the number of workers, and
// reported the same way (sorted by fingerprint).
TEST(KeyDirectory, DeepCheckFindsDamageOnAnyNumberOfWorkers) {
  Env env;
  test::CertGenerator gen(11);
  std::vector<Fingerprint> fprs;
  for (int i = 0; i < 300; ++i) {
    test::CertSpec spec;
    spec.user_ids = {"User " + std::to_string(i) + " <u" + std::to_string(i) + "@example.org>"};
    Bytes cert = gen.make(spec);
    ASSERT_EQ(upload_one(*env.directory, cert), Outcome::New);
    fprs.push_back(parse_one(cert).primary.fingerprint);
  }
  for (unsigned threads : {1u, 2u, 5u}) {
    auto r = check(*env.directory, true, threads);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->ok()) << threads << " workers";
    EXPECT_EQ(r->verified, 300u);
  }
  auto damage = [&](const Fingerprint& f, const std::function<void(storage::CertRecord&)>& how) {
    auto rec = env.store->get(f);
    ASSERT_TRUE(rec && *rec);
    storage::Write w;
    w.record = **rec;
    w.previous = w.record.index;
    how(w.record);
    std::vector<storage::Write> writes{std::move(w)};
    ASSERT_TRUE(env.store->apply(writes, test::kNow));
  };
  damage(fprs[17], [](storage::CertRecord& r) { r.cert = Bytes{0x99, 0x01, 0x02}; });
  damage(fprs[150], [](storage::CertRecord& r) { r.digest[0] ^= 1; });
  damage(fprs[299], [](storage::CertRecord& r) {
    r.index.emails.clear();  // found by its address no more
    r.index.wkd.clear();
  });
  std::vector<std::string> first;
  for (unsigned threads : {1u, 2u, 5u}) {
    auto r = check(*env.directory, true, threads);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->store.problem_count, 0u) << r->store.problems[0];
    EXPECT_EQ(r->verified, 300u);
    ASSERT_EQ(r->problem_count, 3u) << threads << " workers";
    ASSERT_EQ(r->problems.size(), 3u);
    EXPECT_TRUE(std::is_sorted(r->problems.begin(), r->problems.end()));
    auto has = [&](const Fingerprint& f, std::string_view what) {
      return std::any_of(r->problems.begin(), r->problems.end(), [&](const std::string& p) {
        return p.rfind(f.to_hex(), 0) == 0 && p.find(what) != std::string::npos;
      });
    };
    EXPECT_TRUE(has(fprs[17], "do not parse"));
    EXPECT_TRUE(has(fprs[150], "digest does not match"));
    EXPECT_TRUE(has(fprs[299], "index differs"));
    if (first.empty()) {
      first = r->problems;
    }
    EXPECT_EQ(r->problems, first) << threads << " workers";
  }
  // More problems than the report lists: all are counted, and the listed
  // ones are the same (the first by fingerprint) on any number of workers.
  for (int i = 200; i < 299; ++i) {
    damage(fprs[i], [](storage::CertRecord& r) { r.digest[1] ^= 1; });
  }
  first.clear();
  for (unsigned threads : {1u, 2u, 5u}) {
    auto r = check(*env.directory, true, threads);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->problem_count, 102u) << threads << " workers";
    ASSERT_EQ(r->problems.size(), 100u);
    EXPECT_TRUE(std::is_sorted(r->problems.begin(), r->problems.end()));
    if (first.empty()) {
      first = r->problems;
    }
    EXPECT_EQ(r->problems, first) << threads << " workers";
  }
}

}  // namespace
}  // namespace keydir::service
