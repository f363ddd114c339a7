#include "openpgp/identifiers.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "test_data.hpp"

namespace keydir::openpgp {
namespace {

// Fingerprint::from_hex: the version and key ID, or BadQuery.
struct FingerprintCase {
  std::string name;
  std::string input;
  std::optional<Fingerprint::Version> version;  // nullopt: refused
  std::string key_id;
};

const std::string kV4 = "5B83120DB1E3A65AE5A8DCF6AA43F1DCC7FED1B7";
const std::string kV6 = "cb186c4f0609a697e4d52dfa6c722b0c1f1e27c18a56708f6525ec27bad9acc9";

TEST(Fingerprint, ParsesV4AndV6AndDerivesKeyIds) {
  using V = Fingerprint::Version;
  const FingerprintCase cases[] = {
      // RFC 9580 §5.5.4.2: v4 key ID = low 64 bits.
      {"v4 with 0x", "0x" + kV4, V::V4, "AA43F1DCC7FED1B7"},
      // RFC 9580 §5.5.4.3 and Appendix A.3: v6 key ID = high 64 bits.
      {"v6, lower case", kV6, V::V6, "CB186C4F0609A697"},
      {"v4 in groups of four", "5B83 120D B1E3 A65A E5A8  DCF6 AA43 F1DC C7FE D1B7", V::V4,
       "AA43F1DCC7FED1B7"},
      // Edge cases added with the table.
      {"v4 with 0X", "0X" + kV4, V::V4, "AA43F1DCC7FED1B7"},
      {"v4, lower case", "5b83120db1e3a65ae5a8dcf6aa43f1dcc7fed1b7", V::V4, "AA43F1DCC7FED1B7"},
      {"v4, leading and trailing spaces", " " + kV4 + " ", V::V4, "AA43F1DCC7FED1B7"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = Fingerprint::from_hex(c.input);
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(r->version(), *c.version);
    EXPECT_EQ(r->key_id().to_hex(), c.key_id);
  }
  EXPECT_EQ(Fingerprint::from_hex(kV4)->key_id().short_id(), 0xC7FED1B7u);
}

TEST(Fingerprint, RefusesOtherLengths) {
  const FingerprintCase cases[] = {
      {"empty", "", std::nullopt, ""},
      {"4 digits", "ABCD", std::nullopt, ""},
      {"39 digits", kV4.substr(1), std::nullopt, ""},
      {"not hex", "XX" + kV4.substr(2), std::nullopt, ""},
      // Edge cases added with the table.
      {"0x alone", "0x", std::nullopt, ""},
      {"41 digits", kV4 + "0", std::nullopt, ""},
      {"63 digits", kV6.substr(1), std::nullopt, ""},
      {"65 digits", kV6 + "0", std::nullopt, ""},
      {"a key ID (16 digits)", "AA43F1DCC7FED1B7", std::nullopt, ""},
      {"0x twice", "0x0x" + kV4, std::nullopt, ""},
      {"tab-separated groups", "5B83\t120DB1E3A65AE5A8DCF6AA43F1DCC7FED1B7", std::nullopt, ""},
      {"CRLF at the end", kV4 + "\r\n", std::nullopt, ""},
      {"an embedded NUL", kV4.substr(0, 20) + std::string(1, '\0') + kV4.substr(20), std::nullopt,
       ""},
      {"non-ASCII digits (fullwidth)", "\xef\xbc\x95" + kV4.substr(1), std::nullopt, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = Fingerprint::from_hex(c.input);
    ASSERT_FALSE(r) << r->to_hex();
    EXPECT_EQ(r.error().code, ErrorCode::BadQuery);
    EXPECT_EQ(r.error().detail, "a fingerprint is 40 (v4) or 64 (v6) hex digits");
  }
}

TEST(KeyId, FromHex) {
  struct KeyIdCase {
    std::string name;
    std::string input;
    std::string expected;  // "": refused
  };
  const KeyIdCase cases[] = {
      {"16 digits with 0x", "0xAA43F1DCC7FED1B7", "AA43F1DCC7FED1B7"},
      {"a short key ID", "C7FED1B7", ""},
      // Edge cases added with the table.
      {"16 digits, lower case, no prefix", "aa43f1dcc7fed1b7", "AA43F1DCC7FED1B7"},
      {"0X prefix", "0XAA43F1DCC7FED1B7", "AA43F1DCC7FED1B7"},
      {"empty", "", ""},
      {"15 digits", "AA43F1DCC7FED1B", ""},
      {"17 digits", "AA43F1DCC7FED1B70", ""},
      {"in groups of four", "AA43 F1DC C7FE D1B7", ""},
      {"a v4 fingerprint", kV4, ""},
      {"an embedded NUL", std::string("AA43F1DC\0C7FED1B7", 17), ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = KeyId::from_hex(c.input);
    if (c.expected.empty()) {
      ASSERT_FALSE(r) << r->to_hex();
      EXPECT_EQ(r.error().code, ErrorCode::BadQuery);
      EXPECT_EQ(r.error().detail, "a key ID is 16 hex digits");
    } else {
      ASSERT_TRUE(r) << r.error().detail;
      EXPECT_EQ(r->to_hex(), c.expected);
    }
  }
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

// A user ID or query: the address it gives, or the reason it gives none.
struct AddressCase {
  std::string name;
  std::string input;
  std::string address;  // "" when refused
  std::string reason;   // the error's whole detail when refused
};

// `n` octets of "a.b.c…" labels of at most 63 ending in ".example" (8 octets).
std::string domain_of_length(std::size_t n) {
  std::string d;
  std::size_t body = n - 8;
  while (d.size() < body) {
    std::size_t label = std::min<std::size_t>(63, body - d.size());
    if (!d.empty()) {
      label = std::min<std::size_t>(63, body - d.size() - 1);
      d += '.';
    }
    d += std::string(label, 'd');
  }
  return d + ".example";
}

void check_address(const AddressCase& c, Result<Email> (*parse)(std::string_view)) {
  SCOPED_TRACE(c.name);
  auto e = parse(c.input);
  if (c.address.empty()) {
    ASSERT_FALSE(e) << "gave " << e->address();
    EXPECT_EQ(e.error().code, ErrorCode::BadQuery);
    EXPECT_EQ(e.error().detail, c.reason);
  } else {
    ASSERT_TRUE(e) << e.error().detail;
    EXPECT_EQ(e->address(), c.address);
  }
}

TEST(Email, SaysWhyAUserIdHasNoAddress) {
  const std::string no = "no e-mail address: ";
  const AddressCase cases[] = {
      {"two addresses", "Someone <victim@example.org> <attacker@evil.example>", "",
       no + "more than one address (a second '@', '<' or '>'): ambiguous, none is taken"},
      {"two '@'", "<attacker@evil.example@example.org>", "",
       no + "the address does not hold exactly one '@'"},
      {"'%' routing", "<a%b@example.org>", "",
       no + "'%' and '!' route mail through another host: not accepted"},
      {"quoted local part", "<\"v\"@example.org>", "", no + "quoted local parts are not accepted"},
      {"zero-width space", "<vic\xe2\x80\x8btim@example.org>", "",
       no + "the local part holds U+200B, an invisible, control or unassigned character"},
      {"not NFC", "<ju\xcc\x88rgen@example.org>", "",
       no + "the local part is not in Unicode normal form NFC"},
      {"one label", "<victim@localhost>", "", no + "a domain name needs at least two labels"},
      {"U-label not in normal form",
       "<alice@B\xc3\x9c"
       "CHER.example>",
       "",
       no + "the domain's Unicode labels are not in their normal form (NFC, lower case): "
            "write xn--bcher-kva.example"},
      // Edge cases added with the table.
      {"empty", "", "", no + "no <address>, and the whole text is not a plain address"},
      {"empty <>", "Alice <>", "", no + "empty <>"},
      {"'<' not closed", "Alice <alice@example.org", "", no + "'<' without a closing '>'"},
      {"CRLF after the address", "Alice <alice@example.org>\r\n", "",
       no + "the text holds a control character"},
      {"an embedded NUL", std::string("Alice <alice@exa\0mple.org>", 26), "",
       no + "the text holds a control character"},
      {"local part of 64 octets, the most allowed", "<" + std::string(64, 'l') + "@example.org>",
       std::string(64, 'l') + "@example.org", ""},
      {"local part of 65 octets", "<" + std::string(65, 'l') + "@example.org>", "",
       no + "the local part is longer than 64 octets"},
      {"address of 254 octets, the most allowed",
       "<" + std::string(64, 'l') + "@" + domain_of_length(189) + ">",
       std::string(64, 'l') + "@" + domain_of_length(189), ""},
      {"address of 255 octets", "<" + std::string(64, 'l') + "@" + domain_of_length(190) + ">", "",
       no + "e-mail address longer than 254 octets"},
      {"empty local part", "<@example.org>", "", no + "the address has no local part or no domain"},
      {"trailing dot", "<alice@example.org.>", "", no + "the address ends with a dot"},
      {"empty domain label", "<alice@example..org>", "", no + "the domain has an empty label"},
      {"empty dot-separated word", "<alice..b@example.org>", "",
       no + "the local part has an empty dot-separated word"},
      {"'!' routing", "<a!b@example.org>", "",
       no + "'%' and '!' route mail through another host: not accepted"},
      {"local part not UTF-8", "<a\xff@example.org>", "", no + "the local part is not valid UTF-8"},
      {"address literal", "<alice@[127.0.0.1]>", "",
       no + "a domain name holds '[' (letters, digits and '-' only)"},
      {"non-ASCII local part in NFC", "Zo\xc3\xab <zo\xc3\xab@example.org>",
       "zo\xc3\xab@example.org", ""},
      {"upper case is folded (ASCII only)", "<Alice@EXAMPLE.org>", "alice@example.org", ""},
  };
  for (const auto& c : cases) {
    check_address(c, &Email::of_user_id);
  }
}

TEST(Email, QueriesFollowTheSameRules) {
  const AddressCase cases[] = {
      {"U-label domain",
       "Alice@B\xc3\xbc"
       "cher.Example",
       "alice@xn--bcher-kva.example", ""},
      {"A-label domain in <>", "<alice@xn--bcher-kva.example>", "alice@xn--bcher-kva.example", ""},
      {"two '@'", "attacker@evil.example@example.org", "",
       "no e-mail address: no <address>, and the whole text is not a plain address"},
      {"'%' routing", "a%b@example.org", "",
       "no e-mail address: '%' and '!' route mail through another host: not accepted"},
      // Edge cases added with the table.
      {"empty", "", "",
       "no e-mail address: no <address>, and the whole text is not a plain address"},
      {"a trailing newline", "alice@example.org\n", "",
       "no e-mail address: the text holds a control character"},
      {"a space inside", "ali ce@example.org", "",
       "no e-mail address: no <address>, and the whole text is not a plain address"},
  };
  for (const auto& c : cases) {
    check_address(c, &Email::parse);
  }
  auto u = Email::parse(
      "Alice@B\xc3\xbc"
      "cher.Example");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->local_part(), "alice");
  EXPECT_EQ(u->domain(), "xn--bcher-kva.example");
  EXPECT_EQ(*u, *Email::parse("<alice@xn--bcher-kva.example>"));
}

TEST(Domain, OneNormalForm) {
  struct DomainCase {
    std::string name;
    std::string input;
    std::string expected;  // "": refused
  };
  const DomainCase cases[] = {
      {"ASCII is lower-cased", "Example.ORG", "example.org"},
      {"U-labels become A-labels",
       "B\xc3\x9c"
       "CHER.example",
       "xn--bcher-kva.example"},
      {"A-labels are lower-cased", "xn--BCHER-kva.example", "xn--bcher-kva.example"},
      {"IDNA2008, non-transitional", "fa\xc3\x9f.de", "xn--fa-hia.de"},
      {"empty", "", ""},
      {"one label", "localhost", ""},
      {"trailing dot", "example.org.", ""},
      {"leading dot", ".example.org", ""},
      {"underscore", "exa_mple.org", ""},
      {"leading hyphen", "-x.example", ""},
      {"trailing hyphen", "x-.example", ""},
      {"IPv4 address", "1.2.3.4", ""},
      {"IPv6 literal", "[::1]", ""},
      {"bad A-label", "xn--zz.example", ""},
      {"not UTF-8",
       "b\xff"
       "cher.example",
       ""},
      {"an address", "a@b.example", ""},
      {"label of 64 octets", std::string(64, 'a') + ".example", ""},
      {"label of 63 octets, the most allowed", std::string(63, 'a') + ".example",
       std::string(63, 'a') + ".example"},
      // Edge cases added with the table.
      {"253 octets, the most allowed", domain_of_length(253), domain_of_length(253)},
      {"254 octets", domain_of_length(254), ""},
      {"far too long (over 1024 octets)", domain_of_length(1100), ""},
      {"empty label", "example..org", ""},
      {"a space", "exa mple.org", ""},
      {"CRLF at the end", "example.org\r\n", ""},
      {"an embedded NUL", std::string("exa\0mple.org", 12), ""},
      {"digits and hyphens inside a label", "a-1.example", "a-1.example"},
      {"upper-case U-label",
       "B\xc3\x9c"
       "CHER.example",
       "xn--bcher-kva.example"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = normalize_domain(c.input);
    if (c.expected.empty()) {
      ASSERT_FALSE(r) << "gave " << *r;
      EXPECT_EQ(r.error().code, ErrorCode::BadQuery);
    } else {
      ASSERT_TRUE(r) << r.error().detail;
      EXPECT_EQ(*r, c.expected);
    }
  }
}

TEST(WkdHash, EqualsGpgWksClientForAsciiAndIdnAddresses) {
  struct WkdCase {
    std::string name;
    std::string user_id;
    std::string hash;
    std::string domain;
  };
  const WkdCase cases[] = {
      // gpg-wks-client --print-wkd-hash (GnuPG 2.2.40) on the same user IDs.
      {"ASCII", "Someone <Victim@Example.ORG>", "ko8ie44opscdx6cqz7g97dneewmsdaoh", "example.org"},
      {"IDN",
       "Foo <Alice@B\xc3\xbc"
       "cher.Example>",
       "kei1q4tipxxu1yj79k9kfukdhfy631xe", "xn--bcher-kva.example"},
      // draft-koch-openpgp-webkey-service §3.1: "Joe.Doe@Example.ORG".
      {"the draft's example", "Joe.Doe@Example.ORG", "iy9q119eutrkn8s1mk4r39qejnbu3n5q",
       "example.org"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto e = Email::from_user_id(c.user_id);
    ASSERT_TRUE(e);
    auto w = WkdHash::of(*e);
    EXPECT_EQ(w.hash(), c.hash);
    EXPECT_EQ(w.domain(), c.domain);
  }
}

TEST(WkdHash, MatchesTheDraftExample) {
  struct PartsCase {
    std::string name;
    std::string domain;
    std::string hash;
    std::string expected_domain;  // "": refused
  };
  const std::string h = "iy9q119eutrkn8s1mk4r39qejnbu3n5q";
  const PartsCase cases[] = {
      {"the draft's example", "Example.ORG", h, "example.org"},
      {"31 characters", "example.org", h.substr(1), ""},
      // Edge cases added with the table.
      {"33 characters", "example.org", h + "y", ""},
      {"empty hash", "example.org", "", ""},
      {"not z-base-32 ('l' and 'v' are not in it)", "example.org", "l" + h.substr(1), ""},
      {"upper case is not z-base-32", "example.org", "IY9Q" + h.substr(4), ""},
      {"empty domain", "", h, ""},
      {"domain of 253 octets", domain_of_length(253), h, domain_of_length(253)},
      {"domain of 254 octets", domain_of_length(254), h, ""},
      {"an embedded NUL in the hash", "example.org", h.substr(0, 31) + std::string(1, '\0'), ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = WkdHash::from_parts(c.domain, c.hash);
    if (c.expected_domain.empty()) {
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().code, ErrorCode::BadQuery);
    } else {
      ASSERT_TRUE(r) << r.error().detail;
      EXPECT_EQ(r->hash(), c.hash);
      EXPECT_EQ(r->domain(), c.expected_domain);
    }
  }
}

}  // namespace
}  // namespace keydir::openpgp
