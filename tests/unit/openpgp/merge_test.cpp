// Merge is idempotent, commutative and associative, and a re-upload in parts
// gives the whole certificate back (property tests over random sub-certificates
// of every fixture, seeded so failures reproduce).
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "common/limits.hpp"
#include "openpgp/canonical.hpp"
#include "openpgp/verify.hpp"
#include "test_data.hpp"

namespace keydir::openpgp {
namespace {

Certificate parse_one(const std::string& name) {
  auto bin = decode_key_input(test::fixture(name), limits::kMaxUploadBytes);
  auto certs = parse_certificates(*bin);
  return *certs->front().cert;
}

// A random part of `c`: each component and each signature kept with p = 1/2.
Certificate random_part(const Certificate& c, std::mt19937& rng) {
  std::bernoulli_distribution coin(0.5);
  auto sigs = [&](const std::vector<Signature>& in) {
    std::vector<Signature> out;
    for (const auto& s : in) {
      if (coin(rng)) {
        out.push_back(s);
      }
    }
    return out;
  };
  Certificate p;
  p.primary = c.primary;
  p.direct_signatures = sigs(c.direct_signatures);
  for (const auto& u : c.user_ids) {
    if (coin(rng)) {
      p.user_ids.push_back({u.body, sigs(u.signatures)});
    }
  }
  for (const auto& s : c.subkeys) {
    if (coin(rng)) {
      p.subkeys.push_back({s.key, sigs(s.signatures)});
    }
  }
  // Shuffle, so that merge cannot rely on input order.
  std::shuffle(p.user_ids.begin(), p.user_ids.end(), rng);
  std::shuffle(p.subkeys.begin(), p.subkeys.end(), rng);
  return p;
}

Bytes merged(const Certificate& a, const Certificate& b) {
  return serialize(*merge(a, b));
}

const char* const kFixtures[] = {"gpg-multi.asc",   "gpg-expired.asc",     "gpg-revoked.asc",
                                 "sq-attested.asc", "gpg-third-party.asc", "sq-rsa3k.asc"};

TEST(Merge, IdempotentCommutativeAssociative) {
  for (const char* name : kFixtures) {
    SCOPED_TRACE(name);
    Certificate full = parse_one(name);
    std::mt19937 rng(42);
    for (int round = 0; round < 50; ++round) {
      Certificate a = random_part(full, rng);
      Certificate b = random_part(full, rng);
      Certificate c = random_part(full, rng);
      Certificate ca = a;
      canonicalize(ca);
      EXPECT_EQ(merged(a, a), serialize(ca));
      EXPECT_EQ(merged(a, b), merged(b, a));
      EXPECT_EQ(serialize(*merge(*merge(a, b), c)), serialize(*merge(a, *merge(b, c))));
    }
  }
}

TEST(Merge, PartsMergeBackToTheWhole) {
  for (const char* name : kFixtures) {
    SCOPED_TRACE(name);
    Certificate full = parse_one(name);
    std::mt19937 rng(7);
    Certificate acc = random_part(full, rng);
    // Every part and its complement together hold everything.
    Certificate rest = full;
    acc = *merge(acc, rest);
    Certificate whole = full;
    canonicalize(whole);
    EXPECT_EQ(serialize(acc), serialize(whole));
  }
}

TEST(Merge, ReUploadOfVerifiedPartsEqualsTheVerifiedWhole) {
  Certificate full = parse_one("gpg-multi.asc");
  Certificate uid_only = full;
  uid_only.subkeys.clear();
  uid_only.user_ids.resize(1);
  Certificate subkeys_only = full;
  subkeys_only.user_ids.erase(subkeys_only.user_ids.begin());
  Policy p;
  auto v1 = verify(uid_only, p, test::kNow);
  auto v2 = verify(subkeys_only, p, test::kNow);
  ASSERT_TRUE(v1.accepted() && v2.accepted());
  auto m = merge(v1.cert->cert(), v2.cert->cert());
  ASSERT_TRUE(m);
  auto again = verify(*m, p, test::kNow);
  ASSERT_TRUE(again.accepted());
  EXPECT_EQ(again.cert->to_bytes(), verify(full, p, test::kNow).cert->to_bytes());
}

TEST(Merge, DifferentKeysDoNotMerge) {
  auto r = merge(parse_one("gpg-multi.asc"), parse_one("gpg-ed25519.asc"));
  ASSERT_FALSE(r);
}

TEST(Canonical, SerializationRoundTripsAndKeepsPacketBodies) {
  for (const auto& e : std::filesystem::directory_iterator(test::data_dir())) {
    auto name = e.path().filename().string();
    if (e.path().extension() != ".asc" || name == "gpg-secret-key.asc" ||
        name == "gpg-revocation-only.asc") {
      continue;
    }
    SCOPED_TRACE(name);
    Certificate c = parse_one(name);
    canonicalize(c);
    Bytes once = serialize(c);
    auto again = parse_certificates(once);
    ASSERT_TRUE(again);
    Certificate c2 = *again->front().cert;
    EXPECT_EQ(serialize(c2), once);  // serialize(parse(bytes)) == bytes for canonical input
    canonicalize(c2);
    EXPECT_EQ(serialize(c2), once);  // canonical form is a fixed point
    EXPECT_EQ(content_digest(c2), content_digest(c));
  }
}

TEST(Canonical, SignaturesDifferingOnlyInUnhashedAreaAreOne) {
  Certificate c = parse_one("gpg-ed25519.asc");
  ASSERT_FALSE(c.user_ids.empty());
  Signature s = c.user_ids[0].signatures.at(0);
  // Add an unhashed "issuer key ID" subpacket copy: same signature, other bytes.
  Signature t = s;
  Bytes body(s.body.begin(), s.body.begin() + static_cast<std::ptrdiff_t>(s.unhashed_begin));
  Bytes unhashed(s.body.begin() + static_cast<std::ptrdiff_t>(s.unhashed_begin) + 2,
                 s.body.begin() + static_cast<std::ptrdiff_t>(s.unhashed_end));
  Bytes extra{9, 16, 1, 2, 3, 4, 5, 6, 7, 8};
  append(unhashed, extra);
  append_be(body, unhashed.size(), 2);
  append(body, unhashed);
  body.insert(body.end(), s.body.begin() + static_cast<std::ptrdiff_t>(s.unhashed_end),
              s.body.end());
  auto parsed = parse_signature(body);
  ASSERT_TRUE(parsed);
  c.user_ids[0].signatures.push_back(*parsed);
  canonicalize(c);
  EXPECT_EQ(c.user_ids[0].signatures.size(), 1u);
  EXPECT_EQ(c.user_ids[0].signatures[0].body, s.body);  // the shorter encoding is kept
}

}  // namespace
}  // namespace keydir::openpgp
