// The client's offline parts: queries, server URLs, the HKP index grammar,
// and the check that an answer is the key asked for.
#include "client/remote.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <new>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cert_generator.hpp"
#include "common/limits.hpp"
#include "openpgp/certificate.hpp"
#include "openpgp/types.hpp"
#include "test_data.hpp"

namespace keydir::client {
namespace {

// classify: what a fetch asks for ("fpr:HEX", "keyid:HEX", "email:ADDRESS"),
// or the error code and part of its detail.
struct ClassifyCase {
  std::string name;
  std::string query;
  std::string expected;  // "" when refused
  ErrorCode code;
  std::string detail;
};

std::string describe(const FetchQuery& q) {
  if (q.fingerprint) {
    return "fpr:" + q.fingerprint->to_hex();
  }
  if (q.key_id) {
    return "keyid:" + q.key_id->to_hex();
  }
  if (q.email) {
    return "email:" + q.email->address();
  }
  return "nothing";
}

TEST(Client, ClassifiesQueries) {
  const std::string fpr = "FC5D7A6980F7E484468DB87F65C71B0D2BE692AA";
  const std::string v6 = "CB186C4F0609A697E4D52DFA6C722B0C1F1E27C18A56708F6525EC27BAD9ACC9";
  const auto ok = ErrorCode::Internal;  // unused when accepted
  const std::string not_a_query =
      "not a fingerprint (40 or 64 hex digits), a key ID (16) or an e-mail address";
  const ClassifyCase cases[] = {
      {"fingerprint with 0x, in groups", "0xFC5D 7A69 80F7 E484 468D B87F 65C7 1B0D 2BE6 92AA",
       "fpr:" + fpr, ok, ""},
      {"key ID, lower case", "65c71b0d2be692aa", "keyid:65C71B0D2BE692AA", ok, ""},
      {"user ID with an address", "Alice <Alice@Example.org>", "email:alice@example.org", ok, ""},
      {"short key ID", "0x2BE692AA", "", ErrorCode::ShortKeyIdRefused,
       "32-bit key IDs are not unique"},
      {"a word", "hello", "", ErrorCode::BadQuery, not_a_query},
      {"empty", "", "", ErrorCode::BadQuery, not_a_query},
      // Edge cases added with the table.
      {"fingerprint without 0x", fpr, "fpr:" + fpr, ok, ""},
      {"fingerprint with 0X", "0X" + fpr, "fpr:" + fpr, ok, ""},
      {"v6 fingerprint", v6, "fpr:" + v6, ok, ""},
      {"key ID with 0x", "0x65C71B0D2BE692AA", "keyid:65C71B0D2BE692AA", ok, ""},
      {"short key ID without 0x", "2be692aa", "", ErrorCode::ShortKeyIdRefused, "32-bit"},
      {"bare address", "alice@example.org", "email:alice@example.org", ok, ""},
      {"0x alone", "0x", "", ErrorCode::BadQuery, not_a_query},
      {"39 digits", fpr.substr(1), "", ErrorCode::BadQuery, not_a_query},
      {"41 digits", fpr + "A", "", ErrorCode::BadQuery, not_a_query},
      {"15 digits", "65C71B0D2BE692A", "", ErrorCode::BadQuery, not_a_query},
      {"17 digits", "65C71B0D2BE692AA0", "", ErrorCode::BadQuery, not_a_query},
      {"65 digits", v6 + "0", "", ErrorCode::BadQuery, not_a_query},
      {"white space only", "   ", "", ErrorCode::BadQuery, not_a_query},
      {"key ID + CRLF", "65C71B0D2BE692AA\r\n", "", ErrorCode::BadQuery, not_a_query},
      {"key ID + tab", "65C71B0D2BE692AA\t", "", ErrorCode::BadQuery, not_a_query},
      {"an embedded NUL", std::string("65C71B0D\0002BE692AA", 17), "", ErrorCode::BadQuery,
       not_a_query},
      {"non-ASCII", "Zo\xc3\xab", "", ErrorCode::BadQuery, not_a_query},
      {"an address that does not parse", "a@b@example.org", "", ErrorCode::BadQuery,
       "no e-mail address: "},
      {"an address with CRLF", "alice@example.org\r\n", "", ErrorCode::BadQuery,
       "no e-mail address: the text holds a control character"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = classify(c.query);
    if (c.expected.empty()) {
      ASSERT_FALSE(r) << describe(*r);
      EXPECT_EQ(r.error().code, c.code) << error_code_name(r.error().code);
      EXPECT_NE(r.error().detail.find(c.detail), std::string::npos) << r.error().detail;
    } else {
      ASSERT_TRUE(r) << r.error().detail;
      EXPECT_EQ(describe(*r), c.expected);
    }
  }
}

TEST(Client, ServerUrls) {
  EXPECT_EQ(net::server_base("hkp://keys.example.org"), "http://keys.example.org:11371");
  EXPECT_EQ(net::server_base("hkp://keys.example.org:8080/"), "http://keys.example.org:8080");
  EXPECT_EQ(net::server_base("hkps://keys.example.org"), "https://keys.example.org");
  EXPECT_EQ(net::server_base("HTTPS://keys.example.org/"), "https://keys.example.org");
  EXPECT_EQ(net::server_base("http://127.0.0.1:11371"), "http://127.0.0.1:11371");
  EXPECT_FALSE(net::server_base("keys.example.org"));
  EXPECT_FALSE(net::server_base("ftp://keys.example.org"));
  EXPECT_FALSE(net::server_base("hkp://"));
}

TEST(Client, ParsesTheMachineReadableIndex) {
  auto e = parse_mr_index(
      "info:1:2\npub:FC5D7A6980F7E484468DB87F65C71B0D2BE692AA:22:255:1700000000::\n"
      "uid:Zo%C3%AB %3Ca%3A%25b%40x%3E:1700000000::\n"
      "pub:0123456789abcdef:1:4096:1600000000:1700000000:r\r\nuid:Bob <bob@x>:::\n"
      "sig:future line type:1\n\n");
  ASSERT_TRUE(e) << e.error().detail;
  ASSERT_EQ(e->size(), 2u);
  EXPECT_EQ((*e)[0].algorithm, 22);
  EXPECT_EQ((*e)[0].bits, 255u);
  EXPECT_EQ((*e)[0].created, 1700000000u);
  EXPECT_FALSE((*e)[0].expires);
  EXPECT_EQ((*e)[0].user_ids, std::vector<std::string>{"Zo\xC3\xAB <a:%b@x>"});
  EXPECT_EQ((*e)[1].key, "0123456789ABCDEF");
  EXPECT_EQ((*e)[1].flags, "r");
  EXPECT_EQ((*e)[1].expires, 1700000000u);
  EXPECT_EQ((*e)[1].user_ids.size(), 1u);
  // Small indexes: the number of entries and the user IDs of each.
  struct IndexCase {
    std::string name;
    std::string text;
    std::vector<std::vector<std::string>> user_ids;  // per entry
  };
  const std::string k = "pub:0123456789ABCDEF";
  const IndexCase cases[] = {
      {"empty", "", {}},
      {"unknown lines", "garbage\n:::\n", {}},
      // Fields may be empty or left out (all but the key).
      {"sparse", k + "\n" + k + ":::::\n", {{}, {}}},
      // Edge cases added with the table.
      {"blank lines only", "\n\r\n\n", {}},
      {"CRLF throughout", k + "\r\nuid:a:::\r\n", {{"a"}}},
      {"no newline at the end", k + "\nuid:a:::", {{"a"}}},
      {"an escaped NUL in a user ID is decoded",
       k + "\nuid:a%00b:::\n",
       {{std::string("a\0b", 3)}}},
      {"non-ASCII user ID", k + "\nuid:Zo\xc3\xab:::\n", {{"Zo\xc3\xab"}}},
      {"user ID of 4096 octets, the most allowed",
       k + "\nuid:" + std::string(4096, 'a') + "\n",
       {{std::string(4096, 'a')}}},
      {"two user IDs", k + "\nuid:a:::\nuid:b:::\n", {{"a", "b"}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = parse_mr_index(c.text);
    ASSERT_TRUE(r) << r.error().detail;
    ASSERT_EQ(r->size(), c.user_ids.size());
    for (std::size_t i = 0; i < r->size(); ++i) {
      EXPECT_EQ((*r)[i].user_ids, c.user_ids[i]) << "entry " << i;
    }
  }
  auto sparse = parse_mr_index(k + "\n");
  ASSERT_TRUE(sparse);
  EXPECT_FALSE(sparse->front().algorithm);
  EXPECT_FALSE(sparse->front().created);
}

// Every hostile line a server can send: an error with the line's number and
// the reason, never an exception, never a wrong entry.
TEST(Client, RefusesHostileIndexLines) {
  const std::string fpr = "FC5D7A6980F7E484468DB87F65C71B0D2BE692AA";
  const std::string long_uid = "uid:" + std::string(kMaxIndexUserIdBytes + 1, 'a') + "\n";
  const std::string long_escaped = "uid:" + [] {
    std::string s;
    for (std::size_t i = 0; i < kMaxIndexUserIdBytes + 1; ++i) {
      s += "%41";
    }
    return s;
  }() + "\n";
  struct Case {
    std::string name;
    std::string text;
    std::string reason;  // part of the error
  };
  const std::vector<Case> cases = {
      {"non-numeric creation date (the old crash)", "pub:" + fpr + ":1:2048:x::\n",
       "line 1: the creation date \"x\" is not a decimal number"},
      {"non-numeric expiry", "pub:" + fpr + ":1:2048:1:never:\n", "the expiry date \"never\""},
      {"non-numeric algorithm", "pub:" + fpr + ":rsa:2048:::\n", "the algorithm \"rsa\""},
      {"negative bits", "pub:" + fpr + ":1:-2048:::\n", "the key length \"-2048\""},
      {"plus sign", "pub:" + fpr + ":1:+2048:::\n", "the key length \"+2048\""},
      {"spaces in a number", "pub:" + fpr + ":1: 2048:::\n", "the key length \" 2048\""},
      {"hex number", "pub:" + fpr + ":0x1:2048:::\n", "the algorithm \"0x1\""},
      {"algorithm above 255", "pub:" + fpr + ":256:2048:::\n", "the algorithm 256 is larger"},
      {"huge bits", "pub:" + fpr + ":1:99999999:::\n", "the key length 99999999 is larger"},
      {"date beyond uint64", "pub:" + fpr + ":1:2048:99999999999999999999999::\n", "is too large"},
      {"date beyond year 9999", "pub:" + fpr + ":1:2048:253402300800::\n", "is larger than"},
      {"date in a uid line", "pub:" + fpr + "\nuid:a:yesterday::\n",
       "line 2: the creation date \"yesterday\""},
      {"empty key", "pub::1:2048:::\n", "key \"\" is not hex"},
      {"key not hex", "pub:" + std::string(40, 'G') + ":1:2048:::\n", "is not hex"},
      {"key of a wrong length", "pub:0123456789ABCDE:1:2048:::\n", "is not hex"},
      {"too many fields", "pub:" + fpr + ":1:2048:1:2:r:extra\n", "has 8 fields, 2 to 7"},
      {"far too many fields", "pub:" + fpr + std::string(1000, ':') + "\n", "fields, 2 to 7"},
      {"too few fields", "pub\n", "has 1 fields, 2 to 7"},
      {"uid without a user ID field", "pub:" + fpr + "\nuid\n", "a uid line has 1 fields"},
      {"uid with too many fields", "pub:" + fpr + "\nuid:a:1:2:r:x\n", "a uid line has 6"},
      {"uid before any pub", "uid:Orphan <o@x>:::\n", "a uid line before any pub line"},
      {"flags not letters", "pub:" + fpr + ":1:2048:::r;d\n", "the flags"},
      {"overlong line", "pub:" + fpr + ":1:2048:::" + std::string(kMaxIndexLineBytes, 'r') + "\n",
       "line 1: longer than 16384 octets"},
      {"overlong user ID", "pub:" + fpr + "\n" + long_uid, "a user ID longer than 4096"},
      {"overlong escaped user ID", "pub:" + fpr + "\n" + long_escaped, "a user ID longer"},
      {"NUL octet in a field",
       "pub:" + fpr +
           std::string(":1:20\x00"
                       "48:::\n",
                       11),
       "control octet \\x00"},
      {"NUL octet in a user ID", "pub:" + fpr + std::string("\nuid:a\0b:::\n", 12),
       "line 2: control octet \\x00"},
      {"escape in a user ID", "pub:" + fpr + "\nuid:\x1b[2Jhi:::\n", "control octet \\x1B"},
      {"unsupported version", "info:2:1\npub:" + fpr + "\n", "index version 2 is not supported"},
      {"info version not a number", "info:one:1\n", "the index version \"one\""},
      {"info count too large", "info:1:99999999999\n", "the count 99999999999 is larger"},
  };
  for (const auto& c : cases) {
    auto r = parse_mr_index(c.text);
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(r.error().code, ErrorCode::AnswerDidNotVerify) << c.name;
    EXPECT_NE(r.error().detail.find(c.reason), std::string::npos)
        << c.name << ": " << r.error().detail;
    EXPECT_EQ(r.error().detail.find('\n'), std::string::npos) << c.name;
  }
}

TEST(Client, PrintsTheIndexSafely) {
  auto e = parse_mr_index(
      "pub:FC5D7A6980F7E484468DB87F65C71B0D2BE692AA:22:255:1700000000::\n"
      "uid:Evil %1B]0;owned%07 %E2%80%AE<x@y> %C2%9B2J:::\n"
      "pub:0123456789ABCDEF:200:::\nuid:bad %FF utf8:::\n");
  ASSERT_TRUE(e) << e.error().detail;
  std::ostringstream text;
  print_index(*e, false, text);
  EXPECT_EQ(text.str().find('\x1b'), std::string::npos) << text.str();
  EXPECT_EQ(text.str().find('\x07'), std::string::npos);
  EXPECT_NE(text.str().find("Evil \\x1B]0;owned\\x07 \\xE2\\x80\\xAE<x@y> \\xC2\\x9B2J"),
            std::string::npos)
      << text.str();
  EXPECT_NE(text.str().find("bad \\xFF utf8"), std::string::npos);
  EXPECT_NE(text.str().find("2023-11-14"), std::string::npos);
  EXPECT_NE(text.str().find("EdDSALegacy"), std::string::npos);
  EXPECT_NE(text.str().find("  200          -     -"), std::string::npos) << text.str();
  std::ostringstream js;
  print_index(*e, true, js);
  auto parsed = nlohmann::json::parse(js.str());
  EXPECT_EQ(parsed[0]["created"], "2023-11-14");
  EXPECT_EQ(parsed[0]["bits"], "255");
  EXPECT_TRUE(parsed[1]["created"].is_null());
}

// fuzz_client (tests/fuzz/regressions/client/index-uid-del-in-json): a user
// ID's %7F reached the JSON printout as a raw DEL; C1 controls and bidi
// overrides passed raw too. The JSON is ASCII and still decodes to the text.
TEST(Client, PrintsTheIndexJsonAsAscii) {
  auto e = parse_mr_index(
      "pub:FC5DA84A\nuid:a%7Fb %C2%9B2J %E2%80%AE<x@y> Zo%C3%AB %F0%9F%94%91 bad %FF:::\n");
  ASSERT_TRUE(e) << e.error().detail;
  std::ostringstream js;
  print_index(*e, true, js);
  for (char c : js.str()) {
    EXPECT_TRUE(static_cast<unsigned char>(c) >= 0x20 || c == '\n') << js.str();
    EXPECT_LT(static_cast<unsigned char>(c), 0x7F) << js.str();
  }
  auto parsed = nlohmann::json::parse(js.str());
  EXPECT_EQ(parsed[0]["user_ids"][0],
            "a\x7F"
            "b \xC2\x9B"
            "2J \xE2\x80\xAE<x@y> Zo\xC3\xAB \xF0\x9F\x94\x91 bad \xEF\xBF\xBD");
  EXPECT_NE(js.str().find("a\\u007fb \\u009b2J \\u202e<x@y> Zo\\u00eb \\ud83d\\udd11 bad \\ufffd"),
            std::string::npos)
      << js.str();
}

TEST(Client, PrintableText) {
  EXPECT_EQ(printable("Zo\xC3\xAB <a@b>"), "Zo\xC3\xAB <a@b>");
  EXPECT_EQ(printable("a\x1b[31mb\r\n\x7f"), "a\\x1B[31mb\\x0D\\x0A\\x7F");
  EXPECT_EQ(printable("\xC0\xAF"), "\\xC0\\xAF");                // overlong '/'
  EXPECT_EQ(printable("\xED\xA0\x80"), "\\xED\\xA0\\x80");       // a surrogate
  EXPECT_EQ(printable("\xE2\x80\xAE"), "\\xE2\\x80\\xAE");       // RIGHT-TO-LEFT OVERRIDE
  EXPECT_EQ(printable("\xF0\x9F\x94\x91"), "\xF0\x9F\x94\x91");  // a key emoji
  EXPECT_EQ(printable("\xE2\x82"), "\\xE2\\x82");                // cut short
  EXPECT_EQ(printable(std::string(10, 'a'), 4), "aaaa…");
}

TEST(Client, ServerReasons) {
  EXPECT_EQ(server_reason("text/plain", "key not found\nmore"), "key not found");
  EXPECT_EQ(server_reason("application/json", R"({"error":"no such key\n\u001b[2J"})"),
            "no such key");
  EXPECT_EQ(server_reason("application/json", R"({"error":"\u001b[2Jbad"})"), "\\x1B[2Jbad");
  EXPECT_EQ(server_reason("application/json", R"({"error":42})"), R"({"error":42})");
  EXPECT_EQ(server_reason("application/json", "[[[["), "[[[[");
  EXPECT_EQ(server_reason("text/plain", std::string(1000, 'x')).size(), 200u + 3u);
  EXPECT_EQ(server_reason("text/plain", ""), "");
}

TEST(Client, ChecksVksAnswers) {
  const std::string fpr = "FC5D7A6980F7E484468DB87F65C71B0D2BE692AA";
  auto ok = parse_vks_answer(R"({"key_fpr":"fc5d7a6980f7e484468db87f65c71b0d2be692aa",)"
                             R"("token":"abc.DEF-1","status":{"a@example.org":"unpublished"}})");
  ASSERT_TRUE(ok) << ok.error().detail;
  EXPECT_EQ(ok->fpr, fpr);
  EXPECT_EQ(ok->status.size(), 1u);
  struct Case {
    std::string name, body, reason;
  };
  const std::string good_head = R"({"key_fpr":")" + fpr + R"(","token":"t",)";
  std::string many = good_head + R"("status":{)";
  for (int i = 0; i < 65; ++i) {
    many += (i ? "," : "") + std::string("\"a") + std::to_string(i) + "@example.org\":\"pending\"";
  }
  many += "}}";
  const std::vector<Case> cases = {
      {"not JSON", "<html>", "is not a JSON object"},
      {"an array", "[1,2]", "is not a JSON object"},
      {"deeply nested", std::string(100000, '[') + std::string(100000, ']'), "not a JSON object"},
      {"no key_fpr", R"({"token":"t","status":{}})", "has no key_fpr"},
      {"key_fpr a number", R"({"key_fpr":1,"token":"t","status":{}})", "has no key_fpr"},
      {"key_fpr not hex", R"({"key_fpr":"zz","token":"t","status":{}})", "is not a fingerprint"},
      {"no token", R"({"key_fpr":")" + fpr + R"(","status":{}})", "has no token"},
      {"token with a newline", R"({"key_fpr":")" + fpr + R"(","token":"a\nb","status":{}})",
       "token is not"},
      {"token too long",
       R"({"key_fpr":")" + fpr + R"(","token":")" + std::string(1025, 't') + R"(","status":{}})",
       "token is not"},
      {"status an array", good_head + R"("status":[]})", "has no status object"},
      {"status not an address", good_head + R"("status":{"nobody":"pending"}})",
       "\"nobody\", which is not an e-mail address"},
      {"status with a name", good_head + R"("status":{"A <a@b.org>":"pending"}})",
       "not an e-mail address"},
      {"state a number", good_head + R"("status":{"a@b.org":1}})", "is not a state name"},
      {"state with escapes", good_head + R"("status":{"a@b.org":"\u001b[2J"}})",
       "is not a state name"},
      {"too many addresses", many, "names 65 addresses"},
  };
  for (const auto& c : cases) {
    auto r = parse_vks_answer(c.body);
    ASSERT_FALSE(r) << c.name;
    EXPECT_NE(r.error().detail.find(c.reason), std::string::npos)
        << c.name << ": " << r.error().detail;
  }
  EXPECT_TRUE(parse_vks_answer(R"({"status":{"a@b.org":"pending"}})", true));
}

TEST(Client, AnAnswerMustBeTheKeyAskedFor) {
  auto multi = test::fixture("gpg-multi.asc");
  auto q = classify("FC5D7A6980F7E484468DB87F65C71B0D2BE692AA");
  ASSERT_TRUE(q);
  EXPECT_TRUE(check_answer(multi, *q, test::kNow));
  // Its encryption subkey's key ID: a subkey, and one that does not prove
  // possession, so refused with and without --subkey.
  auto sub = classify("0x86CDE6989B78F56C");
  ASSERT_TRUE(sub);
  auto by_sub = check_answer(multi, *sub, test::kNow);
  ASSERT_FALSE(by_sub);
  EXPECT_EQ(by_sub.error().exit_code, kExitWrongKey);
  EXPECT_NE(by_sub.error().detail.find("only as a subkey"), std::string::npos);
  sub->subkey = true;
  by_sub = check_answer(multi, *sub, test::kNow);
  ASSERT_FALSE(by_sub);
  EXPECT_NE(by_sub.error().detail.find("does not prove possession"), std::string::npos);
  auto other = check_answer(test::fixture("gpg-rsa2048.asc"), *q, test::kNow);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().exit_code, kExitWrongKey);
  auto addr = classify("second@keydir.test");
  EXPECT_TRUE(check_answer(multi, *addr, test::kNow));
  auto revoked = classify("gone@keydir.test");  // only on a revoked user ID
  EXPECT_FALSE(check_answer(multi, *revoked, test::kNow));
  Bytes half(multi.begin(), multi.begin() + static_cast<std::ptrdiff_t>(multi.size() / 2));
  auto cut = check_answer(half, *q, test::kNow);
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().exit_code, kExitBadAnswer);
  auto html = check_answer(as_bytes(std::string_view("<html>")), *q, test::kNow);
  ASSERT_FALSE(html);
  EXPECT_EQ(html.error().exit_code, kExitBadAnswer);
  auto tampered =
      check_answer(test::fixture("gpg-multi.asc"), *classify("nobody@keydir.test"), test::kNow);
  EXPECT_FALSE(tampered);
  // Two certificates for one fingerprint: refused, even though one is right.
  Bytes two = multi;
  append(two, test::fixture("gpg-rsa2048.asc"));
  auto both = check_answer(two, *q, test::kNow);
  ASSERT_FALSE(both);
  EXPECT_EQ(both.error().exit_code, kExitWrongKey);
  EXPECT_NE(both.error().detail.find("holds 2 keys"), std::string::npos) << both.error().detail;
}

// Issue #16 part 1 on the client: a certificate that carries the victim's
// primary key as its own (authentication) subkey is never the victim's key.
TEST(Client, RefusesTheSubkeySquat) {
  std::array<std::uint8_t, 32> victim_seed{}, signing_seed{};
  for (std::size_t i = 0; i < 32; ++i) {
    victim_seed[i] = static_cast<std::uint8_t>(i * 3 + 1);
    signing_seed[i] = static_cast<std::uint8_t>(i * 5 + 2);
  }
  test::CertGenerator gen(7);
  test::CertSpec victim;
  victim.user_ids = {"Victoria Victim <victim@example.org>"};
  victim.primary_seed = victim_seed;
  victim.signing_subkey_seed = signing_seed;
  const Bytes victim_cert = gen.make(victim);
  test::CertSpec squat;
  squat.user_ids = {"Mallory <mallory@evil.example>"};
  squat.created = victim.created + 100;
  squat.bound_subkeys.push_back({victim_seed, victim.created, 0x20});
  const Bytes squat_cert = gen.make(squat);

  auto parsed = openpgp::parse_certificates(victim_cert);
  ASSERT_TRUE(parsed && parsed->size() == 1 && parsed->front().cert);
  const auto& vc = *parsed->front().cert;
  const std::string victim_fpr = vc.primary.fingerprint.to_hex();
  std::string signing_fpr;
  for (const auto& s : vc.subkeys) {
    for (const auto& sig : s.signatures) {
      if (sig.key_flags && (*sig.key_flags & openpgp::kFlagSign)) {
        signing_fpr = s.key.fingerprint.to_hex();
      }
    }
  }
  ASSERT_FALSE(signing_fpr.empty());

  for (const std::string& query : {victim_fpr, "0x" + victim_fpr.substr(24)}) {
    auto q = classify(query);
    ASSERT_TRUE(q);
    EXPECT_TRUE(check_answer(victim_cert, *q, test::kNow)) << query;
    for (bool subkey : {false, true}) {
      q->subkey = subkey;
      auto r = check_answer(squat_cert, *q, test::kNow);
      ASSERT_FALSE(r) << query << " subkey=" << subkey;
      EXPECT_EQ(r.error().exit_code, kExitWrongKey);
      EXPECT_NE(r.error().detail.find(subkey ? "does not prove possession" : "only as a subkey"),
                std::string::npos)
          << r.error().detail;
    }
  }
  // The victim's own signing subkey proves possession: found with --subkey
  // only, by fingerprint and by key ID.
  for (const std::string& query : {signing_fpr, signing_fpr.substr(24)}) {
    auto q = classify(query);
    ASSERT_TRUE(q);
    auto r = check_answer(victim_cert, *q, test::kNow);
    ASSERT_FALSE(r) << query;
    EXPECT_EQ(r.error().exit_code, kExitWrongKey);
    q->subkey = true;
    EXPECT_TRUE(check_answer(victim_cert, *q, test::kNow)) << query;
  }
}

TEST(Client, WkdUrls) {
  auto e = openpgp::Email::parse("Joe.Doe@Example.ORG");
  auto [adv, direct] = wkd_urls(*e);
  EXPECT_EQ(adv,
            "https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/"
            "iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=joe.doe");
  EXPECT_EQ(direct,
            "https://example.org/.well-known/openpgpkey/hu/"
            "iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=joe.doe");
}

// Every ErrorCode with the exit code keydir gives it: the table of
// exit_codes.hpp, written out. ErrorCode has no count, so the list is by
// hand; ListsEveryErrorCode checks that it misses none.
struct ExitRow {
  ErrorCode code;
  int exit;
};
constexpr ExitRow kExitTable[] = {
    {ErrorCode::BadQuery, kExitUsage},
    {ErrorCode::ShortKeyIdRefused, kExitUsage},
    {ErrorCode::UnsupportedMediaType, kExitUsage},
    {ErrorCode::PayloadTooLarge, kExitUsage},
    {ErrorCode::UnsupportedOperation, kExitUsage},
    {ErrorCode::BadArmor, kExitUsage},
    {ErrorCode::MalformedPacket, kExitUsage},
    {ErrorCode::PacketTooLarge, kExitUsage},
    {ErrorCode::NoCertificate, kExitUsage},
    {ErrorCode::UnsupportedVersion, kExitUsage},
    {ErrorCode::SecretKeyRefused, kExitUsage},
    {ErrorCode::NoValidComponents, kExitUsage},
    {ErrorCode::WeakAlgorithm, kExitUsage},
    {ErrorCode::UnsupportedAlgorithm, kExitUsage},
    {ErrorCode::TooManyComponents, kExitUsage},
    {ErrorCode::CertificateTooLarge, kExitUsage},
    {ErrorCode::BadSignature, kExitUsage},
    {ErrorCode::Tombstoned, kExitServerRefused},
    {ErrorCode::NotFound, kExitNotFound},
    {ErrorCode::RateLimited, kExitServerRefused},
    {ErrorCode::MailFailed, kExitNetwork},
    {ErrorCode::TokenInvalid, kExitServerRefused},
    {ErrorCode::Unauthorized, kExitServerRefused},
    {ErrorCode::StorageIo, kExitNetwork},
    {ErrorCode::StorageCorruption, kExitNetwork},
    {ErrorCode::ProtocolError, kExitNetwork},
    {ErrorCode::Internal, kExitInternal},
    {ErrorCode::AnswerDidNotVerify, kExitBadAnswer},
};

TEST(ExitCodes, TheDocumentedNumbers) {
  // docs/client.md ("Exit codes") prints these numbers.
  EXPECT_EQ(kExitOk, 0);
  EXPECT_EQ(kExitNotFound, 1);
  EXPECT_EQ(kExitRefused, 1);
  EXPECT_EQ(kExitUsage, 2);
  EXPECT_EQ(kExitNetwork, 3);
  EXPECT_EQ(kExitBadAnswer, 4);
  EXPECT_EQ(kExitServerRefused, 5);
  EXPECT_EQ(kExitWrongKey, 6);
  EXPECT_EQ(kExitInternal, 7);
}

TEST(ExitCodes, ListsEveryErrorCode) {
  // The enumerators are 0, 1, 2, ... in declaration order: the list holds
  // each once, in that order (a code inserted in the middle shifts the rest).
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < std::size(kExitTable); ++i) {
    EXPECT_EQ(static_cast<std::size_t>(kExitTable[i].code), i)
        << error_code_name(kExitTable[i].code);
    names.insert(error_code_name(kExitTable[i].code));
  }
  EXPECT_EQ(names.size(), std::size(kExitTable));
  // One past the last: no enumerator (error_code_name's fallback). A code
  // appended to the enum fails here (and -Wswitch fails the build).
  const auto past = static_cast<ErrorCode>(std::size(kExitTable));
  EXPECT_EQ(error_code_name(past), "internal");
  EXPECT_NE(error_code_name(static_cast<ErrorCode>(std::size(kExitTable) - 1)), "internal");
  EXPECT_EQ(exit_code(past), kExitInternal);
}

TEST(ExitCodes, EveryErrorCodeMapsToItsDocumentedExitCode) {
  const std::set<int> documented = {kExitNotFound,      kExitUsage,    kExitNetwork, kExitBadAnswer,
                                    kExitServerRefused, kExitWrongKey, kExitInternal};
  for (const auto& row : kExitTable) {
    const int got = exit_code(row.code);
    EXPECT_EQ(got, row.exit) << error_code_name(row.code);
    EXPECT_TRUE(documented.contains(got)) << error_code_name(row.code) << " -> " << got;
    EXPECT_NE(got, kExitOk) << error_code_name(row.code);  // an error never exits 0
  }
}

TEST(ExitCodes, EachKindOfFailureHasItsOwnCode) {
  // usage: the query or the key the user gave
  EXPECT_EQ(exit_code(ErrorCode::BadQuery), 2);
  EXPECT_EQ(exit_code(ErrorCode::ShortKeyIdRefused), 2);
  EXPECT_EQ(exit_code(ErrorCode::SecretKeyRefused), 2);
  EXPECT_EQ(exit_code(ErrorCode::BadArmor), 2);
  // not found
  EXPECT_EQ(exit_code(ErrorCode::NotFound), 1);
  // network: the request failed, or the server did
  EXPECT_EQ(exit_code(net::NetError::Dns), 3);
  EXPECT_EQ(exit_code(net::NetError::Connect), 3);
  EXPECT_EQ(exit_code(net::NetError::Timeout), 3);
  EXPECT_EQ(exit_code(net::NetError::Tls), 3);
  EXPECT_EQ(exit_code(net::NetError::Protocol), 3);
  EXPECT_EQ(exit_code(net::NetError::TooLarge), 3);
  EXPECT_EQ(exit_code(net::NetError::None), 3);
  EXPECT_EQ(exit_code(net::NetError::Usage), 2);  // a URL libcurl refuses
  EXPECT_EQ(exit_code(ErrorCode::StorageIo), 3);
  // verification failure: the answer
  EXPECT_EQ(exit_code(ErrorCode::AnswerDidNotVerify), 4);
  // the server refused
  EXPECT_EQ(exit_code(ErrorCode::RateLimited), 5);
  EXPECT_EQ(exit_code(ErrorCode::Unauthorized), 5);
  // keydir's own failure
  EXPECT_EQ(exit_code(ErrorCode::Internal), 7);
}

TEST(ExitCodes, ErrorsOfTheClientGoThroughTheTable) {
  auto short_id = classify("0x12345678");
  ASSERT_FALSE(short_id);
  EXPECT_EQ(exit_code(short_id.error().code), kExitUsage);
  auto junk = classify("not a query");
  ASSERT_FALSE(junk);
  EXPECT_EQ(exit_code(junk.error().code), kExitUsage);
  auto address = openpgp::Email::parse("no-at-sign");
  ASSERT_FALSE(address);
  EXPECT_EQ(exit_code(address.error().code), kExitUsage);
  auto index = parse_mr_index("pub:XYZ:1:2048:1:0:\n");
  ASSERT_FALSE(index);
  EXPECT_EQ(exit_code(index.error().code), kExitBadAnswer);
  auto vks = parse_vks_answer("[]");
  ASSERT_FALSE(vks);
  EXPECT_EQ(exit_code(vks.error().code), kExitBadAnswer);
  // An OpenPGP error in the answer is the server's (4), not the user's (2).
  auto q = classify("0x1234567890ABCDEF");
  ASSERT_TRUE(q);
  auto garbage = check_answer(as_bytes(std::string_view("-----BEGIN PGP")), *q, test::kNow);
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().exit_code, kExitBadAnswer);
}

TEST(ExitCodes, AnEscapingExceptionIsOneLineAndExit7) {
  std::ostringstream err;
  EXPECT_EQ(run_guarded([] { return kExitServerRefused; }, err), kExitServerRefused);
  EXPECT_EQ(err.str(), "");

  EXPECT_EQ(run_guarded([]() -> int { throw std::runtime_error("boom\nsecond\x1b[2J line"); }, err),
            kExitInternal);
  EXPECT_EQ(err.str(), "keydir: internal error: boom\\x0Asecond\\x1B[2J line\n");

  err.str("");
  EXPECT_EQ(run_guarded([]() -> int { throw std::bad_alloc(); }, err), kExitInternal);
  EXPECT_EQ(err.str(), "keydir: internal error: out of memory\n");

  err.str("");
  EXPECT_EQ(run_guarded([]() -> int { throw 42; }, err), kExitInternal);
  EXPECT_EQ(err.str(), "keydir: internal error: an unknown exception\n");

  err.str("");
  EXPECT_EQ(run_guarded([]() -> int { throw std::out_of_range(std::string(5000, 'x')); }, err),
            kExitInternal);
  EXPECT_EQ(err.str(), "keydir: internal error: " + std::string(300, 'x') + "…\n");
  EXPECT_EQ(exit_code(ErrorCode::Internal), kExitInternal);
}

// --- keydir upload: the /pks/add answer, Retry-After, the operator token ----

TEST(Upload, ReadsTheAnswerPerKey) {
  const std::string a(40, 'A');
  const std::string b(64, 'b');
  auto got = parse_add_answer("new " + a +
                              "\n"
                              "  published alice@example.org\n"
                              "  withheld bob@gmail.com: not one of the directory's domains\n"
                              "unchanged " +
                              b +
                              "\r\n"
                              "refused " +
                              a + ": weak algorithm\nrefused -: not a key\n\n");
  ASSERT_TRUE(got) << got.error().detail;
  ASSERT_EQ(got->keys.size(), 4u);
  EXPECT_EQ(got->keys[0].outcome, "new");
  EXPECT_EQ(got->keys[0].fpr, a);
  ASSERT_EQ(got->keys[0].addresses.size(), 2u);
  EXPECT_TRUE(got->keys[0].addresses[0].published);
  EXPECT_EQ(got->keys[0].addresses[0].address, "alice@example.org");
  EXPECT_FALSE(got->keys[0].addresses[1].published);
  EXPECT_EQ(got->keys[0].addresses[1].address, "bob@gmail.com");
  EXPECT_EQ(got->keys[0].addresses[1].reason, "not one of the directory's domains");
  EXPECT_EQ(got->keys[1].outcome, "unchanged");
  EXPECT_EQ(got->keys[1].fpr, std::string(64, 'B'));  // upper case
  EXPECT_TRUE(got->keys[1].addresses.empty());
  EXPECT_EQ(got->keys[2].outcome, "refused");
  EXPECT_EQ(got->keys[2].reason, "weak algorithm");
  EXPECT_EQ(got->keys[3].fpr, "-");
  EXPECT_EQ(got->keys[3].reason, "not a key");
  EXPECT_TRUE(got->other.empty());

  // The answer before the address lines: key lines alone.
  auto old = parse_add_answer("new " + a + "\n");
  ASSERT_TRUE(old);
  ASSERT_EQ(old->keys.size(), 1u);
  EXPECT_TRUE(old->keys[0].addresses.empty());
}

TEST(Upload, KeepsWhatItDoesNotKnowAndBoundsTheRest) {
  const std::string a(40, 'A');
  // Another server's words, a short fingerprint, HTML: kept as other lines,
  // at most kMaxAddAnswerOther; the rest counted.
  std::string body = "new 1234\n<html>\x1b[2J</html>\n   published x@example.org\n";
  for (std::size_t i = 0; i < kMaxAddAnswerOther + 5; ++i) {
    body += "line\n";
  }
  auto got = parse_add_answer(body);
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->keys.empty());
  EXPECT_EQ(got->other.size(), kMaxAddAnswerOther);
  EXPECT_EQ(got->other[1], "<html>\x1b[2J</html>");  // kept as sent: printed through printable()
  EXPECT_EQ(got->other_dropped, 8u);

  struct Bad {
    std::string name;
    std::string body;
    std::string detail;
  };
  std::string many = "new " + a + "\n";
  for (std::size_t i = 0; i <= limits::kMaxUserIdsPerCert; ++i) {
    many += "  published u" + std::to_string(i) + "@example.org\n";
  }
  std::string keys;
  for (std::size_t i = 0; i <= 2 * kMaxBatchCerts; ++i) {
    keys += "unchanged " + a + "\n";
  }
  const Bad bad[] = {
      {"address before any key", "  published x@example.org\n", "line 1: an address line before"},
      {"address after a refusal", "refused " + a + ": no\n  published x@example.org\n",
       "line 2: an address line before"},
      {"address line without address", "new " + a + "\n  withheld : reason\n",
       "line 2: an address line without an address"},
      {"too many addresses", many, "line 66: more than 64 addresses for one key"},
      {"too many keys", keys, "line 2001: more than 2000 keys"},
      {"overlong line", "new " + a + "\n" + std::string(kMaxAddAnswerLineBytes + 1, 'x'),
       "line 2: longer than 4096 octets"},
  };
  for (const auto& c : bad) {
    auto r = parse_add_answer(c.body);
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(r.error().code, ErrorCode::AnswerDidNotVerify) << c.name;
    EXPECT_NE(r.error().detail.find(c.detail), std::string::npos)
        << c.name << ": " << r.error().detail;
  }
}

TEST(Upload, RetryAfter) {
  const std::uint64_t now = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
  struct Case {
    std::string value;
    std::optional<std::uint64_t> seconds;
  };
  const Case cases[] = {
      {"120", 120},
      {" 5 ", 5},
      {"0", 0},
      {"99999999999999999999999", std::uint64_t{1} << 32},  // saturates
      {"Sun, 06 Nov 1994 08:51:37 GMT", 120},               // IMF-fixdate
      {"Sunday, 06-Nov-94 08:50:37 GMT", 60},               // RFC 850
      {"Sun Nov  6 08:49:47 1994", 10},                     // asctime
      {"Sat, 05 Nov 1994 08:49:37 GMT", 0},                 // the past: now
      {"", std::nullopt},
      {"-1", std::nullopt},
      {"1.5", std::nullopt},
      {"12 s", std::nullopt},
      {"Sun, 06 Nov 1994 08:51:37 GMT trailing", std::nullopt},
      {"Sun, 32 Nov 1994 08:51:37 GMT", std::nullopt},
      {"tomorrow", std::nullopt},
      {std::string(100, '1'), std::nullopt},  // longer than any real value
  };
  for (const auto& c : cases) {
    EXPECT_EQ(parse_retry_after(c.value, now), c.seconds) << "[" << c.value << "]";
  }
}

TEST(Upload, ReadsTheTokenFile) {
  const std::string dir = ::testing::TempDir();
  auto write = [&](const std::string& name, const std::string& text, mode_t mode) {
    const std::string path = dir + "/keydir-token-" + name;
    std::ofstream(path, std::ios::trunc) << text;
    ::chmod(path.c_str(), mode);
    return path;
  };
  const std::string token = "0123456789abcdef0123456789ABCDEF";
  auto ok =
      read_token_file(write("ok", "# the operators' token\n\n  " + token + " \r\nsecond\n", 0600));
  ASSERT_TRUE(ok) << ok.error().detail;
  EXPECT_EQ(*ok, token);
  auto b64 = read_token_file(write("b64", "abc+/_-.~xyz==\n", 0640));
  ASSERT_TRUE(b64);
  EXPECT_EQ(*b64, "abc+/_-.~xyz==");

  struct Bad {
    std::string name;
    std::string path;
    std::string detail;
  };
  const std::string open_path = write("open", token + "\n", 0644);
  const Bad bad[] = {
      {"readable by every user", open_path,
       "is open to every user (mode 0644): the token lets anyone who reads it publish in the "
       "directory; chmod 600 " +
           open_path},
      {"writable by every user", write("w", token + "\n", 0602), "is open to every user"},
      {"no token", write("empty", "# nothing\n\n   \n", 0600), "holds no token"},
      {"a space inside", write("space", "abc def\n", 0600), "a Bearer token cannot carry them"},
      {"a control character",
       write("ctl",
             "abc\x01"
             "def\n",
             0600),
       "a Bearer token cannot carry them"},
      {"a folder", dir, "is not a file"},
      {"missing", dir + "/keydir-token-missing", "cannot read the operator token file"},
  };
  for (const auto& c : bad) {
    auto r = read_token_file(c.path);
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(exit_code(r.error().code), kExitUsage) << c.name;
    EXPECT_NE(r.error().detail.find(c.detail), std::string::npos)
        << c.name << ": " << r.error().detail;
    EXPECT_EQ(r.error().detail.find(token), std::string::npos) << c.name << ": token shown";
  }
}

TEST(Upload, TheTokenTravelsOnlyEncryptedOrOnLoopback) {
  for (const char* url :
       {"https://keys.example.org", "HTTPS://keys.example.org:8443/x", "http://127.0.0.1:11371",
        "http://127.1.2.3", "http://[::1]:8080", "http://localhost:11371", "http://LOCALHOST",
        "http://evil.example@127.0.0.1:80"}) {
    EXPECT_EQ(token_transport_refusal(url), std::nullopt) << url;
  }
  for (const char* url :
       {"http://keys.example.org:11371", "http://192.0.2.1", "http://127.0.0.1.evil.example",
        "http://localhost.evil.example", "http://127.0.0.1@evil.example", "http://[::2]:80",
        "http://127.0.0.256", "http://0x7f.0.0.1"}) {
    auto why = token_transport_refusal(url);
    ASSERT_TRUE(why) << url;
    EXPECT_NE(why->find("plain text"), std::string::npos) << *why;
    EXPECT_NE(why->find("https://"), std::string::npos) << *why;
  }
}

}  // namespace
}  // namespace keydir::client
