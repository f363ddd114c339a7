// The API layer's parsers, without a server: HKP search strings, the mr
// escaping, form and multipart decoding, the error → status table.
#include "api/hkp/hkp.hpp"

#include <gtest/gtest.h>

namespace keydir::api {
namespace {

using storage::Query;

TEST(ParseSearch, KeyIdsFingerprintsAddressesWords) {
  auto fpr = parse_search("0x5B83120DB1E3A65AE5A8DCF6AA43F1DCC7FED1B7", false);
  ASSERT_TRUE(fpr);
  EXPECT_TRUE(std::holds_alternative<Query::ByFingerprint>(fpr->query.what));
  EXPECT_FALSE(fpr->v6_fingerprint);
  auto v6 = parse_search("CB186C4F0609A697E4D52DFA6C722B0C1F1E27C18A56708F6525EC27BAD9ACC9", false);
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->v6_fingerprint);
  auto keyid = parse_search("0xAA43F1DCC7FED1B7", false);
  ASSERT_TRUE(keyid);
  EXPECT_TRUE(std::holds_alternative<Query::ByKeyId>(keyid->query.what));
  auto short_id = parse_search("0xC7FED1B7", false);
  ASSERT_TRUE(short_id);
  EXPECT_EQ(std::get<Query::ByShortKeyId>(short_id->query.what).id, 0xC7FED1B7u);
  auto email = parse_search("<Alice@Example.ORG>", true);
  ASSERT_TRUE(email);
  EXPECT_EQ(std::get<Query::ByEmail>(email->query.what).address, "alice@example.org");
  auto bare = parse_search("alice@example.org", false);
  ASSERT_TRUE(bare);
  EXPECT_TRUE(std::holds_alternative<Query::ByEmail>(bare->query.what));
  auto words = parse_search("Alice Example", false);
  ASSERT_TRUE(words);
  EXPECT_EQ(std::get<Query::ByWords>(words->query.what).words,
            (std::vector<std::string>{"alice", "example"}));
  // 8 hex digits without 0x are a word, not a key ID (a user could be called "deadbeef").
  auto plain = parse_search("deadbeef", false);
  ASSERT_TRUE(plain);
  EXPECT_TRUE(std::holds_alternative<Query::ByWords>(plain->query.what));
}

TEST(ParseSearch, RefusesWithAReason) {
  const char* bad[] = {
      "",              // empty
      "0xZZZZ",        // not hex after 0x
      "0x1234",        // 0x + a length that is no key ID or fingerprint, and no words
      "!!! ???",       // no words at all
  };
  for (const char* s : bad) {
    auto r = parse_search(s, false);
    ASSERT_FALSE(r) << s;
    EXPECT_EQ(r.error().code, ErrorCode::BadQuery) << s;
  }
  std::string at_limit;
  while (at_limit.size() < 256) {
    at_limit += "abc ";  // 64 words of 3 letters: 256 octets
  }
  EXPECT_TRUE(parse_search(at_limit, false));              // at kMaxQueryBytes
  EXPECT_FALSE(parse_search(at_limit + "d", false));       // one past it
  EXPECT_FALSE(parse_search("not@an address@", true));       // exact=on wants an address
}

TEST(MrEscape, GnuPGKeyserverGrammar) {
  EXPECT_EQ(mr_escape("Alice <a@b.org>"), "Alice <a@b.org>");
  EXPECT_EQ(mr_escape("a:b%c"), "a%3Ab%25c");
  EXPECT_EQ(mr_escape("Zoë\n"), "Zo%C3%AB%0A");
  EXPECT_EQ(mr_escape(std::string(1, '\x7f')), "%7F");
}

TEST(Form, DecodesAndBounds) {
  auto f = parse_form("op=get&search=%3Ca%40b.org%3E&options=mr+x");
  ASSERT_TRUE(f);
  ASSERT_EQ(f->size(), 3u);
  EXPECT_EQ((*f)[1].second, "<a@b.org>");
  EXPECT_EQ((*f)[2].second, "mr x");
  EXPECT_FALSE(parse_form("a=%2"));   // truncated escape
  EXPECT_FALSE(parse_form("a=%zz"));  // not hex
  EXPECT_FALSE(parse_form("a=%"));
  EXPECT_FALSE(parse_form("a=x%4"));
  EXPECT_EQ(*form_decode("%41"), "A");
  EXPECT_FALSE(form_decode("a+b%2B%2fc%"));
  EXPECT_EQ(*form_decode("a+b%2B%2fc"), "a b+/c");
  EXPECT_EQ(*form_decode("++%25%0A+"), "  %\n ");
  EXPECT_EQ(*form_decode("%e2%82%AC"), "\xe2\x82\xac");
  EXPECT_EQ(*form_decode(""), "");
  std::string many;
  for (int i = 0; i < 65; ++i) {
    many += "a=1&";
  }
  EXPECT_FALSE(parse_form(many, 64));
}

TEST(Multipart, FindsTheField) {
  std::string body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nnope\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"keytext\"\r\n\r\nKEY DATA\r\n--XyZ--\r\n";
  EXPECT_EQ(multipart_field("multipart/form-data; boundary=XyZ", body, "keytext"), "KEY DATA");
  EXPECT_EQ(multipart_field("multipart/form-data; boundary=\"XyZ\"", body, "keytext"), "KEY DATA");
  EXPECT_FALSE(multipart_field("multipart/form-data; boundary=XyZ", body, "missing"));
  EXPECT_FALSE(multipart_field("multipart/form-data", body, "keytext"));
  // "--boundary" inside a value (armor dashes) does not end it; filename= is not name=.
  std::string armor_like =
      "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"keytext\"\r\n\r\nx\r\n"
      "--B\r\nContent-Disposition: form-data; name=\"keytext\"\r\n\r\n-----BEGIN X-----\r\n"
      "--Bx\r\n\r\n--B--\r\n";
  EXPECT_EQ(multipart_field("multipart/form-data; boundary=B", armor_like, "keytext"),
            "-----BEGIN X-----\r\n--Bx\r\n");
  EXPECT_EQ(multipart_field("multipart/form-data; boundary=B",
                            "--B\r\nContent-Disposition: form-data; name=\"keytext\"\r\n\r\n"
                            "\r\n--B--",
                            "keytext"),
            "");
}

TEST(ErrorReplies, StatusTableAndNoInternalsLeak) {
  EXPECT_EQ(http_status(ErrorCode::BadArmor), 400);
  EXPECT_EQ(http_status(ErrorCode::PayloadTooLarge), 413);
  EXPECT_EQ(http_status(ErrorCode::SecretKeyRefused), 422);
  EXPECT_EQ(http_status(ErrorCode::NotFound), 404);
  EXPECT_EQ(http_status(ErrorCode::UnsupportedOperation), 501);
  EXPECT_EQ(http_status(ErrorCode::Tombstoned), 410);
  auto r = error_reply(Error{ErrorCode::StorageCorruption, "/var/lib/keydir/000123.sst bad"});
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("sst"), std::string::npos);
  EXPECT_EQ(error_reply(Error{ErrorCode::StorageIo, "disk full"}).status, 503);
}

}  // namespace
}  // namespace keydir::api
