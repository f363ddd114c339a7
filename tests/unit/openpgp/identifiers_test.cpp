#include "openpgp/identifiers.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "test_data.hpp"

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

// tests/data/hostile-user-ids.tsv: expected address ("-": none), user ID (with
// \xHH escapes), why.
struct UserIdCase {
  std::string expected;
  std::string user_id;
  std::string why;
};

std::vector<UserIdCase> hostile_user_ids() {
  std::ifstream in(test::data_dir() / "hostile-user-ids.tsv");
  std::vector<UserIdCase> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    auto t1 = line.find('\t');
    auto t2 = line.find('\t', t1 + 1);
    UserIdCase c{line.substr(0, t1), "", line.substr(t2 + 1)};
    std::string_view raw = std::string_view(line).substr(t1 + 1, t2 - t1 - 1);
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw.substr(i, 2) == "\\x") {
        c.user_id.push_back(
            static_cast<char>(std::stoi(std::string(raw.substr(i + 2, 2)), nullptr, 16)));
        i += 3;
      } else {
        c.user_id.push_back(raw[i]);
      }
    }
    out.push_back(std::move(c));
  }
  return out;
}

TEST(Email, HostileUserIdTable) {
  auto cases = hostile_user_ids();
  ASSERT_GE(cases.size(), 60u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.why);
    auto e = Email::of_user_id(c.user_id);
    if (c.expected == "-") {
      ASSERT_FALSE(e) << c.user_id << " gave " << e->address();
      EXPECT_EQ(e.error().code, ErrorCode::BadQuery);
      EXPECT_TRUE(e.error().detail.starts_with("no e-mail address: ")) << e.error().detail;
      EXPECT_FALSE(Email::from_user_id(c.user_id));
    } else {
      ASSERT_TRUE(e) << c.user_id << ": " << e.error().detail;
      EXPECT_EQ(e->address(), c.expected) << c.user_id;
    }
  }
}

TEST(Email, SaysWhyAUserIdHasNoAddress) {
  auto reason = [](std::string_view uid) {
    auto e = Email::of_user_id(uid);
    return e ? std::string("accepted") : e.error().detail;
  };
  EXPECT_EQ(reason("Someone <victim@example.org> <attacker@evil.example>"),
            "no e-mail address: more than one address (a second '@', '<' or '>'): ambiguous, "
            "none is taken");
  EXPECT_EQ(reason("<attacker@evil.example@example.org>"),
            "no e-mail address: the address does not hold exactly one '@'");
  EXPECT_EQ(reason("<a%b@example.org>"),
            "no e-mail address: '%' and '!' route mail through another host: not accepted");
  EXPECT_EQ(reason("<\"v\"@example.org>"),
            "no e-mail address: quoted local parts are not accepted");
  EXPECT_EQ(reason("<vic\xe2\x80\x8btim@example.org>"),
            "no e-mail address: the local part holds U+200B, an invisible, control or "
            "unassigned character");
  EXPECT_EQ(reason("<ju\xcc\x88rgen@example.org>"),
            "no e-mail address: the local part is not in Unicode normal form NFC");
  EXPECT_EQ(reason("<victim@localhost>"),
            "no e-mail address: a domain name needs at least two labels");
  EXPECT_EQ(reason("<alice@B\xc3\x9c"
                   "CHER.example>"),
            "no e-mail address: the domain's Unicode labels are not in their normal form (NFC, "
            "lower case): write xn--bcher-kva.example");
}

TEST(Email, QueriesFollowTheSameRules) {
  auto u = Email::parse("Alice@B\xc3\xbc" "cher.Example");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->address(), "alice@xn--bcher-kva.example");
  EXPECT_EQ(u->local_part(), "alice");
  EXPECT_EQ(u->domain(), "xn--bcher-kva.example");
  EXPECT_EQ(*u, *Email::parse("<alice@xn--bcher-kva.example>"));
  EXPECT_FALSE(Email::parse("attacker@evil.example@example.org"));
  EXPECT_FALSE(Email::parse("a%b@example.org"));
}

TEST(Domain, OneNormalForm) {
  EXPECT_EQ(*normalize_domain("Example.ORG"), "example.org");
  EXPECT_EQ(*normalize_domain("B\xc3\x9c" "CHER.example"), "xn--bcher-kva.example");
  EXPECT_EQ(*normalize_domain("xn--BCHER-kva.example"), "xn--bcher-kva.example");
  EXPECT_EQ(*normalize_domain("fa\xc3\x9f.de"), "xn--fa-hia.de");  // IDNA2008, non-transitional
  for (const char* bad : {"", "localhost", "example.org.", ".example.org", "exa_mple.org",
                          "-x.example", "x-.example", "1.2.3.4", "[::1]", "xn--zz.example",
                          "b\xff" "cher.example", "a@b.example"}) {
    EXPECT_FALSE(normalize_domain(bad)) << bad;
  }
  EXPECT_FALSE(normalize_domain(std::string(64, 'a') + ".example"));
  EXPECT_TRUE(normalize_domain(std::string(63, 'a') + ".example"));
}

TEST(WkdHash, EqualsGpgWksClientForAsciiAndIdnAddresses) {
  // gpg-wks-client --print-wkd-hash (GnuPG 2.2.40) on the same user IDs.
  auto victim = Email::from_user_id("Someone <Victim@Example.ORG>");
  ASSERT_TRUE(victim);
  EXPECT_EQ(WkdHash::of(*victim).hash(), "ko8ie44opscdx6cqz7g97dneewmsdaoh");
  auto idn = Email::from_user_id("Foo <Alice@B\xc3\xbc" "cher.Example>");
  ASSERT_TRUE(idn);
  EXPECT_EQ(WkdHash::of(*idn).hash(), "kei1q4tipxxu1yj79k9kfukdhfy631xe");
  EXPECT_EQ(WkdHash::of(*idn).domain(), "xn--bcher-kva.example");
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
