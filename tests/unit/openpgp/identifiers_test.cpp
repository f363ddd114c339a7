#include "openpgp/identifiers.hpp"

#include <gtest/gtest.h>

namespace keydir::openpgp {
namespace {

TEST(Fingerprint, ParsesV4AndV6AndDerivesKeyIds) {
  auto v4 = Fingerprint::from_hex("0x5B83120DB1E3A65AE5A8DCF6AA43F1DCC7FED1B7");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->version(), Fingerprint::Version::V4);
  // RFC 9580 §5.5.4.2: v4 key ID = low 64 bits.
  EXPECT_EQ(v4->key_id().to_hex(), "AA43F1DCC7FED1B7");
  EXPECT_EQ(v4->key_id().short_id(), 0xC7FED1B7u);
  // RFC 9580 §5.5.4.3 and Appendix A.3: v6 key ID = high 64 bits.
  auto v6 = Fingerprint::from_hex(
      "cb186c4f0609a697e4d52dfa6c722b0c1f1e27c18a56708f6525ec27bad9acc9");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->version(), Fingerprint::Version::V6);
  EXPECT_EQ(v6->key_id().to_hex(), "CB186C4F0609A697");
  EXPECT_TRUE(Fingerprint::from_hex("5B83 120D B1E3 A65A E5A8  DCF6 AA43 F1DC C7FE D1B7"));
}

TEST(Fingerprint, RefusesOtherLengths) {
  for (const char* bad : {"", "ABCD", "5B83120DB1E3A65AE5A8DCF6AA43F1DCC7FED1B", "XX83120DB1E3A65AE5A8DCF6AA43F1DCC7FED1B7"}) {
    auto r = Fingerprint::from_hex(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::BadQuery);
  }
  EXPECT_TRUE(KeyId::from_hex("0xAA43F1DCC7FED1B7"));
  EXPECT_FALSE(KeyId::from_hex("C7FED1B7"));
}

struct EmailCase {
  const char* user_id;
  const char* address;  // nullptr: no address
};

TEST(Email, FromUserIds) {
  const EmailCase cases[] = {
      {"Alice <Alice@Example.ORG>", "alice@example.org"},
      {"alice@example.org", "alice@example.org"},
      {"Bob (work) <bob.smith+pgp@mail.example.com>", "bob.smith+pgp@mail.example.com"},
      {"<only@example.net>", "only@example.net"},
      {"Just a name", nullptr},                  // no address
      {"Broken <alice@example.org", nullptr},    // unbalanced
      {"<@example.org>", nullptr},               // empty local part
      {"<alice@>", nullptr},                     // empty domain
      {"<alice@exa mple.org>", nullptr},         // space
      {"<alice@example..org>", nullptr},         // empty label
  };
  for (const auto& c : cases) {
    auto e = Email::from_user_id(c.user_id);
    if (c.address) {
      ASSERT_TRUE(e) << c.user_id;
      EXPECT_EQ(e->address(), c.address);
    } else {
      EXPECT_FALSE(e) << c.user_id;
    }
  }
}

TEST(WkdHash, MatchesTheDraftExample) {
  // draft-koch-openpgp-webkey-service §3.1: "Joe.Doe@Example.ORG".
  auto e = Email::parse("Joe.Doe@Example.ORG");
  ASSERT_TRUE(e);
  auto w = WkdHash::of(*e);
  EXPECT_EQ(w.hash(), "iy9q119eutrkn8s1mk4r39qejnbu3n5q");
  EXPECT_EQ(w.domain(), "example.org");
  EXPECT_TRUE(WkdHash::from_parts("Example.ORG", "iy9q119eutrkn8s1mk4r39qejnbu3n5q"));
  EXPECT_FALSE(WkdHash::from_parts("example.org", "iy9q119eutrkn8s1mk4r39qejnbu3n5"));
}

}  // namespace
}  // namespace keydir::openpgp
