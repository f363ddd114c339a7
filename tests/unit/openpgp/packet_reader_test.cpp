#include "openpgp/packet_reader.hpp"

#include <gtest/gtest.h>

namespace keydir::openpgp {
namespace {

Result<std::vector<RawPacket>> read_all(const Bytes& in, std::size_t max = 0) {
  PacketReader r(in, max);
  std::vector<RawPacket> out;
  while (true) {
    KEYDIR_TRY(auto p, r.next());
    if (!p) {
      return out;
    }
    out.push_back(*p);
  }
}

struct FrameCase {
  const char* what;
  Bytes header;
  std::size_t body_len;
  std::uint8_t tag;
};

TEST(PacketReader, EveryLengthEncoding) {
  const FrameCase cases[] = {
      {"legacy, 1-octet length", {0x99 & 0xFC, 5}, 5, 6},
      {"legacy, 2-octet length", {0x99, 0x01, 0x00}, 256, 6},
      {"legacy, 4-octet length", {0x9A, 0x00, 0x00, 0x01, 0x00}, 256, 6},
      {"OpenPGP, 1-octet length", {0xCD, 191}, 191, 13},
      {"OpenPGP, 2-octet length", {0xCD, 192, 0}, 192, 13},
      {"OpenPGP, 2-octet length max", {0xCD, 223, 255}, 8383, 13},
      {"OpenPGP, 5-octet length", {0xC2, 0xFF, 0x00, 0x00, 0x20, 0xC0}, 8384, 2},
  };
  for (const auto& c : cases) {
    Bytes in = c.header;
    in.resize(in.size() + c.body_len, 0x55);
    auto packets = read_all(in);
    ASSERT_TRUE(packets) << c.what << ": " << packets.error().detail;
    ASSERT_EQ(packets->size(), 1u) << c.what;
    EXPECT_EQ((*packets)[0].tag, c.tag) << c.what;
    EXPECT_EQ((*packets)[0].body.size(), c.body_len) << c.what;
  }
}

TEST(PacketReader, WriteHeaderUsesShortestEncodingAndReadsBack) {
  for (std::size_t len : {0u, 191u, 192u, 8383u, 8384u, 70000u}) {
    Bytes out;
    write_packet(out, 13, Bytes(len, 0x61));
    std::size_t header = len < 192 ? 2 : len < 8384 ? 3 : 6;
    EXPECT_EQ(out.size(), header + len);
    auto packets = read_all(out);
    ASSERT_TRUE(packets);
    EXPECT_EQ((*packets)[0].body.size(), len);
  }
}

TEST(PacketReader, RefusesWhatCannotBeInACertificate) {
  const std::pair<const char*, Bytes> cases[] = {
      {"high bit clear: not OpenPGP", {0x41, 0x42}},
      {"partial body length", {0xCB, 0xE1, 0x00, 0x00}},
      {"legacy indeterminate length", {0x9B, 0x00}},
      {"body shorter than its header says", {0xCD, 0x05, 'a', 'b'}},
      {"header cut short", {0xCD, 0xC5}},
  };
  for (const auto& [why, in] : cases) {
    auto r = read_all(in);
    ASSERT_FALSE(r) << why;
    EXPECT_EQ(r.error().code, ErrorCode::MalformedPacket) << why;
  }
}

TEST(PacketReader, PacketSizeLimit) {
  Bytes in;
  write_packet(in, 13, Bytes(1000, 0x61));
  EXPECT_TRUE(read_all(in, 1000));  // at the limit
  auto r = read_all(in, 999);       // one past it
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::PacketTooLarge);
}

}  // namespace
}  // namespace keydir::openpgp
