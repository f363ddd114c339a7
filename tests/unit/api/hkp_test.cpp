// The API layer's parsers, without a server: HKP search strings, the mr
// escaping, form and multipart decoding, the error → status table.
#include "api/hkp/hkp.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/router.hpp"
#include "openpgp/armor.hpp"
#include "requests.hpp"
#include "storage/memory_key_store.hpp"
#include "test_data.hpp"

namespace keydir::api {
namespace {

using storage::Query;

// What a parsed search asks for, as one line: "fpr:HEX", "v6fpr:HEX",
// "keyid:HEX", "short:HEX", "email:ADDRESS" or "words:W1 W2".
std::string describe(const Search& s) {
  const auto& w = s.query.what;
  if (const auto* f = std::get_if<Query::ByFingerprint>(&w)) {
    return (s.v6_fingerprint ? "v6fpr:" : "fpr:") + f->fpr.to_hex();
  }
  if (const auto* k = std::get_if<Query::ByKeyId>(&w)) {
    return "keyid:" + k->id.to_hex();
  }
  if (const auto* k = std::get_if<Query::ByShortKeyId>(&w)) {
    char buf[9];
    std::snprintf(buf, sizeof buf, "%08X", k->id);
    return std::string("short:") + buf;
  }
  if (const auto* e = std::get_if<Query::ByEmail>(&w)) {
    return "email:" + e->address;
  }
  if (const auto* ws = std::get_if<Query::ByWords>(&w)) {
    std::string out = "words:";
    for (const auto& word : ws->words) {
      out += (out.size() > 6 ? " " : "") + word;
    }
    return out;
  }
  return "other";
}

// parse_search: describe() of the query, or the error's detail (BadQuery).
struct SearchCase {
  std::string name;
  std::string search;
  bool exact;
  std::string query;  // "" when refused
  std::string error;  // part of the detail when refused
};

void check(const SearchCase& c) {
  SCOPED_TRACE(c.name);
  auto r = parse_search(c.search, c.exact);
  if (c.query.empty()) {
    ASSERT_FALSE(r) << describe(*r);
    EXPECT_EQ(r.error().code, ErrorCode::BadQuery);
    EXPECT_NE(r.error().detail.find(c.error), std::string::npos) << r.error().detail;
  } else {
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(describe(*r), c.query);
  }
}

const std::string kV4 = "5B83120DB1E3A65AE5A8DCF6AA43F1DCC7FED1B7";
const std::string kV6 = "CB186C4F0609A697E4D52DFA6C722B0C1F1E27C18A56708F6525EC27BAD9ACC9";

// `n` octets: words of 3 letters and a space.
std::string words_of_length(std::size_t n) {
  std::string s;
  while (s.size() < n) {
    s += "abc ";
  }
  return s.substr(0, n);
}

TEST(ParseSearch, KeyIdsFingerprintsAddressesWords) {
  const SearchCase cases[] = {
      {"v4 fingerprint with 0x", "0x" + kV4, false, "fpr:" + kV4, ""},
      {"v6 fingerprint", kV6, false, "v6fpr:" + kV6, ""},
      {"key ID with 0x", "0xAA43F1DCC7FED1B7", false, "keyid:AA43F1DCC7FED1B7", ""},
      {"short key ID with 0x", "0xC7FED1B7", false, "short:C7FED1B7", ""},
      {"address in <>, exact", "<Alice@Example.ORG>", true, "email:alice@example.org", ""},
      {"bare address", "alice@example.org", false, "email:alice@example.org", ""},
      {"words", "Alice Example", false, "words:alice example", ""},
      // 8 hex digits without 0x are a word, not a key ID (a user could be called "deadbeef").
      {"8 hex digits without 0x", "deadbeef", false, "words:deadbeef", ""},
      // Edge cases added with the table.
      {"v4 fingerprint without 0x", kV4, false, "fpr:" + kV4, ""},
      {"v4 fingerprint, lower case, 0X",
       "0X" + std::string("5b83120db1e3a65ae5a8dcf6aa43f1dcc7fed1b7"), false, "fpr:" + kV4, ""},
      {"v6 fingerprint with 0x", "0x" + kV6, false, "v6fpr:" + kV6, ""},
      {"key ID without 0x", "aa43f1dcc7fed1b7", false, "keyid:AA43F1DCC7FED1B7", ""},
      // gpg never sends a fingerprint in groups; each group is then a word.
      {"v4 fingerprint in groups", "5B83 120D B1E3 A65A E5A8 DCF6 AA43 F1DC C7FE D1B7", false,
       "words:5b83 120d b1e3 a65a e5a8 dcf6 aa43 f1dc c7fe d1b7", ""},
      {"0x alone is a word", "0x", false, "words:0x", ""},
      {"an address that does not parse, not exact: words", "not@an address@", false,
       "words:not an address", ""},
      // Words are kept once each.
      {"words at kMaxQueryBytes", words_of_length(256), false, "words:abc", ""},
      // exact=on is only enforced on a search holding '@' (an address).
      {"exact=on and words", "Alice Example", true, "words:alice example", ""},
      {"non-ASCII word", "Zo\xc3\xab", false, "words:zo\xc3\xab", ""},
      {"a CRLF between words", "alice\r\nexample", false, "words:alice example", ""},
      {"an embedded NUL between words", std::string("alice\0example", 13), false,
       "words:alice example", ""},
  };
  for (const auto& c : cases) {
    check(c);
  }
}

TEST(ParseSearch, RefusesWithAReason) {
  const SearchCase cases[] = {
      {"empty", "", false, "", "missing search parameter"},
      {"not hex after 0x", "0xZZZZ", false, "",
       "0x must be followed by 8, 16, 40 or 64 hex digits"},
      {"0x + a length that is no key ID or fingerprint", "0x1234", false, "",
       "0x must be followed by 8, 16, 40 or 64 hex digits"},
      {"no words at all", "!!! ???", false, "",
       "search needs a key ID, fingerprint, address or words"},
      {"one past kMaxQueryBytes", words_of_length(256) + "d", false, "",
       "search longer than 256 octets"},
      {"exact=on wants an address", "not@an address@", true, "", "not an e-mail address"},
      // Edge cases added with the table.
      {"0x + 9 digits", "0xC7FED1B70", false, "", "0x must be followed by"},
      {"0x + 39 digits", "0x" + kV4.substr(1), false, "", "0x must be followed by"},
      {"0x + 65 digits", "0x" + kV6 + "0", false, "", "0x must be followed by"},
      {"0x + key ID + CRLF", "0xAA43F1DCC7FED1B7\r\n", false, "", "0x must be followed by"},
      {"0x + non-ASCII", "0x\xc3\xab\xc3\xab\xc3\xab\xc3\xab", false, "", "0x must be followed by"},
      {"white space only", " \t\r\n", false, "", "search needs a key ID"},
      {"one-letter words only (words are 2..64 octets)", "a b c", false, "",
       "search needs a key ID"},
  };
  for (const auto& c : cases) {
    check(c);
  }
}

TEST(MrEscape, GnuPGKeyserverGrammar) {
  const std::pair<std::string, std::string> cases[] = {
      {"Alice <a@b.org>", "Alice <a@b.org>"},
      {"a:b%c", "a%3Ab%25c"},
      {"Zo\xc3\xab\n", "Zo%C3%AB%0A"},
      {std::string(1, '\x7f'), "%7F"},
      // Edge cases added with the table.
      {"", ""},
      {std::string(1, '\0'), "%00"},
      {"\r\n", "%0D%0A"},
      {" ~", " ~"},
  };
  for (const auto& [in, out] : cases) {
    SCOPED_TRACE(in);
    EXPECT_EQ(mr_escape(in), out);
  }
}

// parse_form: the name/value pairs, or nullopt when refused.
struct FormCase {
  std::string name;
  std::string input;
  std::size_t max_fields;
  std::optional<std::vector<std::pair<std::string, std::string>>> expected;
};

std::string repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    out += s;
  }
  return out;
}

TEST(Form, DecodesAndBounds) {
  using Fields = std::vector<std::pair<std::string, std::string>>;
  const std::size_t dflt = 64;
  const FormCase cases[] = {
      {"an HKP query", "op=get&search=%3Ca%40b.org%3E&options=mr+x", dflt,
       Fields{{"op", "get"}, {"search", "<a@b.org>"}, {"options", "mr x"}}},
      {"truncated escape", "a=%2", dflt, std::nullopt},
      {"escape not hex", "a=%zz", dflt, std::nullopt},
      {"'%' alone", "a=%", dflt, std::nullopt},
      {"truncated escape after text", "a=x%4", dflt, std::nullopt},
      {"65 fields, one past 64", repeat("a=1&", 65), 64, std::nullopt},
      // Edge cases added with the table.
      {"64 fields, the most allowed", repeat("a=1&", 64), 64, Fields(64, {"a", "1"})},
      {"empty", "", dflt, Fields{}},
      {"a name without '='", "a", dflt, Fields{{"a", ""}}},
      {"empty value", "a=", dflt, Fields{{"a", ""}}},
      {"'=' inside the value", "a=b=c", dflt, Fields{{"a", "b=c"}}},
      {"an escaped NUL", "a=x%00y", dflt, Fields{{"a", std::string("x\0y", 3)}}},
      {"escaped CRLF", "a=%0D%0A", dflt, Fields{{"a", "\r\n"}}},
      {"escaped UTF-8", "a=Zo%C3%AB", dflt, Fields{{"a", "Zo\xc3\xab"}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = parse_form(c.input, c.max_fields);
    if (!c.expected) {
      EXPECT_FALSE(r) << r->size() << " fields";
    } else {
      ASSERT_TRUE(r) << r.error().detail;
      EXPECT_EQ(*r, *c.expected);
    }
  }
}

TEST(Form, FormDecode) {
  const std::pair<std::string, std::optional<std::string>> cases[] = {
      {"%41", "A"},
      {"a+b%2B%2fc%", std::nullopt},
      {"a+b%2B%2fc", "a b+/c"},
      {"++%25%0A+", "  %\n "},
      {"%e2%82%AC", "\xe2\x82\xac"},
      {"", ""},
      // Edge cases added with the table.
      {"%00", std::string(1, '\0')},
      {"%0D%0A", "\r\n"},
      {"%G1", std::nullopt},
      {"%4", std::nullopt},
      {"Zo\xc3\xab", "Zo\xc3\xab"},
      {"%FF", "\xff"},
  };
  for (const auto& [in, out] : cases) {
    SCOPED_TRACE(in);
    auto r = form_decode(in);
    if (!out) {
      EXPECT_FALSE(r) << *r;
    } else {
      ASSERT_TRUE(r) << r.error().detail;
      EXPECT_EQ(*r, *out);
    }
  }
}

// multipart_field: the field's value, or nullopt.
struct MultipartCase {
  std::string name;
  std::string content_type;
  std::string body;
  std::string field;
  std::optional<std::string> expected;
};

TEST(Multipart, FindsTheField) {
  const std::string body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nnope\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"keytext\"\r\n\r\nKEY DATA\r\n--XyZ--\r\n";
  // "--boundary" inside a value (armor dashes) does not end it; filename= is not name=.
  const std::string armor_like =
      "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"keytext\"\r\n\r\nx\r\n"
      "--B\r\nContent-Disposition: form-data; name=\"keytext\"\r\n\r\n-----BEGIN X-----\r\n"
      "--Bx\r\n\r\n--B--\r\n";
  const std::string xyz = "multipart/form-data; boundary=XyZ";
  const MultipartCase cases[] = {
      {"the second field", xyz, body, "keytext", "KEY DATA"},
      {"a quoted boundary", "multipart/form-data; boundary=\"XyZ\"", body, "keytext", "KEY DATA"},
      {"a missing field", xyz, body, "missing", std::nullopt},
      {"no boundary", "multipart/form-data", body, "keytext", std::nullopt},
      {"boundary-like text inside a value", "multipart/form-data; boundary=B", armor_like,
       "keytext", "-----BEGIN X-----\r\n--Bx\r\n"},
      {"an empty value", "multipart/form-data; boundary=B",
       "--B\r\nContent-Disposition: form-data; name=\"keytext\"\r\n\r\n\r\n--B--", "keytext", ""},
      // Edge cases added with the table.
      {"empty body", xyz, "", "keytext", std::nullopt},
      {"no closing delimiter", xyz,
       "--XyZ\r\nContent-Disposition: form-data; name=\"keytext\"\r\n\r\nKEY DATA", "keytext",
       std::nullopt},
      {"a NUL in the value", xyz,
       std::string("--XyZ\r\nContent-Disposition: form-data; name=\"keytext\"\r\n\r\nA\0B\r\n"
                   "--XyZ--\r\n",
                   70),
       "keytext", std::string("A\0B", 3)},
      {"the other field", xyz, body, "other", "nope"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(multipart_field(c.content_type, c.body, c.field), c.expected);
  }
}

// Hkp::lookup on an empty directory: how op=, options=, search= and exact=
// are read (status and part of the body).
TEST(HkpLookup, OpsAndOptions) {
  storage::MemoryKeyStore store;
  service::KeyDirectory directory(store, service::DirectoryOptions{}, [] { return test::kNow; });
  Hkp hkp(directory, HkpOptions{});
  struct LookupCase {
    std::string name;
    testing::Query query;
    int status;
    std::string body;  // part of it
  };
  const LookupCase cases[] = {
      {"no op: get", {{"search", "0x" + kV4}}, 404, ""},
      {"op=get", {{"op", "get"}, {"search", "0x" + kV4}}, 404, ""},
      {"op=index", {{"op", "index"}, {"search", "alice"}}, 404, ""},
      {"op=vindex, options=mr",
       {{"op", "vindex"}, {"search", "alice"}, {"options", "mr"}},
       404,
       ""},
      {"op=stats", {{"op", "stats"}}, 200, ""},
      {"an unknown op",
       {{"op", "x-foo"}, {"search", "alice"}},
       501,
       "operation not implemented: x-foo"},
      {"an unknown op is cut at 32 octets in the answer",
       {{"op", std::string(40, 'o')}, {"search", "alice"}},
       501,
       "operation not implemented: " + std::string(32, 'o')},
      {"no search", {{"op", "get"}}, 400, "missing search parameter"},
      {"empty search", {{"op", "get"}, {"search", ""}}, 400, "missing search parameter"},
      {"a bad 0x form", {{"op", "get"}, {"search", "0x1234"}}, 400, "0x must be followed"},
      {"exact=on and no address",
       {{"op", "index"}, {"search", "a@b@"}, {"exact", "on"}},
       400,
       "not an e-mail address"},
      {"op=hget, 32 hex digits", {{"op", "hget"}, {"search", std::string(32, 'a')}}, 404, ""},
      {"op=hget, 31 hex digits",
       {{"op", "hget"}, {"search", std::string(31, 'a')}},
       400,
       "hget takes a 32-digit SKS key hash"},
      {"op=hget, not hex",
       {{"op", "hget"}, {"search", std::string(32, 'g')}},
       400,
       "hget takes a 32-digit SKS key hash"},
      {"op in upper case is unknown",
       {{"op", "GET"}, {"search", "alice"}},
       501,
       "operation not implemented: GET"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Reply r = hkp.lookup(testing::get_request("/pks/lookup", "keys.test", c.query, "127.0.0.1"));
    EXPECT_EQ(r.status, c.status) << r.body;
    EXPECT_NE(r.body.find(c.body), std::string::npos) << r.body;
  }
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

// application/x-www-form-urlencoded: everything but unreserved characters
// as %XX.
std::string form_encode_for_test(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// The upload limit counts keys: an upload of a keyring takes one token to be
// let in and is charged the further keys once stored, so the next upload from
// that address waits. Both HKP upload paths; another client is not held.
TEST(UploadLimit, AKeyringIsChargedPerKeyOnBothHkpPaths) {
  const char* const files[] = {"gpg-ed25519.asc", "gpg-nistp256.asc", "gpg-multi.asc"};
  std::string armored;
  Bytes binary;
  for (const char* f : files) {
    const Bytes a = test::fixture(f);
    armored.append(a.begin(), a.end());
    auto blocks = openpgp::dearmor(
        std::string_view(reinterpret_cast<const char*>(a.data()), a.size()), 1 << 20);
    ASSERT_TRUE(blocks.has_value()) << f;
    binary.insert(binary.end(), blocks->front().data.begin(), blocks->front().data.end());
  }
  for (const std::string path : {"/pks/add", "/pks/v2/certs"}) {
    SCOPED_TRACE(path);
    storage::MemoryKeyStore store;
    service::KeyDirectory directory(store, service::DirectoryOptions{}, [] { return test::kNow; });
    ApiOptions o;
    o.add_per_minute = 0.001;  // no refill during the test
    o.add_burst = 3;
    o.token_secret = std::string(32, 'k');
    Api api(directory, o);
    auto post = [&](const std::string& client) {
      return path == "/pks/add"
                 ? api.dispatch(testing::post_request(path, "application/x-www-form-urlencoded",
                                                      "keytext=" + form_encode_for_test(armored),
                                                      client))
                 : api.dispatch(testing::post_request(path, "application/pgp-keys",
                                                      std::string(binary.begin(), binary.end()),
                                                      client));
    };
    Reply first = post("192.0.2.7");
    ASSERT_EQ(first.status, Status::kOk) << first.body;
    EXPECT_EQ(first.upload_certificates, 3U);
    // 3 tokens: one to enter, two charged after: the bucket is empty.
    Reply second = post("192.0.2.7");
    EXPECT_EQ(second.status, Status::kTooManyRequests) << second.body;
    EXPECT_FALSE(testing::header(second, "Retry-After").empty());
    EXPECT_EQ(post("192.0.2.8").status, Status::kOk);
  }
}

}  // namespace
}  // namespace keydir::api
