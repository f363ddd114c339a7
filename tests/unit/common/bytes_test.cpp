#include "common/bytes.hpp"

#include <gtest/gtest.h>

namespace keydir {
namespace {

TEST(Hex, RoundTripAndCase) {
  Bytes b{0x00, 0xAB, 0xff, 0x10};
  EXPECT_EQ(to_hex(b), "00ABFF10");
  EXPECT_EQ(*from_hex("00abFF10"), b);
}

TEST(Hex, RejectsOddLengthAndBadDigits) {
  EXPECT_FALSE(from_hex("abc"));   // odd length
  EXPECT_FALSE(from_hex("zz"));    // not hex
  EXPECT_FALSE(from_hex("0x12"));  // prefix is the caller's business
}

struct B64Case {
  std::string_view plain;
  std::string_view encoded;
};

TEST(Base64, Rfc4648Vectors) {
  // RFC 4648 §10.
  const B64Case cases[] = {{"", ""},
                           {"f", "Zg=="},
                           {"fo", "Zm8="},
                           {"foo", "Zm9v"},
                           {"foob", "Zm9vYg=="},
                           {"fooba", "Zm9vYmE="},
                           {"foobar", "Zm9vYmFy"}};
  for (const auto& c : cases) {
    EXPECT_EQ(base64_encode(as_bytes(c.plain)), c.encoded);
    auto d = base64_decode(c.encoded);
    ASSERT_TRUE(d) << c.encoded;
    EXPECT_EQ(as_chars(*d), c.plain);
  }
}

TEST(Base64, SkipsWhiteSpaceAndRejectsGarbage) {
  EXPECT_EQ(as_chars(*base64_decode("Zm9v\r\nYmFy")), "foobar");
  EXPECT_FALSE(base64_decode("Zm9v!"));     // not in the alphabet
  EXPECT_FALSE(base64_decode("Zg==Zg=="));  // data after padding
  EXPECT_FALSE(base64_decode("Zm9"));       // not a multiple of four
}

TEST(ZBase32, EncodesAsWkdDoes) {
  // draft-koch-openpgp-webkey-service §3.1 example: SHA-1("joe.doe").
  auto sha1 = from_hex("a83ee94be89c48a11ed25ab44cfdc848833c8b6e");
  ASSERT_TRUE(sha1);
  EXPECT_EQ(zbase32_encode(*sha1), "iy9q119eutrkn8s1mk4r39qejnbu3n5q");
  EXPECT_TRUE(is_zbase32("iy9q119eutrkn8s1mk4r39qejnbu3n5q"));
  EXPECT_FALSE(is_zbase32("iy9q119eutrkn8s1mk4r39qejnbu3n5l"));  // 'l' is not z-base-32
}

}  // namespace
}  // namespace keydir
