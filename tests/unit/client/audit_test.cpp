// The client side of the transparency log (src/client/audit.hpp): the state
// folder (pins, checkpoints, the monitor's tree edge, 0700/0600, damaged or
// foreign files refused), and every proof check against a log built here
// with src/tlog: checkpoints, consistency (rollback, fork, tampered proof:
// exit 8), inclusion of served certificates (another key's entry, other
// octets, a flipped proof hash, a missing commitment: exit 4), and the
// bounded parsers of the wire formats.
#include "client/audit.hpp"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>

#include "openpgp/armor.hpp"
#include "openpgp/certificate.hpp"
#include "openpgp/crypto/primitives.hpp"
#include "temp_dir.hpp"
#include "test_data.hpp"
#include "tlog/entry.hpp"
#include "tlog/merkle.hpp"
#include "tlog/note.hpp"

namespace keydir::client {
namespace {

using tlog::Hash;

// A log kept in memory, signed with a fixed key.
struct MemLog {
  tlog::NoteSigner signer{"test.keydir/log", Bytes(32, 5)};
  tlog::NoteVerifier verifier = *tlog::NoteVerifier::of(signer);
  std::map<std::pair<int, std::uint64_t>, Hash> stored;
  std::vector<Bytes> entries;
  tlog::Frontier edge;
  tlog::CommitmentScheme scheme{tlog::CommitmentScheme::Kind::HmacSha256, 0, 0, 0, Bytes(32, 9)};

  MemLog()
      : MemLog(tlog::CommitmentScheme{tlog::CommitmentScheme::Kind::HmacSha256, 0, 0, 0,
                                      Bytes(32, 9)}) {}
  explicit MemLog(tlog::CommitmentScheme s) : scheme(std::move(s)) {
    tlog::Entry h;
    h.kind = tlog::Entry::Kind::Header;
    h.time = 1700000000;
    h.scheme = scheme;
    append(h.encode());
  }
  void append(const Bytes& entry) {
    entries.push_back(entry);
    std::vector<std::pair<tlog::NodeId, Hash>> out;
    edge.append(tlog::leaf_hash(entry), out);
    for (auto& [id, h] : out) {
      stored[{id.level, id.index}] = h;
    }
  }
  tlog::HashReader reader() const {
    return [this](tlog::NodeId id) -> Result<Hash> {
      auto it = stored.find({id.level, id.index});
      if (it == stored.end()) {
        return fail(ErrorCode::NotFound, "no such hash");
      }
      return it->second;
    };
  }
  tlog::Entry cert_entry(const ServedCert& c, const std::vector<std::string>& addresses) const {
    tlog::Entry e;
    e.seq = entries.size();
    e.time = 1700000000 + entries.size();
    e.key_version = static_cast<std::uint8_t>(c.fingerprint.version());
    e.fingerprint = scheme.entry_fingerprint(e.key_version, c.fingerprint.bytes());
    e.digest = openpgp::crypto::sha256(c.bytes);
    for (const auto& a : addresses) {
      e.commitments.push_back(*scheme.commit(a));
    }
    std::sort(e.commitments.begin(), e.commitments.end());
    return e;
  }
  [[nodiscard]] tlog::Checkpoint checkpoint(std::uint64_t size) const {
    return {signer.name, size, *tlog::tree_root(size, reader())};
  }
  [[nodiscard]] std::string note(std::uint64_t size) const {
    return *tlog::sign_note(checkpoint(size).body(), signer);
  }
  [[nodiscard]] InclusionItem item(std::uint64_t index, std::uint64_t size) const {
    return {index, entries[index], *tlog::inclusion_proof(index, size, reader())};
  }
};

std::string armored(const std::string& fixture) {
  auto b = test::fixture(fixture);
  return std::string(as_chars(b));
}

TEST(LogAudit, SplitsTheAnswerIntoEachCertificatesOwnOctets) {
  const std::string a = armored("gpg-ed25519.asc");
  const std::string b = armored("gpg-multi.asc");
  auto one = split_served(a);
  ASSERT_TRUE(one) << one.error().detail;
  ASSERT_EQ(one->size(), 1U);
  auto two = split_served(a + b);
  ASSERT_TRUE(two) << two.error().detail;
  ASSERT_EQ(two->size(), 2U);
  EXPECT_EQ((*two)[0].bytes, (*one)[0].bytes);
  // Binary as served: the same octets.
  Bytes bin = (*two)[0].bytes;
  bin.insert(bin.end(), (*two)[1].bytes.begin(), (*two)[1].bytes.end());
  auto again = split_served(as_chars(bin));
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)[1].bytes, (*two)[1].bytes);
  EXPECT_NE((*two)[0].fingerprint, (*two)[1].fingerprint);
  EXPECT_FALSE(split_served("not a key"));
}

TEST(LogAudit, InclusionOfServedCertificates) {
  MemLog log;
  auto certs = *split_served(armored("gpg-ed25519.asc") + armored("gpg-multi.asc"));
  const auto e1 = log.cert_entry(certs[0], {"alice@example.org"});
  const auto e2 = log.cert_entry(certs[1], {"alice@example.org", "multi@example.org"});
  log.append(e1.encode());
  log.append(e2.encode());
  for (int i = 0; i < 5; ++i) {  // more entries after them
    auto other = e1;
    other.seq = 100 + i;
    log.append(other.encode());
  }
  const std::uint64_t size = log.entries.size();
  const auto cp = log.checkpoint(size);
  std::vector<InclusionItem> items = {log.item(2, size), log.item(1, size)};
  auto n = check_inclusions(certs, items, cp, log.scheme, std::nullopt);
  ASSERT_TRUE(n) << n.error().detail;
  EXPECT_EQ(*n, 2U);
  // Both commit to alice; only the second to multi.
  EXPECT_TRUE(
      check_inclusions(certs, items, cp, log.scheme, *log.scheme.commit("alice@example.org")));
  auto multi =
      check_inclusions(certs, items, cp, log.scheme, *log.scheme.commit("multi@example.org"));
  ASSERT_FALSE(multi);
  EXPECT_EQ(multi.error().exit_code, kExitBadAnswer);
  EXPECT_NE(multi.error().detail.find("does not commit"), std::string::npos);

  // /log/entry's answer: an entry of that certificate only.
  const std::string latest = R"({"index":2,"entry":")" + base64_encode(log.entries[2]) + R"("})";
  auto l = parse_latest_answer(latest, certs[1].fingerprint, log.scheme);
  ASSERT_TRUE(l) << l.error().detail;
  EXPECT_EQ(l->index, 2U);
  EXPECT_EQ(l->entry, log.entries[2]);
  EXPECT_FALSE(parse_latest_answer(latest, certs[0].fingerprint, log.scheme));
  EXPECT_FALSE(
      parse_latest_answer(R"({"index":0,"entry":")" + base64_encode(log.entries[0]) + R"("})",
                          certs[1].fingerprint, log.scheme));
  EXPECT_FALSE(
      parse_latest_answer(R"({"index":"2","entry":""})", certs[1].fingerprint, log.scheme));
  std::vector<std::uint64_t> served;
  ASSERT_TRUE(check_inclusions(certs, items, cp, log.scheme, std::nullopt, &served));
  EXPECT_EQ(served, (std::vector<std::uint64_t>{1, 2}));

  // A certificate without its item.
  auto missing = check_inclusions(certs, {log.item(1, size)}, cp, log.scheme, std::nullopt);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().detail.find("no log entry"), std::string::npos);
  // Another certificate's octets under this fingerprint (a swapped key).
  auto swapped = certs;
  swapped[0].bytes = certs[1].bytes;
  auto sw = check_inclusions(swapped, items, cp, log.scheme, std::nullopt);
  ASSERT_FALSE(sw);
  EXPECT_NE(sw.error().detail.find("other octets"), std::string::npos);
  // A flipped proof hash, a proof for another index, an index past the tree.
  auto flipped = items;
  flipped[1].proof[0][0] ^= 1;
  EXPECT_FALSE(check_inclusions(certs, flipped, cp, log.scheme, std::nullopt));
  auto moved = items;
  moved[1].index = 3;
  EXPECT_FALSE(check_inclusions(certs, moved, cp, log.scheme, std::nullopt));
  auto past = items;
  past[1].index = size;
  EXPECT_FALSE(check_inclusions(certs, past, cp, log.scheme, std::nullopt));
  // A checkpoint of another tree (an older one).
  EXPECT_FALSE(check_inclusions(certs, items, log.checkpoint(size - 1), log.scheme, std::nullopt));
  // An entry that is not the one proven.
  auto changed = items;
  changed[1].entry.back() ^= 1;
  EXPECT_FALSE(check_inclusions(certs, changed, cp, log.scheme, std::nullopt));
  EXPECT_FALSE(check_inclusions({}, items, cp, log.scheme, std::nullopt));
}

// A scrypt log (verified and managed mode) names certificates by their
// blinded fingerprint: the client finds the served certificate's entry by
// it, and refuses an entry with the clear fingerprint (not how such a log
// writes it) as it refuses another certificate's.
TEST(LogAudit, ScryptLogsNameCertificatesByTheirBlindedFingerprint) {
  MemLog log(tlog::CommitmentScheme{tlog::CommitmentScheme::Kind::Scrypt, 4, 1, 1, Bytes(32, 3)});
  auto certs = *split_served(armored("gpg-ed25519.asc"));
  const auto blinded = log.cert_entry(certs[0], {"alice@example.org"});
  ASSERT_NE(blinded.fingerprint,
            Bytes(certs[0].fingerprint.bytes().begin(), certs[0].fingerprint.bytes().end()));
  auto clear = blinded;
  clear.fingerprint.assign(certs[0].fingerprint.bytes().begin(),
                           certs[0].fingerprint.bytes().end());
  log.append(blinded.encode());
  log.append(clear.encode());
  const std::uint64_t size = log.entries.size();
  const auto cp = log.checkpoint(size);
  const auto commitment = *log.scheme.commit("alice@example.org");
  std::vector<std::uint64_t> served;
  auto ok = check_inclusions(certs, {log.item(1, size)}, cp, log.scheme, commitment, &served);
  ASSERT_TRUE(ok) << ok.error().detail;
  EXPECT_EQ(served, (std::vector<std::uint64_t>{1}));
  auto in_clear = check_inclusions(certs, {log.item(2, size)}, cp, log.scheme, commitment);
  ASSERT_FALSE(in_clear);
  EXPECT_NE(in_clear.error().detail.find("no log entry"), std::string::npos);
  // The blinded entry read as if the log were in clear: not this certificate's.
  tlog::CommitmentScheme open = log.scheme;
  open.kind = tlog::CommitmentScheme::Kind::HmacSha256;
  EXPECT_FALSE(check_inclusions(certs, {log.item(1, size)}, cp, open, std::nullopt));

  auto answer = [&](std::uint64_t i) {
    return R"({"index":)" + std::to_string(i) + R"(,"entry":")" + base64_encode(log.entries[i]) +
           R"("})";
  };
  auto latest = parse_latest_answer(answer(1), certs[0].fingerprint, log.scheme);
  ASSERT_TRUE(latest) << latest.error().detail;
  EXPECT_EQ(latest->index, 1U);
  EXPECT_FALSE(parse_latest_answer(answer(2), certs[0].fingerprint, log.scheme));
  EXPECT_FALSE(parse_latest_answer(answer(1), certs[0].fingerprint, open));
}

TEST(LogAudit, CheckpointsAndConsistency) {
  MemLog log;
  for (int i = 0; i < 20; ++i) {
    log.append(Bytes{1, 1, static_cast<std::uint8_t>(i)});
  }
  auto c = verify_checkpoint(log.note(21), log.verifier);
  ASSERT_TRUE(c) << c.error().detail;
  EXPECT_EQ(c->size, 21U);
  // Signed by another key, or naming another log.
  tlog::NoteSigner other{"test.keydir/log", Bytes(32, 6)};
  EXPECT_FALSE(verify_checkpoint(*tlog::sign_note(log.checkpoint(21).body(), other), log.verifier));
  tlog::Checkpoint elsewhere = log.checkpoint(21);
  elsewhere.origin = "other.log";
  auto e = verify_checkpoint(*tlog::sign_note(elsewhere.body(), log.signer), log.verifier);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().exit_code, kExitBadAnswer);

  const auto old = log.checkpoint(7);
  const auto now = log.checkpoint(21);
  int asked = 0;
  auto proof = [&]() -> LogResult<std::vector<Hash>> {
    ++asked;
    return *tlog::consistency_proof(7, 21, log.reader());
  };
  EXPECT_TRUE(check_consistency(old, now, proof));
  EXPECT_EQ(asked, 1);
  EXPECT_TRUE(check_consistency(now, now, proof));
  EXPECT_EQ(asked, 1);  // same checkpoint: nothing to ask
  auto rollback = check_consistency(now, old, proof);
  ASSERT_FALSE(rollback);
  EXPECT_EQ(rollback.error().exit_code, kExitLogInconsistent);
  auto forked = now;
  forked.root[5] ^= 1;
  auto fork = check_consistency(now, forked, proof);
  ASSERT_FALSE(fork);
  EXPECT_EQ(fork.error().exit_code, kExitLogInconsistent);
  auto bad_proof = [&]() -> LogResult<std::vector<Hash>> {
    auto p = *tlog::consistency_proof(7, 21, log.reader());
    p.back()[0] ^= 1;
    return p;
  };
  auto tampered = check_consistency(old, now, bad_proof);
  ASSERT_FALSE(tampered);
  EXPECT_EQ(tampered.error().exit_code, kExitLogInconsistent);
  EXPECT_EQ(check_consistency(old, forked, proof).error().exit_code, kExitLogInconsistent);
  // A proof that cannot be had: that error, not a verdict.
  auto unreachable = [&]() -> LogResult<std::vector<Hash>> {
    return log_fail(kExitNetwork, "down");
  };
  EXPECT_EQ(check_consistency(old, now, unreachable).error().exit_code, kExitNetwork);
}

// The log's dating and its witnesses' cosignatures: a checkpoint dated too
// long ago, or in the future, is refused; a witness's cosignature counts only
// while recent; the log's own key and a key given twice are no witnesses.
TEST(LogAudit, DatingAndWitnessesCountOnlyWhenRecent) {
  MemLog log;
  const std::string body = log.checkpoint(1).body();
  const std::string note = *tlog::sign_note(body, log.signer);
  const std::uint64_t now = 1'800'000'000;
  EXPECT_FALSE(check_dated(note, log.verifier, 86400, now));  // not dated at all
  const std::string dated = note + *tlog::cosign(body, log.signer, now - 100);
  auto t = check_dated(dated, log.verifier, 86400, now);
  ASSERT_TRUE(t) << t.error().detail;
  EXPECT_EQ(*t, now - 100);
  EXPECT_FALSE(check_dated(dated, log.verifier, 50, now));  // stale
  EXPECT_TRUE(check_dated(dated, log.verifier, 0, now));    // any age
  EXPECT_FALSE(
      check_dated(note + *tlog::cosign(body, log.signer, now + 1000), log.verifier, 0, now));

  tlog::NoteSigner witness{"witness.test/w", Bytes(32, 6)};
  auto wkey = *tlog::NoteVerifier::of(witness, tlog::kSigCosignatureV1);
  const std::string old = dated + *tlog::cosign(body, witness, now - 10'000);
  auto n = count_cosigned(old, {wkey}, 86400, now);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
  n = count_cosigned(old, {wkey}, 1000, now);  // a witness's old statement
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
  n = count_cosigned(dated + *tlog::cosign(body, witness, now + 1000), {wkey}, 0, now);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);  // from the future
  n = count_cosigned(dated, {wkey}, 0, now);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);  // the log's dating is not the witness's
  std::string forged = old;
  forged[forged.rfind(' ') + 20] ^= 1;
  EXPECT_FALSE(count_cosigned(forged, {wkey}, 0, now));

  EXPECT_TRUE(parse_witnesses({wkey.encode()}, log.verifier));
  auto own = *tlog::NoteVerifier::of(log.signer, tlog::kSigCosignatureV1);
  auto r = parse_witnesses({own.encode()}, log.verifier);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit_code, kExitUsage);
  r = parse_witnesses({wkey.encode(), wkey.encode()}, log.verifier);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().exit_code, kExitUsage);
  EXPECT_FALSE(parse_witnesses({log.verifier.encode()}, log.verifier));  // a type 0x01 key
}

TEST(LogAudit, WireFormatsAreParsedWithBounds) {
  MemLog log;
  log.append(Bytes{1, 2, 3});
  const auto it = log.item(1, 2);
  std::string header = "1 " + base64_encode(it.entry) + " " + tlog::hash_base64(it.proof[0]);
  auto items = parse_inclusion_header(header + "; " + header);
  ASSERT_TRUE(items) << items.error().detail;
  ASSERT_EQ(items->size(), 2U);
  EXPECT_EQ((*items)[0].entry, it.entry);
  EXPECT_EQ((*items)[0].proof, it.proof);
  auto lone = parse_inclusion_header("0 " + base64_encode(Bytes{1, 2}));  // tree of size 1
  ASSERT_TRUE(lone);
  EXPECT_TRUE((*lone)[0].proof.empty());
  for (const std::string& bad :
       {std::string(), std::string("x ") + base64_encode(it.entry), std::string("01 AQI="),
        std::string("1 !!!"), header + ",AAAA", header + " extra", std::string("1")}) {
    EXPECT_FALSE(parse_inclusion_header(bad)) << bad;
  }
  std::string many = header;
  for (std::size_t i = 0; i < kMaxInclusionItems; ++i) {
    many += "; " + header;
  }
  EXPECT_FALSE(parse_inclusion_header(many));

  const std::string h = "\"" + tlog::hash_base64(it.proof[0]) + "\"";
  auto p =
      parse_proof_answer(R"({"index":1,"size":2,"hashes":[)" + h + "]}", "index", 1, "size", 2);
  ASSERT_TRUE(p) << p.error().detail;
  EXPECT_EQ(p->size(), 1U);
  EXPECT_FALSE(parse_proof_answer(R"({"index":1,"size":3,"hashes":[]})", "index", 1, "size", 2));
  EXPECT_FALSE(
      parse_proof_answer(R"({"index":1,"size":2,"hashes":["AAAA"]})", "index", 1, "size", 2));
  EXPECT_FALSE(parse_proof_answer(R"({"index":-1,"size":2,"hashes":[]})", "index", 1, "size", 2));
  EXPECT_FALSE(parse_proof_answer("not json", "old", 1, "new", 2));
  std::string long_proof = R"({"old":1,"new":2,"hashes":[)" + h;
  for (std::size_t i = 0; i < kMaxProofHashes; ++i) {
    long_proof += "," + h;
  }
  EXPECT_FALSE(parse_proof_answer(long_proof + "]}", "old", 1, "new", 2));

  std::string bundle;
  for (const auto& e : log.entries) {
    bundle.push_back(static_cast<char>(e.size() >> 8));
    bundle.push_back(static_cast<char>(e.size() & 0xFF));
    bundle.append(as_chars(e));
  }
  auto b = parse_bundle(bundle, 2);
  ASSERT_TRUE(b) << b.error().detail;
  EXPECT_EQ(*b, log.entries);
  EXPECT_FALSE(parse_bundle(bundle, 1));
  EXPECT_FALSE(parse_bundle(bundle, 3));
  EXPECT_FALSE(parse_bundle(bundle.substr(0, bundle.size() - 1), 2));
  EXPECT_FALSE(parse_bundle(bundle + '\0', 2));
  EXPECT_FALSE(parse_bundle(std::string("\0\0", 2), 1));
}

TEST(LogAudit, ScryptWorkIsBounded) {
  using Kind = tlog::CommitmentScheme::Kind;
  EXPECT_TRUE(check_scheme({Kind::HmacSha256, 0, 0, 0, Bytes(32, 1)}));
  EXPECT_TRUE(check_scheme({Kind::Scrypt, 17, 8, 1, Bytes(32, 1)}));
  EXPECT_TRUE(check_scheme({Kind::Scrypt, 14, 8, 16, Bytes(32, 1)}));
  EXPECT_FALSE(check_scheme({Kind::Scrypt, 30, 8, 1, Bytes(32, 1)}));
  EXPECT_FALSE(check_scheme({Kind::Scrypt, 20, 255, 255, Bytes(32, 1)}));
  EXPECT_FALSE(check_scheme({Kind::Scrypt, 0, 8, 1, Bytes(32, 1)}));
  EXPECT_FALSE(check_scheme({Kind::Scrypt, 14, 0, 1, Bytes(32, 1)}));
  EXPECT_FALSE(check_scheme({Kind::HmacSha256, 0, 0, 0, Bytes(31, 1)}));
}

TEST(LogState, RoundTripsPinsAndPermissions) {
  test::TempDir tmp;
  const std::string path = tmp.str("state/keydir");
  MemLog log;
  for (int i = 0; i < 9; ++i) {
    log.append(Bytes{1, 1, static_cast<std::uint8_t>(i)});
  }
  {
    StateDir dir(path);
    ASSERT_TRUE(dir.open());
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700U);
    auto none = dir.pinned("http://127.0.0.1:1");
    ASSERT_TRUE(none);
    EXPECT_FALSE(*none);
    ASSERT_TRUE(dir.pin("http://127.0.0.1:1", log.verifier.encode()));
    ASSERT_TRUE(dir.pin("http://127.0.0.1:2", "other+00000000+AQ"));
    ASSERT_TRUE(dir.pin("http://127.0.0.1:1", log.verifier.encode()));  // replaced, not added
    EXPECT_EQ(**dir.pinned("http://127.0.0.1:1"), log.verifier.encode());
    EXPECT_EQ(**dir.pinned("http://127.0.0.1:2"), "other+00000000+AQ");
    EXPECT_FALSE(*dir.pinned("http://127.0.0.1:11"));

    auto empty = dir.load(log.verifier);
    ASSERT_TRUE(empty) << empty.error().detail;
    EXPECT_FALSE(empty->checkpoint);
    LogState s = *empty;
    s.note = log.note(10);
    s.checkpoint = log.checkpoint(10);
    s.scheme = log.scheme;
    s.frontier = log.edge;
    s.commitments["alice@example.org"] = *log.scheme.commit("alice@example.org");
    s.bound.emplace("04abcd", "alice@example.org");
    ASSERT_TRUE(dir.save(log.verifier, s));
    ASSERT_EQ(::stat(dir.log_file(log.verifier).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600U);
    ASSERT_EQ(::stat((path + "/log-pins").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600U);
    auto back = dir.load(log.verifier);
    ASSERT_TRUE(back) << back.error().detail;
    EXPECT_EQ(back->note, s.note);
    EXPECT_EQ(*back->checkpoint, *s.checkpoint);
    EXPECT_EQ(*back->scheme, *s.scheme);
    EXPECT_EQ(back->frontier->size(), 10U);
    EXPECT_EQ(back->frontier->root(), log.checkpoint(10).root);
    EXPECT_EQ(back->commitments, s.commitments);
    EXPECT_EQ(back->bound, s.bound);
    EXPECT_EQ(back->encode(), s.encode());

    // Another log's key does not read this file as its own.
    tlog::NoteSigner other{"test.keydir/log", Bytes(32, 6)};
    auto v2 = *tlog::NoteVerifier::of(other);
    v2.key_hash = log.verifier.key_hash;  // same file name, another key
    auto foreign = LogState::decode(s.encode(), v2);
    ASSERT_FALSE(foreign);
    EXPECT_EQ(foreign.error().exit_code, kExitUsage);

    // Nor can it take the file's name: the name comes from the whole key.
    EXPECT_NE(dir.log_file(v2), dir.log_file(log.verifier));
    EXPECT_EQ(dir.legacy_log_file(v2), dir.legacy_log_file(log.verifier));
    // A state an earlier keydir kept under the 32-bit key hash: read when it
    // is the key's own and moved by the next save; another key's is left.
    ASSERT_EQ(
        ::rename(dir.log_file(log.verifier).c_str(), dir.legacy_log_file(log.verifier).c_str()), 0);
    auto other_fresh = dir.load(v2);
    ASSERT_TRUE(other_fresh) << other_fresh.error().detail;
    EXPECT_FALSE(other_fresh->checkpoint);
    auto legacy = dir.load(log.verifier);
    ASSERT_TRUE(legacy) << legacy.error().detail;
    EXPECT_EQ(legacy->encode(), s.encode());
    ASSERT_TRUE(dir.save(v2, *other_fresh));
    EXPECT_EQ(::stat(dir.legacy_log_file(log.verifier).c_str(), &st), 0);  // not v2's
    ASSERT_TRUE(dir.save(log.verifier, *legacy));
    EXPECT_NE(::stat(dir.legacy_log_file(log.verifier).c_str(), &st), 0);
    auto moved = dir.load(log.verifier);
    ASSERT_TRUE(moved);
    EXPECT_EQ(moved->encode(), s.encode());
    // An earlier keydir writing its file again, beside the new one: either
    // may hold the later tree, so neither is taken alone.
    { std::ofstream(dir.legacy_log_file(log.verifier)) << s.encode(); }
    auto both = dir.load(log.verifier);
    ASSERT_FALSE(both);
    EXPECT_EQ(both.error().exit_code, kExitUsage);
    EXPECT_NE(both.error().detail.find("two state files"), std::string::npos);
    // A damaged file of the old name is refused as a damaged new one is.
    ASSERT_EQ(::unlink(dir.log_file(log.verifier).c_str()), 0);
    {
      std::string damaged = s.encode();
      damaged[damaged.find("note ") + 10] ^= 1;
      std::ofstream(dir.legacy_log_file(log.verifier)) << damaged;
    }
    auto refused = dir.load(log.verifier);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().exit_code, kExitUsage);
    EXPECT_NE(refused.error().detail.find("damaged"), std::string::npos) << refused.error().detail;
  }
  // Damaged files are refused, never half read.
  const std::string enc = [&] {
    LogState s;
    s.vkey = log.verifier.encode();
    s.note = log.note(10);
    s.checkpoint = log.checkpoint(10);
    s.frontier = log.edge;
    return s.encode();
  }();
  ASSERT_TRUE(LogState::decode(enc, log.verifier));
  std::string tampered_note = enc;
  tampered_note[tampered_note.find("note ") + 10] ^= 1;
  EXPECT_FALSE(LogState::decode(tampered_note, log.verifier));
  EXPECT_FALSE(LogState::decode(enc + "unknown line\n", log.verifier));
  EXPECT_FALSE(LogState::decode("keydir log state 2\n", log.verifier));
  EXPECT_FALSE(LogState::decode(enc + "frontier 99\n", log.verifier));
  // A frontier past the checkpoint.
  LogState ahead;
  ahead.vkey = log.verifier.encode();
  ahead.note = log.note(4);
  ahead.checkpoint = log.checkpoint(4);
  ahead.frontier = log.edge;
  EXPECT_FALSE(LogState::decode(ahead.encode(), log.verifier));
}

}  // namespace
}  // namespace keydir::client
