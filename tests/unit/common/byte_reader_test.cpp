#include "common/byte_reader.hpp"

#include <gtest/gtest.h>

namespace keydir {
namespace {

TEST(ByteReader, ReadsBigEndianAndStopsAtTheEnd) {
  Bytes data{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
  ByteReader r(data, "test");
  EXPECT_EQ(*r.read_u8(), 0x01);
  EXPECT_EQ(*r.read_u16(), 0x0203);
  EXPECT_EQ(*r.read_u32(), 0x04050607u);
  EXPECT_TRUE(r.at_end());
  auto e = r.read_u8();
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, ErrorCode::MalformedPacket);
  EXPECT_EQ(e.error().detail, "test: truncated");
}

TEST(ByteReader, LengthPrefixedIsBounded) {
  Bytes data{0x03, 'a', 'b', 'c'};
  {
    ByteReader r(data, "t");
    auto v = r.read_length_prefixed(1, 1, 3);  // at the limit
    ASSERT_TRUE(v);
    EXPECT_EQ(as_chars(*v), "abc");
    EXPECT_TRUE(r.expect_end());
  }
  {
    ByteReader r(data, "t");
    EXPECT_FALSE(r.read_length_prefixed(1, 1, 2));  // one past it
  }
  Bytes lying{0x05, 'a'};
  ByteReader r(lying, "t");
  EXPECT_FALSE(r.read_length_prefixed(1, 0, 255));  // claims more than is there
}

TEST(ByteReader, ExpectEndReportsTrailingBytes) {
  Bytes data{0x01, 0x02};
  ByteReader r(data, "t");
  ASSERT_TRUE(r.read_u8());
  auto e = r.expect_end();
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().detail, "t: 1 trailing bytes");
}

}  // namespace
}  // namespace keydir
