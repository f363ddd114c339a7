// The transparency log's maths and formats (src/tlog): RFC 6962 hashing
// against Certificate Transparency's published vectors, every proof of every
// small tree checked and every tampered one refused, signed notes, tile
// paths and entries.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "common/bytes.hpp"
#include "openpgp/crypto/primitives.hpp"
#include "tlog/entry.hpp"
#include "tlog/merkle.hpp"
#include "tlog/note.hpp"
#include "tlog/tiles.hpp"

namespace keydir::tlog {
namespace {

std::string to_lower_hex(ByteView b) {
  std::string s = to_hex(b);
  for (auto& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

std::string hex(const Hash& h) {
  std::string s = to_hex(ByteView(h.data(), h.size()));
  for (auto& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

// A log kept in a map, as the key store keeps it.
struct MapLog {
  std::map<std::pair<int, std::uint64_t>, Hash> stored;
  Frontier edge;
  void append(ByteView entry) {
    std::vector<std::pair<NodeId, Hash>> out;
    edge.append(leaf_hash(entry), out);
    for (auto& [id, h] : out) {
      stored[{id.level, id.index}] = h;
    }
  }
  HashReader reader() const {
    return [this](NodeId id) -> Result<Hash> {
      auto it = stored.find({id.level, id.index});
      if (it == stored.end()) {
        return fail(ErrorCode::NotFound, "no such hash");
      }
      return it->second;
    };
  }
};

// RFC 6962's test leaves as Certificate Transparency's tests use them.
std::vector<Bytes> ct_leaves() {
  return {Bytes{},
          Bytes{0x00},
          Bytes{0x10},
          Bytes{0x20, 0x21},
          Bytes{0x30, 0x31},
          Bytes{0x40, 0x41, 0x42, 0x43},
          Bytes{0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57},
          Bytes{0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
                0x6e, 0x6f}};
}

TEST(Merkle, CertificateTransparencyRoots) {
  const char* const roots[] = {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                               "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                               "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
                               "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                               "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
                               "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
                               "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
                               "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
  EXPECT_EQ(hex(empty_root()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  MapLog log;
  auto leaves = ct_leaves();
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    log.append(leaves[i]);
    EXPECT_EQ(hex(log.edge.root()), roots[i]) << "size " << i + 1;
    auto r = tree_root(i + 1, log.reader());
    ASSERT_TRUE(r);
    EXPECT_EQ(hex(*r), roots[i]);
  }
}

TEST(Merkle, EveryProofOfEverySmallTreeChecksAndNoTamperedOneDoes) {
  MapLog log;
  std::vector<Hash> roots{empty_root()};
  std::vector<Hash> leaves;
  constexpr std::uint64_t kMax = 70;
  for (std::uint64_t i = 0; i < kMax; ++i) {
    Bytes e{static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(i >> 8), 7};
    log.append(e);
    leaves.push_back(leaf_hash(e));
    roots.push_back(log.edge.root());
  }
  auto rd = log.reader();
  for (std::uint64_t n = 1; n <= kMax; ++n) {
    auto root = tree_root(n, rd);
    ASSERT_TRUE(root);
    ASSERT_EQ(*root, roots[n]);
    auto loaded = Frontier::load(n, rd);
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->root(), roots[n]);
    for (std::uint64_t i = 0; i < n; ++i) {
      auto p = inclusion_proof(i, n, rd);
      ASSERT_TRUE(p);
      EXPECT_TRUE(verify_inclusion(i, n, leaves[i], *p, roots[n])) << i << " in " << n;
      EXPECT_FALSE(verify_inclusion(i, n, leaves[(i + 1) % kMax], *p, roots[n]));
      if (n > 1) {
        EXPECT_FALSE(verify_inclusion((i + 1) % n, n, leaves[i], *p, roots[n]));
      }
      for (std::size_t k = 0; k < p->size(); ++k) {
        auto bad = *p;
        bad[k][5] ^= 1;
        EXPECT_FALSE(verify_inclusion(i, n, leaves[i], bad, roots[n]));
      }
      if (!p->empty()) {
        auto shorter = *p;
        shorter.pop_back();
        EXPECT_FALSE(verify_inclusion(i, n, leaves[i], shorter, roots[n]));
      }
      auto longer = *p;
      longer.push_back(roots[n]);
      EXPECT_FALSE(verify_inclusion(i, n, leaves[i], longer, roots[n]));
    }
    for (std::uint64_t m = 0; m <= n; ++m) {
      auto p = consistency_proof(m, n, rd);
      ASSERT_TRUE(p);
      EXPECT_TRUE(verify_consistency(m, n, roots[m], roots[n], *p)) << m << " to " << n;
      if (m > 0 && m < n) {
        EXPECT_FALSE(verify_consistency(m, n, roots[m - 1], roots[n], *p));
        EXPECT_FALSE(verify_consistency(m, n, roots[m], roots[n - 1], *p));
        for (std::size_t k = 0; k < p->size(); ++k) {
          auto bad = *p;
          bad[k][0] ^= 0x80;
          EXPECT_FALSE(verify_consistency(m, n, roots[m], roots[n], bad));
        }
      }
    }
  }
  EXPECT_FALSE(inclusion_proof(5, 5, rd));
  EXPECT_FALSE(consistency_proof(6, 5, rd));
}

TEST(Note, SignsOpensAndRefusesTampering) {
  NoteSigner signer{"example.org/log", Bytes(32, 7)};
  auto v = NoteVerifier::of(signer);
  ASSERT_TRUE(v);
  auto parsed = NoteVerifier::parse(v->encode());
  ASSERT_TRUE(parsed) << parsed.error().detail;
  EXPECT_EQ(parsed->public_key, v->public_key);
  Checkpoint c{"example.org/log", 12, leaf_hash(Bytes{1})};
  auto note = sign_note(c.body(), signer);
  ASSERT_TRUE(note);
  auto text = open_note(*note, *v);
  ASSERT_TRUE(text) << text.error().detail;
  auto back = Checkpoint::parse(*text);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, c);

  std::string tampered = *note;
  tampered[tampered.find("12")] = '3';
  EXPECT_FALSE(open_note(tampered, *v));
  // Another key's signature alone does not do; beside ours it is ignored.
  NoteSigner other{"witness.example", Bytes(32, 9)};
  auto theirs = sign_note(c.body(), other);
  ASSERT_TRUE(theirs);
  EXPECT_FALSE(open_note(*theirs, *v));
  std::string both = *note + theirs->substr(theirs->rfind("\n\n") + 2);
  EXPECT_TRUE(open_note(both, *v));
  EXPECT_FALSE(Checkpoint::parse("example.org/log\n012\n" + hash_base64(c.root) + "\n"));
  EXPECT_FALSE(Checkpoint::parse("example.org/log\n12\n" + hash_base64(c.root) + "\nextra\n"));
  EXPECT_FALSE(NoteVerifier::parse("a+00000000+AQ=="));
  EXPECT_FALSE(NoteVerifier::parse(v->encode().replace(v->encode().find('+') + 1, 1, "0")));
}

// C2SP tlog-cosignature/v1, pinned by a vector made with Python's
// cryptography package (an independent Ed25519):
//   k = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
//   msg = b"cosignature/v1\ntime 1679315147\n" + body
//   line = "— " + name + " " + b64(sha256(name + b"\n\x04" + pub)[:4] + be64(t) + k.sign(msg))
TEST(Note, CosignaturesMatchAnIndependentVectorAndRefuseTampering) {
  Bytes seed;
  for (std::uint8_t i = 1; i <= 32; ++i) {
    seed.push_back(i);
  }
  NoteSigner witness{"witness.example.com/w1", seed};
  const std::string body =
      "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
  auto line = cosign(body, witness, 1679315147);
  ASSERT_TRUE(line) << line.error().detail;
  EXPECT_EQ(*line,
            "\xE2\x80\x94 witness.example.com/w1 "
            "hWHHHgAAAABkGFDLQB2dbiQ7rPMIDjq/"
            "twq5Ixt42T+awjiYS4+fxrnLnI31x5abVjZlhDVvZAcRRLyAiG4oQlhTgi4Dsx"
            "iPwiDaDg==\n");
  auto v = NoteVerifier::of(witness, kSigCosignatureV1);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->encode(),
            "witness.example.com/w1+8561c71e+BHm1Vi6P5lT5QHixEuipi6eQH4U65pW+1+DjkQutBJZk");
  auto parsed = NoteVerifier::parse(v->encode(), kSigCosignatureV1);
  ASSERT_TRUE(parsed) << parsed.error().detail;
  EXPECT_FALSE(NoteVerifier::parse(v->encode()));  // not a log's signing key
  // A note with the log's signature and the cosignature: the time is read.
  NoteSigner log{"example.com/behind-the-sofa", Bytes(32, 7)};
  auto note = sign_note(body, log);
  ASSERT_TRUE(note);
  auto t = open_cosignature(*note + *line, *parsed);
  ASSERT_TRUE(t) << t.error().detail;
  EXPECT_EQ(t->value_or(0), 1679315147u);
  EXPECT_TRUE(open_note(*note + *line, *NoteVerifier::of(log)));  // ignored by open_note
  // Absent: nullopt. Another time than signed, or another body: refused.
  auto none = open_cosignature(*note, *parsed);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  auto other_time = cosign(body, witness, 1679315148);
  ASSERT_TRUE(other_time);
  std::string swapped = *line;
  swapped.replace(swapped.find(' ', 5) + 1, 16,
                  other_time->substr(other_time->find(' ', 5) + 1, 16));
  EXPECT_FALSE(open_cosignature(*note + swapped, *parsed));
  std::string moved = *note;
  moved[moved.find("20852163")] = '3';
  EXPECT_FALSE(open_cosignature(moved + *line, *parsed));
  // The log's own key dates its checkpoints: same seed, type 0x04.
  auto self = cosign(body, log, 1700000000);
  ASSERT_TRUE(self);
  auto self_v = NoteVerifier::of(log, kSigCosignatureV1);
  ASSERT_TRUE(self_v);
  EXPECT_NE(self_v->key_hash, NoteVerifier::of(log)->key_hash);
  auto self_t = open_cosignature(*note + *self, *self_v);
  ASSERT_TRUE(self_t && self_t->has_value());
  EXPECT_TRUE(open_note(*note + *self, *NoteVerifier::of(log)));
}

// The example of Go's golang.org/x/mod/sumdb/note documentation.
TEST(Note, OpensGoDocumentationExample) {
  auto v =
      NoteVerifier::parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW");
  ASSERT_TRUE(v) << v.error().detail;
  const std::string note =
      "If you think cryptography is the answer to your problem,\n"
      "then you don't know what your problem is.\n"
      "\n"
      "\xE2\x80\x94 PeterNeumann "
      "x08go/ZJkuBS9UG/"
      "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
  auto text = open_note(note, *v);
  ASSERT_TRUE(text) << text.error().detail;
  EXPECT_TRUE(text->starts_with("If you think"));
}

TEST(Tiles, PathsRoundTripAndOnlyCanonicalFormsParse) {
  EXPECT_EQ(tile_index_path(0), "000");
  EXPECT_EQ(tile_index_path(5), "005");
  EXPECT_EQ(tile_index_path(1234067), "x001/x234/067");
  EXPECT_EQ((Tile{false, 1, 1234067, 256}).path(), "tile/1/x001/x234/067");
  EXPECT_EQ((Tile{true, 0, 7, 12}).path(), "tile/entries/007.p/12");
  for (std::uint64_t n : {0ULL, 1ULL, 999ULL, 1000ULL, 123456789ULL, 18446744073709551615ULL}) {
    for (bool entries : {false, true}) {
      Tile t{entries, static_cast<std::uint8_t>(entries ? 0 : 2), n, n % 2 ? 256U : 17U};
      auto back = parse_tile_path(t.path());
      ASSERT_TRUE(back) << t.path();
      EXPECT_EQ(*back, t);
    }
  }
  for (const char* bad :
       {"tile/0/5", "tile/0/0005", "tile/0/x000/005", "tile/0/001/005", "tile/0/005.p/0",
        "tile/0/005.p/256", "tile/0/005.p/07", "tile/64/000", "tile/00/000", "tile/0/x1/000",
        "tile/0/x019/x446/x744/x073/x709/x551/615", "tile/0/x018/x446/x744/x073/x709/x551/616",
        "tile/entries/", "tile/0/abc", "tile/data/000", "tile/0/000/"}) {
    EXPECT_FALSE(parse_tile_path(bad)) << bad;
  }
}

TEST(Entries, RoundTripAndMalformedOnesAreRefused) {
  Entry h;
  h.kind = Entry::Kind::Header;
  h.time = 1700000000;
  h.scheme = CommitmentScheme{CommitmentScheme::Kind::Scrypt, 10, 8, 1, Bytes(32, 3)};
  auto hb = Entry::decode(h.encode());
  ASSERT_TRUE(hb);
  EXPECT_EQ(*hb, h);

  Entry c;
  c.seq = 42;
  c.time = 1700000001;
  c.key_version = 4;
  c.fingerprint = Bytes(20, 0xAB);
  c.digest = Bytes(32, 0xCD);
  auto a1 = h.scheme.commit("alice@example.org");
  auto a2 = h.scheme.commit("bob@example.org");
  ASSERT_TRUE(a1 && a2);
  EXPECT_EQ(*a1, *h.scheme.commit("alice@example.org"));
  EXPECT_NE(*a1, *a2);
  c.commitments = {std::min(*a1, *a2), std::max(*a1, *a2)};
  auto enc = c.encode();
  auto cb = Entry::decode(enc);
  ASSERT_TRUE(cb);
  EXPECT_EQ(*cb, c);

  auto swapped = c;
  std::swap(swapped.commitments[0], swapped.commitments[1]);
  EXPECT_FALSE(Entry::decode(swapped.encode()));
  auto trailing = enc;
  trailing.push_back(0);
  EXPECT_FALSE(Entry::decode(trailing));
  auto shortened = enc;
  shortened.pop_back();
  EXPECT_FALSE(Entry::decode(shortened));
  auto v5 = c;
  v5.key_version = 5;
  EXPECT_FALSE(Entry::decode(v5.encode()));

  Entry d;
  d.kind = Entry::Kind::Deleted;
  d.key_version = 6;
  d.fingerprint = Bytes(32, 1);
  auto db = Entry::decode(d.encode());
  ASSERT_TRUE(db);
  EXPECT_EQ(*db, d);
  EXPECT_EQ(vfpr_hex(4, Bytes{0xAB, 0x01}), "04ab01");

  CommitmentScheme hmac{CommitmentScheme::Kind::HmacSha256, 0, 0, 0, Bytes(32, 1)};
  auto m = hmac.commit("alice@example.org");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->size(), 32U);
  CommitmentScheme other_salt = hmac;
  other_salt.salt = Bytes(32, 2);
  EXPECT_NE(*m, *other_salt.commit("alice@example.org"));
}

// The blinded fingerprint of scrypt logs, against vectors computed
// independently with Python's hmac and hashlib:
//   python3 -c 'import hmac,hashlib; s=bytes(range(32)); f4=bytes(range(0xa0,0xb4));
//     f6=bytes(range(0x40,0x60)); m=lambda v,f: hmac.new(s, b"keydir fingerprint v1\n" +
//     bytes([v]) + f, hashlib.sha256).digest()[:len(f)].hex(); print(m(4,f4)); print(m(6,f6))'
TEST(Entries, ScryptLogsBlindFingerprintsHmacLogsDoNot) {
  Bytes salt;
  for (int i = 0; i < 32; ++i) {
    salt.push_back(static_cast<std::uint8_t>(i));
  }
  Bytes v4;
  for (int i = 0xa0; i < 0xb4; ++i) {
    v4.push_back(static_cast<std::uint8_t>(i));
  }
  Bytes v6;
  for (int i = 0x40; i < 0x60; ++i) {
    v6.push_back(static_cast<std::uint8_t>(i));
  }
  const CommitmentScheme scrypt{CommitmentScheme::Kind::Scrypt, 14, 8, 1, salt};
  EXPECT_EQ(to_lower_hex(scrypt.entry_fingerprint(4, v4)),
            "cc6eefa8e0c69ddc5cb91ba96c8266f534251fd2");
  EXPECT_EQ(to_lower_hex(scrypt.entry_fingerprint(6, v6)),
            "6dbd0fb22bf079110be0c4b3b7e2b3f765729e1306cc1d3991712edf5323ecb1");
  // The key version is part of the message; the salt is the key.
  EXPECT_NE(scrypt.entry_fingerprint(6, v4), scrypt.entry_fingerprint(4, v4));
  CommitmentScheme other_salt = scrypt;
  other_salt.salt = Bytes(32, 1);
  EXPECT_NE(other_salt.entry_fingerprint(4, v4), scrypt.entry_fingerprint(4, v4));
  // Open mode's logs keep the fingerprint in clear.
  const CommitmentScheme hmac{CommitmentScheme::Kind::HmacSha256, 0, 0, 0, salt};
  EXPECT_EQ(hmac.entry_fingerprint(4, v4), v4);
  EXPECT_EQ(hmac.entry_fingerprint(6, v6), v6);

  // An entry with a blinded fingerprint is an ordinary entry of its length.
  Entry d;
  d.kind = Entry::Kind::Deleted;
  d.key_version = 6;
  d.fingerprint = scrypt.entry_fingerprint(6, v6);
  auto db = Entry::decode(d.encode());
  ASSERT_TRUE(db);
  EXPECT_EQ(*db, d);
  EXPECT_EQ(d.encode().size(), 18U + 1 + 32);
}

}  // namespace
}  // namespace keydir::tlog
