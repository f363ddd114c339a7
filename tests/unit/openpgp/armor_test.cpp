#include "openpgp/armor.hpp"

#include <gtest/gtest.h>

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

TEST(Armor, Crc24MatchesTheReferenceAtEveryLength) {
  EXPECT_EQ(crc24(as_bytes(std::string_view("123456789"))), 0x21CF02u);  // the check value
  Bytes data;
  std::uint32_t x = 12345;
  for (std::size_t n = 0; n < 70; ++n) {
    EXPECT_EQ(crc24(data), crc24_reference(data)) << "length " << n;
    x = x * 1103515245 + 12345;
    data.push_back(static_cast<std::uint8_t>(x >> 16));
  }
}

TEST(Armor, Base64DecoderGivesTheSameOctetsHoweverTheInputIsSplit) {
  const std::string text = "Zm9v YmFy\r\nYmF6cXV4\nZg==";
  auto whole = base64_decode(text);
  ASSERT_TRUE(whole);
  EXPECT_EQ(std::string(as_chars(*whole)), "foobarbazquxf");
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
  for (std::string_view bad : {"Zm9v!", "Zg==Zm9v", "Zg=", "Z", "Zm9vY===", "=Zm9"}) {
    EXPECT_FALSE(base64_decode(bad)) << bad;
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

TEST(Armor, DecodesWithHeadersAndChecksum) {
  auto blocks = dearmor(block_with_crc("foobar"), 1 << 20);
  ASSERT_TRUE(blocks) << blocks.error().detail;
  ASSERT_EQ(blocks->size(), 1u);
  EXPECT_EQ((*blocks)[0].kind, ArmorKind::PublicKey);
  EXPECT_EQ(as_chars((*blocks)[0].data), "foobar");
  ASSERT_EQ((*blocks)[0].headers.size(), 1u);
  EXPECT_EQ((*blocks)[0].headers[0].first, "Comment");
}

TEST(Armor, AcceptsCrlfTextAroundAndSeveralBlocks) {
  std::string two = "Here is my key:\n" + crlf(block_with_crc("foobar")) + "and another\n" +
                    block_with_crc("foobar") + "-- \nsignature\n";
  auto blocks = dearmor(two, 1 << 20);
  ASSERT_TRUE(blocks) << blocks.error().detail;
  EXPECT_EQ(blocks->size(), 2u);
}

// RFC 9580 §6.1: a footer that is missing, malformed or wrong is no reason to
// refuse (the signatures protect the data).
TEST(Armor, ChecksumIsNeverAReasonToRefuse) {
  std::string wrong = block_with_crc("foobar");
  wrong[wrong.find("\n=") + 2] ^= 1;
  std::string malformed = block_with_crc("foobar");
  malformed.replace(malformed.find("\n=") + 2, 4, "*#!?");
  for (const auto& s : {wrong, malformed}) {
    auto blocks = dearmor(s, 1 << 20);
    ASSERT_TRUE(blocks) << blocks.error().detail;
    EXPECT_EQ(as_chars((*blocks)[0].data), "foobar");
  }
}

TEST(Armor, MissingChecksumIsFine) {
  std::string s = block_with_crc("foobar");
  s.erase(s.find("\n="), 6);
  auto blocks = dearmor(s, 1 << 20);
  ASSERT_TRUE(blocks) << blocks.error().detail;
  EXPECT_EQ(as_chars((*blocks)[0].data), "foobar");
}

TEST(Armor, EmptyHeaderValueAndMissingBlankLine) {
  // Seen in the wild (RNP's empty_header_line.asc; producers without the blank line).
  auto a = dearmor("-----BEGIN PGP PUBLIC KEY BLOCK-----\nHash: \n\nZm9vYmFy\n"
                   "-----END PGP PUBLIC KEY BLOCK-----\n", 1 << 20);
  ASSERT_TRUE(a) << a.error().detail;
  EXPECT_EQ(as_chars((*a)[0].data), "foobar");
  auto b = dearmor("-----BEGIN PGP PUBLIC KEY BLOCK-----\nZm9vYmFy\n"
                   "-----END PGP PUBLIC KEY BLOCK-----\n", 1 << 20);
  ASSERT_TRUE(b) << b.error().detail;
  EXPECT_EQ(as_chars((*b)[0].data), "foobar");
}

struct BadCase {
  const char* why;
  std::string text;
  ErrorCode code;
};

TEST(Armor, RefusesBrokenInputWithAReason) {
  std::string good = block_with_crc("foobar");
  std::string bad_b64 = good;
  bad_b64.replace(bad_b64.find("Zm9v"), 4, "Zm*v");
  const BadCase cases[] = {
      {"no armor at all", "hello world\n", ErrorCode::BadArmor},
      {"not base64", bad_b64, ErrorCode::BadArmor},
      {"no tail", "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nZm9v\n", ErrorCode::BadArmor},
      {"tail of another kind",
       "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nZm9v\n-----END PGP MESSAGE-----\n",
       ErrorCode::BadArmor},
  };
  for (const auto& c : cases) {
    auto r = dearmor(c.text, 1 << 20);
    ASSERT_FALSE(r) << c.why;
    EXPECT_EQ(r.error().code, c.code) << c.why;
    EXPECT_FALSE(r.error().detail.empty()) << c.why;
  }
}

TEST(Armor, OutputIsBounded) {
  std::string big = armor(Bytes(3000, 0x42));
  EXPECT_TRUE(dearmor(big, 3000));  // at the limit
  auto r = dearmor(big, 2999);      // one past it
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::PayloadTooLarge);
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

TEST(DecodeKeyInput, SecretKeyArmorIsRefused) {
  auto r = decode_key_input(as_bytes("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nZm9v\n"
                                     "-----END PGP PRIVATE KEY BLOCK-----\n"),
                            1 << 20);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::SecretKeyRefused);
}

TEST(DecodeKeyInput, MessageIsNotAKey) {
  auto r = decode_key_input(as_bytes("-----BEGIN PGP MESSAGE-----\n\nZm9v\n"
                                     "-----END PGP MESSAGE-----\n"),
                            1 << 20);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::NoCertificate);
}

TEST(DecodeKeyInput, BinaryPassesThroughAndIsBounded) {
  Bytes bin = test::fixture("gpg-ed25519.pgp");
  auto r = decode_key_input(bin, bin.size());
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, bin);
  auto over = decode_key_input(bin, bin.size() - 1);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, ErrorCode::PayloadTooLarge);
}

}  // namespace
}  // namespace keydir::openpgp
