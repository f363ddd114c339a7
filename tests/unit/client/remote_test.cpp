// The client's offline parts: queries, server URLs, the HKP index grammar,
// and the check that an answer is the key asked for.
#include "client/remote.hpp"

#include <gtest/gtest.h>

#include "openpgp/certificate.hpp"
#include "test_data.hpp"

namespace keydir::client {
namespace {

TEST(Client, ClassifiesQueries) {
  auto fpr = classify("0xFC5D 7A69 80F7 E484 468D B87F 65C7 1B0D 2BE6 92AA");
  ASSERT_TRUE(fpr);
  EXPECT_TRUE(fpr->fingerprint);
  auto kid = classify("65c71b0d2be692aa");
  ASSERT_TRUE(kid);
  EXPECT_TRUE(kid->key_id);
  auto mail = classify("Alice <Alice@Example.org>");
  ASSERT_TRUE(mail);
  EXPECT_EQ(mail->email->address(), "alice@example.org");
  auto short_id = classify("0x2BE692AA");
  ASSERT_FALSE(short_id);
  EXPECT_EQ(short_id.error().code, ErrorCode::ShortKeyIdRefused);
  EXPECT_FALSE(classify("hello"));
  EXPECT_FALSE(classify(""));
}

TEST(Client, ServerUrls) {
  EXPECT_EQ(server_base("hkp://keys.example.org"), "http://keys.example.org:11371");
  EXPECT_EQ(server_base("hkp://keys.example.org:8080/"), "http://keys.example.org:8080");
  EXPECT_EQ(server_base("hkps://keys.example.org"), "https://keys.example.org");
  EXPECT_EQ(server_base("HTTPS://keys.example.org/"), "https://keys.example.org");
  EXPECT_EQ(server_base("http://127.0.0.1:11371"), "http://127.0.0.1:11371");
  EXPECT_FALSE(server_base("keys.example.org"));
  EXPECT_FALSE(server_base("ftp://keys.example.org"));
  EXPECT_FALSE(server_base("hkp://"));
}

TEST(Client, ParsesTheMachineReadableIndex) {
  auto e = parse_mr_index(
      "info:1:2\npub:FC5D7A6980F7E484468DB87F65C71B0D2BE692AA:22:255:1700000000::\n"
      "uid:Zo%C3%AB %3Ca%3A%25b%40x%3E:1700000000::\n"
      "pub:0123456789ABCDEF:1:4096:1600000000:1700000000:r\nuid:Bob <bob@x>:::\n");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].algorithm, "EdDSALegacy");
  EXPECT_EQ(e[0].user_ids, std::vector<std::string>{"Zo\xC3\xAB <a:%b@x>"});
  EXPECT_EQ(e[1].flags, "r");
  EXPECT_EQ(e[1].user_ids.size(), 1u);
  EXPECT_TRUE(parse_mr_index("").empty());
  EXPECT_TRUE(parse_mr_index("garbage\n:::\nuid:orphan\n").empty());
}

TEST(Client, AnAnswerMustBeTheKeyAskedFor) {
  auto multi = test::fixture("gpg-multi.asc");
  auto q = classify("FC5D7A6980F7E484468DB87F65C71B0D2BE692AA");
  ASSERT_TRUE(q);
  EXPECT_TRUE(check_answer(multi, *q, test::kNow));
  auto sub = classify("0x86CDE6989B78F56C");  // its encryption subkey's key ID
  ASSERT_TRUE(sub);
  EXPECT_TRUE(check_answer(multi, *sub, test::kNow));
  auto other = check_answer(test::fixture("gpg-rsa2048.asc"), *q, test::kNow);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::AnswerDidNotVerify);
  auto addr = classify("second@keydir.test");
  EXPECT_TRUE(check_answer(multi, *addr, test::kNow));
  auto revoked = classify("gone@keydir.test");  // only on a revoked user ID
  EXPECT_FALSE(check_answer(multi, *revoked, test::kNow));
  Bytes half(multi.begin(), multi.begin() + static_cast<std::ptrdiff_t>(multi.size() / 2));
  EXPECT_FALSE(check_answer(half, *q, test::kNow));
  EXPECT_FALSE(check_answer(as_bytes(std::string_view("<html>")), *q, test::kNow));
  auto tampered = check_answer(test::fixture("gpg-multi.asc"), *classify("nobody@keydir.test"),
                               test::kNow);
  EXPECT_FALSE(tampered);
}

TEST(Client, WkdUrls) {
  auto e = openpgp::Email::parse("Joe.Doe@Example.ORG");
  auto [adv, direct] = wkd_urls(*e);
  EXPECT_EQ(adv,
            "https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/"
            "iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=joe.doe");
  EXPECT_EQ(direct, "https://example.org/.well-known/openpgpkey/hu/"
                    "iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=joe.doe");
}

}  // namespace
}  // namespace keydir::client
