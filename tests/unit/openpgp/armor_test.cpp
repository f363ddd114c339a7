#include "openpgp/armor.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "openpgp/certificate.hpp"
#include "test_data.hpp"

namespace keydir::openpgp {
namespace {

const std::string kBlock =
    "-----BEGIN PGP PUBLIC KEY BLOCK-----\n"
    "Comment: test\n"
    "\n"
    "Zm9vYmFy\n"
    "=%CRC%\n"
    "-----END PGP PUBLIC KEY BLOCK-----\n";

std::string block_with_crc(std::string_view data) {
  std::uint32_t c = crc24(as_bytes(data));
  std::uint8_t b[3] = {static_cast<std::uint8_t>(c >> 16), static_cast<std::uint8_t>(c >> 8),
                       static_cast<std::uint8_t>(c)};
  std::string s = kBlock;
  s.replace(s.find("%CRC%"), 5, base64_encode(ByteView(b, 3)));
  return s;
}

std::string crlf(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') {
      out += '\r';
    }
    out += c;
  }
  return out;
}

// RFC 9580 §6.1.1's bit-at-a-time reference.
std::uint32_t crc24_reference(ByteView data) {
  std::uint32_t crc = 0xB704CE;
  for (std::uint8_t b : data) {
    crc ^= std::uint32_t{b} << 16;
    for (int i = 0; i < 8; ++i) {
      crc <<= 1;
      if (crc & 0x1000000) {
        crc ^= 0x1864CFB;
      }
    }
  }
  return crc & 0xFFFFFF;
}

// A block of `label` around `body` (base64 lines, already with line ends).
std::string block(std::string_view label, std::string_view body, std::string_view nl = "\n") {
  std::string s = "-----BEGIN " + std::string(label) + "-----" + std::string(nl);
  s += body;
  s += "-----END " + std::string(label) + "-----" + std::string(nl);
  return s;
}

std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += s;
  }
  return out;
}

TEST(Armor, Crc24MatchesTheReferenceAtEveryLength) {
  struct CrcCase {
    std::string name;
    std::string input;
    std::uint32_t crc;
  };
  const CrcCase cases[] = {
      {"the check value", "123456789", 0x21CF02u},
      // Edge cases added with the table.
      {"empty input: the initial value", "", 0xB704CEu},
      {"a NUL octet", std::string(1, '\0'), crc24_reference(Bytes{0})},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(crc24(as_bytes(c.input)), c.crc);
  }
  Bytes data;
  std::uint32_t x = 12345;
  for (std::size_t n = 0; n < 70; ++n) {
    EXPECT_EQ(crc24(data), crc24_reference(data)) << "length " << n;
    x = x * 1103515245 + 12345;
    data.push_back(static_cast<std::uint8_t>(x >> 16));
  }
}

// base64_decode: the decoded text, or nullopt.
struct Base64Case {
  std::string name;
  std::string input;
  std::optional<std::string> expected;
};

TEST(Armor, Base64Decode) {
  const Base64Case cases[] = {
      {"lines split anywhere, CRLF and LF", "Zm9v YmFy\r\nYmF6cXV4\nZg==", "foobarbazquxf"},
      {"invalid character", "Zm9v!", std::nullopt},
      {"data after padding", "Zg==Zm9v", std::nullopt},
      {"one padding character short", "Zg=", std::nullopt},
      {"one symbol", "Z", std::nullopt},
      {"three padding characters", "Zm9vY===", std::nullopt},
      {"padding first", "=Zm9", std::nullopt},
      // Edge cases added with the table.
      {"empty input", "", ""},
      {"white space only", " \t\r\n", ""},
      {"one octet", "Zg==", "f"},
      {"two octets", "Zm8=", "fo"},
      {"three octets, no padding", "Zm9v", "foo"},
      {"padding split by a line end", "Zg=\r\n=", "f"},
      {"an embedded NUL", std::string("Zm9v\0YmFy", 9), std::nullopt},
      {"non-ASCII (U+00E9)", "Zm9v\xc3\xa9", std::nullopt},
      {"URL-safe alphabet is not base64", "Zm-_", std::nullopt},
      {"padding where no group is open", "Zm9v=", std::nullopt},
      {"a group of two symbols without padding", "Zg", std::nullopt},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = base64_decode(c.input);
    if (!c.expected) {
      EXPECT_FALSE(r) << "decoded to " << as_chars(*r);
    } else {
      ASSERT_TRUE(r);
      EXPECT_EQ(std::string(as_chars(*r)), *c.expected);
    }
  }
}

TEST(Armor, Base64DecoderGivesTheSameOctetsHoweverTheInputIsSplit) {
  const std::string text = "Zm9v YmFy\r\nYmF6cXV4\nZg==";
  auto whole = base64_decode(text);
  ASSERT_TRUE(whole);
  for (std::size_t cut1 = 0; cut1 <= text.size(); ++cut1) {
    for (std::size_t cut2 = cut1; cut2 <= text.size(); ++cut2) {
      Bytes out;
      Base64Decoder d(out);
      ASSERT_TRUE(d.feed(std::string_view(text).substr(0, cut1)));
      ASSERT_TRUE(d.feed(std::string_view(text).substr(cut1, cut2 - cut1)));
      ASSERT_TRUE(d.feed(std::string_view(text).substr(cut2)));
      ASSERT_TRUE(d.finish());
      EXPECT_EQ(out, *whole) << cut1 << "," << cut2;
    }
  }
}

TEST(Armor, RoundTripsEveryLengthInLinesOf64) {
  Bytes data;
  for (std::size_t n = 1; n < 150; ++n) {
    data.push_back(static_cast<std::uint8_t>(n * 37));
    std::string text = armor(data, ArmorKind::PublicKey, {{"Comment", "x"}});
    auto blocks = dearmor(text, 1 << 20);
    ASSERT_TRUE(blocks) << n;
    EXPECT_EQ(blocks->front().data, data) << n;
    std::size_t longest = 0;
    std::size_t pos = 0;
    for (std::size_t nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1) {
      if (text.compare(pos, 5, "-----") != 0) {
        longest = std::max(longest, nl - pos);
      }
    }
    EXPECT_LE(longest, 64u) << n;
    EXPECT_EQ(text.back(), '\n');
  }
}

// dearmor: the blocks expected (kind, data, number of headers), or the error
// code and part of its detail.
struct ExpectedBlock {
  ArmorKind kind;
  std::string data;
  std::vector<std::string> headers;  // their names
};

struct DearmorCase {
  std::string name;
  std::string text;
  std::vector<ExpectedBlock> blocks;
  std::optional<ErrorCode> error = std::nullopt;
  std::string detail = "";
  std::size_t max = 1 << 20;
};

void check(const DearmorCase& c) {
  SCOPED_TRACE(c.name);
  auto r = dearmor(c.text, c.max);
  if (c.error) {
    ASSERT_FALSE(r) << "gave " << r->size() << " blocks";
    EXPECT_EQ(r.error().code, *c.error) << error_code_name(r.error().code);
    EXPECT_FALSE(r.error().detail.empty());
    EXPECT_NE(r.error().detail.find(c.detail), std::string::npos) << r.error().detail;
    return;
  }
  ASSERT_TRUE(r) << r.error().detail;
  ASSERT_EQ(r->size(), c.blocks.size());
  for (std::size_t i = 0; i < c.blocks.size(); ++i) {
    EXPECT_EQ((*r)[i].kind, c.blocks[i].kind) << "block " << i;
    EXPECT_EQ(std::string(as_chars((*r)[i].data)), c.blocks[i].data) << "block " << i;
    std::vector<std::string> names;
    for (const auto& h : (*r)[i].headers) {
      names.push_back(h.first);
    }
    EXPECT_EQ(names, c.blocks[i].headers) << "block " << i;
  }
}

const ExpectedBlock kFoobar{ArmorKind::PublicKey, "foobar", {"Comment"}};  // kBlock's

TEST(Armor, Accepts) {
  std::string wrong_crc = block_with_crc("foobar");
  wrong_crc[wrong_crc.find("\n=") + 2] ^= 1;
  std::string malformed_crc = block_with_crc("foobar");
  malformed_crc.replace(malformed_crc.find("\n=") + 2, 4, "*#!?");
  std::string no_crc = block_with_crc("foobar");
  no_crc.erase(no_crc.find("\n="), 6);
  std::string no_final_newline = block_with_crc("foobar");
  no_final_newline.pop_back();
  const std::string pub = "PGP PUBLIC KEY BLOCK";
  const DearmorCase cases[] = {
      {"with headers and checksum", block_with_crc("foobar"), {kFoobar}},
      {"CRLF, text around and several blocks",
       "Here is my key:\n" + crlf(block_with_crc("foobar")) + "and another\n" +
           block_with_crc("foobar") + "-- \nsignature\n",
       {kFoobar, kFoobar}},
      // RFC 9580 §6.1: a footer that is missing, malformed or wrong is no
      // reason to refuse (the signatures protect the data).
      {"wrong checksum", wrong_crc, {kFoobar}},
      {"malformed checksum", malformed_crc, {kFoobar}},
      {"missing checksum", no_crc, {kFoobar}},
      // Seen in the wild (RNP's empty_header_line.asc; producers without the blank line).
      {"empty header value",
       block(pub, "Hash: \n\nZm9vYmFy\n"),
       {{ArmorKind::PublicKey, "foobar", {"Hash"}}}},
      {"no blank line after the head",
       block(pub, "Zm9vYmFy\n"),
       {{ArmorKind::PublicKey, "foobar", {}}}},
      // Edge cases added with the table.
      {"CRLF throughout",
       crlf(block(pub, "Comment: a\n\nZm9v\nYmFy\n")),
       {{ArmorKind::PublicKey, "foobar", {"Comment"}}}},
      {"CRLF and LF mixed",
       block(pub, "Comment: a\r\n\nZm9v\r\nYmFy\n", "\r\n"),
       {{ArmorKind::PublicKey, "foobar", {"Comment"}}}},
      {"no newline after the tail", no_final_newline, {kFoobar}},
      {"indented and with trailing blanks",
       "  -----BEGIN PGP PUBLIC KEY BLOCK----- \t\n\t\n  Zm9vYmFy  \n"
       " -----END PGP PUBLIC KEY BLOCK-----\r\n",
       {{ArmorKind::PublicKey, "foobar", {}}}},
      {"an empty block", block(pub, "\n"), {{ArmorKind::PublicKey, "", {}}}},
      {"non-ASCII header value",
       block(pub, "Comment: Zo\xc3\xab\n\nZm9vYmFy\n"),
       {{ArmorKind::PublicKey, "foobar", {"Comment"}}}},
      {"64 headers, the most allowed",
       block(pub, repeat("Comment: x\n", 64) + "\nZm9vYmFy\n"),
       {{ArmorKind::PublicKey, "foobar", std::vector<std::string>(64, "Comment")}}},
      {"secret key label",
       block("PGP PRIVATE KEY BLOCK", "\nZm9v\n"),
       {{ArmorKind::PrivateKey, "foo", {}}}},
      {"old secret key label",
       block("PGP SECRET KEY BLOCK", "\nZm9v\n"),
       {{ArmorKind::PrivateKey, "foo", {}}}},
      {"signature label", block("PGP SIGNATURE", "\nZm9v\n"), {{ArmorKind::Signature, "foo", {}}}},
      {"message label", block("PGP MESSAGE", "\nZm9v\n"), {{ArmorKind::Message, "foo", {}}}},
      {"multi-part message label",
       block("PGP MESSAGE, PART 1/2", "\nZm9v\n"),
       {{ArmorKind::Message, "foo", {}}}},
      {"another label", block("PGP ARMORED FILE", "\nZm9v\n"), {{ArmorKind::Other, "foo", {}}}},
      {"decoded size at the limit",
       block(pub, "\nZm9vYmFy\n"),
       {{ArmorKind::PublicKey, "foobar", {}}},
       std::nullopt,
       "",
       6},
      {"an empty block under a limit of 0",
       block(pub, "\n"),
       {{ArmorKind::PublicKey, "", {}}},
       std::nullopt,
       "",
       0},
      {"1000 blocks, the most allowed", repeat(block(pub, "\nZm9v\n"), 1000),
       std::vector<ExpectedBlock>(1000, {ArmorKind::PublicKey, "foo", {}})},
  };
  for (const auto& c : cases) {
    check(c);
  }
}

TEST(Armor, RefusesBrokenInputWithAReason) {
  std::string good = block_with_crc("foobar");
  std::string bad_b64 = good;
  bad_b64.replace(bad_b64.find("Zm9v"), 4, "Zm*v");
  const std::string pub = "PGP PUBLIC KEY BLOCK";
  const DearmorCase cases[] = {
      {"no armor at all", "hello world\n", {}, ErrorCode::BadArmor, "no OpenPGP armor block found"},
      {"not base64",
       bad_b64,
       {},
       ErrorCode::BadArmor,
       "invalid base64 in armor block 'PGP PUBLIC KEY BLOCK'"},
      {"no tail",
       "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nZm9v\n",
       {},
       ErrorCode::BadArmor,
       "armor block 'PGP PUBLIC KEY BLOCK' is not terminated"},
      {"tail of another kind",
       "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nZm9v\n-----END PGP MESSAGE-----\n",
       {},
       ErrorCode::BadArmor,
       "armor tail does not match its head (PGP PUBLIC KEY BLOCK)"},
      {"decoded data one past the limit",
       armor(Bytes(3000, 0x42)),
       {},
       ErrorCode::PayloadTooLarge,
       "decoded data larger than 2999 octets",
       2999},
      // Edge cases added with the table.
      {"empty input", "", {}, ErrorCode::BadArmor, "no OpenPGP armor block found"},
      {"decoded size one past the limit",
       block(pub, "\nZm9vYmFy\n"),
       {},
       ErrorCode::PayloadTooLarge,
       "decoded data larger than 5 octets",
       5},
      {"65 headers, one past the most allowed",
       block(pub, repeat("Comment: x\n", 65) + "\nZm9vYmFy\n"),
       {},
       ErrorCode::BadArmor,
       "too many armor headers"},
      {"1001 blocks, one past the most allowed",
       repeat(block(pub, "\nZm9v\n"), 1001),
       {},
       ErrorCode::BadArmor,
       "more than 1000 armor blocks"},
      {"data after the checksum",
       block(pub, "\nZm9v\n=AAAA\nYmFy\n"),
       {},
       ErrorCode::BadArmor,
       "data after the armor checksum line"},
      {"an embedded NUL in the body",
       block(pub, std::string("\nZm9v\0YmFy\n", 11)),
       {},
       ErrorCode::BadArmor,
       "invalid base64"},
      {"non-ASCII in the body",
       block(pub, "\nZm9v\xc3\xa9\n"),
       {},
       ErrorCode::BadArmor,
       "invalid base64"},
      {"a header without the space after ':'",
       block(pub, "Comment:x\n\nZm9v\n"),
       {},
       ErrorCode::BadArmor,
       "invalid base64"},
      {"truncated last group", block(pub, "\nZm9vY\n"), {}, ErrorCode::BadArmor, "invalid base64"},
      {"a good block then an unterminated one",
       block(pub, "\nZm9v\n") + "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nZm9v\n",
       {},
       ErrorCode::BadArmor,
       "is not terminated"},
      // Old Mac line ends: the whole text is one line, so the head never ends.
      {"CR-only line ends",
       block(pub, "\rZm9vYmFy\r", "\r"),
       {},
       ErrorCode::BadArmor,
       "is not terminated"},
  };
  for (const auto& c : cases) {
    check(c);
  }
}

TEST(Armor, EncodeDecodeRoundTrip) {
  Bytes data;
  for (int i = 0; i < 1000; ++i) {
    data.push_back(static_cast<std::uint8_t>(i * 7));
  }
  std::string text = armor(data);
  EXPECT_NE(text.find("-----BEGIN PGP PUBLIC KEY BLOCK-----\n"), std::string::npos);
  auto back = dearmor(text, 1 << 20);
  ASSERT_TRUE(back);
  EXPECT_EQ((*back)[0].data, data);
  for (std::size_t pos = 0, next; (next = text.find('\n', pos)) != std::string::npos;
       pos = next + 1) {
    EXPECT_LE(next - pos, 64u);  // RFC 9580 §6.3: at most 76 characters per line
  }
}

// decode_key_input: binary passes through, armor is decoded; the octets
// expected, or the error code and part of its detail.
struct KeyInputCase {
  std::string name;
  Bytes input;
  std::size_t max;
  std::optional<Bytes> expected;
  ErrorCode code = ErrorCode::Internal;
  std::string detail = "";
};

TEST(DecodeKeyInput, Table) {
  const Bytes bin = test::fixture("gpg-ed25519.pgp");
  const std::string pub = "PGP PUBLIC KEY BLOCK";
  auto text = [](std::string_view s) { return Bytes(as_bytes(s).begin(), as_bytes(s).end()); };
  const KeyInputCase cases[] = {
      {"secret key armor is refused",
       text("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nZm9v\n-----END PGP PRIVATE KEY BLOCK-----\n"),
       1 << 20, std::nullopt, ErrorCode::SecretKeyRefused,
       "secret key material — not uploaded (armor says PGP PRIVATE KEY BLOCK)"},
      {"a message is not a key",
       text("-----BEGIN PGP MESSAGE-----\n\nZm9v\n-----END PGP MESSAGE-----\n"), 1 << 20,
       std::nullopt, ErrorCode::NoCertificate, "no public key block (found PGP MESSAGE)"},
      {"binary passes through at the limit", bin, bin.size(), bin},
      {"binary one past the limit", bin, bin.size() - 1, std::nullopt, ErrorCode::PayloadTooLarge,
       "input larger than " + std::to_string(bin.size() - 1) + " octets"},
      // Edge cases added with the table.
      {"the same key armored", text(armor(bin)), 1 << 20, bin},
      {"old secret key label is refused too", text(block("PGP SECRET KEY BLOCK", "\nZm9v\n")),
       1 << 20, std::nullopt, ErrorCode::SecretKeyRefused, "PGP SECRET KEY BLOCK"},
      {"a secret block after a public one is refused",
       text(block(pub, "\nZm9v\n") + block("PGP PRIVATE KEY BLOCK", "\nZm9v\n")), 1 << 20,
       std::nullopt, ErrorCode::SecretKeyRefused, "secret key material"},
      {"a signature is not a key", text(block("PGP SIGNATURE", "\nZm9v\n")), 1 << 20, std::nullopt,
       ErrorCode::NoCertificate, "found PGP SIGNATURE"},
      {"a generic block may hold a key", text(block("PGP ARMORED FILE", "\nZm9v\n")), 1 << 20,
       text("foo")},
      {"public and signature blocks: the public one",
       text(block("PGP SIGNATURE", "\nYmFy\n") + block(pub, "\nZm9v\n")), 1 << 20, text("foo")},
      // Empty input looks armored (nothing but white space) and has no block.
      {"empty input", {}, 1 << 20, std::nullopt, ErrorCode::BadArmor, "no OpenPGP armor block"},
      {"white space only", text(" \r\n\t"), 1 << 20, std::nullopt, ErrorCode::BadArmor,
       "no OpenPGP armor block"},
      {"armored and one past the limit", text(armor(bin)), bin.size() - 1, std::nullopt,
       ErrorCode::PayloadTooLarge, "decoded data larger than"},
      // A first octet without the high bit is taken as armor (binary packets start with it set).
      {"a NUL octet", {0x00}, 1 << 20, std::nullopt, ErrorCode::BadArmor, "no OpenPGP armor block"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = decode_key_input(c.input, c.max);
    if (c.expected) {
      ASSERT_TRUE(r) << r.error().detail;
      EXPECT_EQ(*r, *c.expected);
    } else {
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().code, c.code) << error_code_name(r.error().code);
      EXPECT_NE(r.error().detail.find(c.detail), std::string::npos) << r.error().detail;
    }
  }
}

}  // namespace
}  // namespace keydir::openpgp
