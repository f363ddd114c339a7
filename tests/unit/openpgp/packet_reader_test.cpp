// PacketReader's framing, as tables: one row per input (name, octets, limit,
// the packets expected or the error code and part of its detail).
#include "openpgp/packet_reader.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/limits.hpp"

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

// `header` then `body_len` octets of body.
Bytes framed(Bytes header, std::size_t body_len) {
  header.resize(header.size() + body_len, 0x55);
  return header;
}

// An OpenPGP-format header of tag 13 with a 5-octet length.
Bytes five_octet_header(std::size_t body_len) {
  Bytes h{0xCD, 0xFF};
  append_be(h, body_len, 4);
  return h;
}

Bytes concat(Bytes a, const Bytes& b) {
  append(a, b);
  return a;
}

struct Packet {
  std::uint8_t tag;
  std::size_t body_len;
};

struct ReadCase {
  std::string name;
  Bytes input;
  std::size_t max = 0;          // 0: limits::kMaxPacketBytes
  std::vector<Packet> packets;  // expected when `error` is empty
  std::optional<ErrorCode> error;
  std::string detail;  // part of the error's detail
};

ReadCase read(std::string name, Bytes input, std::vector<Packet> packets, std::size_t max = 0) {
  return {std::move(name), std::move(input), max, std::move(packets), std::nullopt, ""};
}

ReadCase refused(std::string name, Bytes input, ErrorCode code, std::string detail,
                 std::size_t max = 0) {
  return {std::move(name), std::move(input), max, {}, code, std::move(detail)};
}

void check(const ReadCase& c) {
  SCOPED_TRACE(c.name);
  auto r = read_all(c.input, c.max);
  if (c.error) {
    ASSERT_FALSE(r) << "read " << r->size() << " packets";
    EXPECT_EQ(r.error().code, *c.error) << error_code_name(r.error().code);
    EXPECT_NE(r.error().detail.find(c.detail), std::string::npos) << r.error().detail;
    return;
  }
  ASSERT_TRUE(r) << r.error().detail;
  ASSERT_EQ(r->size(), c.packets.size());
  for (std::size_t i = 0; i < c.packets.size(); ++i) {
    EXPECT_EQ((*r)[i].tag, c.packets[i].tag) << "packet " << i;
    EXPECT_EQ((*r)[i].body.size(), c.packets[i].body_len) << "packet " << i;
  }
}

TEST(PacketReader, EveryLengthEncoding) {
  const ReadCase cases[] = {
      read("legacy, 1-octet length", framed({0x99 & 0xFC, 5}, 5), {{6, 5}}),
      read("legacy, 2-octet length", framed({0x99, 0x01, 0x00}, 256), {{6, 256}}),
      read("legacy, 4-octet length", framed({0x9A, 0x00, 0x00, 0x01, 0x00}, 256), {{6, 256}}),
      read("OpenPGP, 1-octet length", framed({0xCD, 191}, 191), {{13, 191}}),
      read("OpenPGP, 2-octet length", framed({0xCD, 192, 0}, 192), {{13, 192}}),
      read("OpenPGP, 2-octet length max", framed({0xCD, 223, 255}, 8383), {{13, 8383}}),
      read("OpenPGP, 5-octet length", framed({0xC2, 0xFF, 0x00, 0x00, 0x20, 0xC0}, 8384),
           {{2, 8384}}),
      // Edge cases added with the table.
      read("OpenPGP, empty body", framed({0xCD, 0}, 0), {{13, 0}}),
      read("legacy, empty body", framed({0xB4, 0}, 0), {{13, 0}}),
      read("legacy, 1-octet length max", framed({0x98, 0xFF}, 255), {{6, 255}}),
      read("legacy, 2-octet length max", framed({0x99, 0xFF, 0xFF}, 65535), {{6, 65535}}),
      read("OpenPGP, 5-octet length of a short body (not the shortest form)",
           framed({0xCD, 0xFF, 0, 0, 0, 3}, 3), {{13, 3}}),
      read("OpenPGP, tag 63", framed({0xFF, 1}, 1), {{63, 1}}),
      read("OpenPGP, tag 0 (reserved) is framed like any other", framed({0xC0, 1}, 1), {{0, 1}}),
      read("legacy, tag 15 (the highest it can hold)", framed({0xBC, 2}, 2), {{15, 2}}),
  };
  for (const auto& c : cases) {
    check(c);
  }
}

TEST(PacketReader, Sequences) {
  const ReadCase cases[] = {
      read("empty input: no packets", {}, {}),
      read("two packets back to back", concat(framed({0xC6, 3}, 3), framed({0xCD, 0}, 0)),
           {{6, 3}, {13, 0}}),
      read("legacy then OpenPGP format", concat(framed({0x98, 2}, 2), framed({0xC2, 1}, 1)),
           {{6, 2}, {2, 1}}),
      refused("a good packet then garbage", concat(framed({0xC6, 1}, 1), {0x00}),
              ErrorCode::MalformedPacket, "bad packet header at offset 3"),
      refused("a good packet then a truncated one", concat(framed({0xC6, 1}, 1), {0xCD, 5, 'a'}),
              ErrorCode::MalformedPacket,
              "truncated packet at offset 3: header says 5 octets, 1 left"),
  };
  for (const auto& c : cases) {
    check(c);
  }
}

TEST(PacketReader, WriteHeaderUsesShortestEncodingAndReadsBack) {
  struct WriteCase {
    std::size_t len;
    std::size_t header;  // the shortest header for `len`
  };
  const WriteCase cases[] = {
      {0, 2},
      {191, 2},
      {192, 3},
      {8383, 3},
      {8384, 6},
      {70000, 6},
      // Edge cases added with the table.
      {1, 2},
      {193, 3},
      {65536, 6},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE("body of " + std::to_string(c.len) + " octets");
    Bytes out;
    write_packet(out, 13, Bytes(c.len, 0x61));
    EXPECT_EQ(out.size(), c.header + c.len);
    auto packets = read_all(out);
    ASSERT_TRUE(packets);
    ASSERT_EQ(packets->size(), 1u);
    EXPECT_EQ((*packets)[0].tag, 13);
    EXPECT_EQ((*packets)[0].body.size(), c.len);
  }
}

TEST(PacketReader, RefusesWhatCannotBeInACertificate) {
  const ReadCase cases[] = {
      refused("high bit clear: not OpenPGP", {0x41, 0x42}, ErrorCode::MalformedPacket,
              "not OpenPGP data: bad packet header at offset 0"),
      refused("partial body length", {0xCB, 0xE1, 0x00, 0x00}, ErrorCode::MalformedPacket,
              "partial body length at offset 0"),
      refused("legacy indeterminate length", {0x9B, 0x00}, ErrorCode::MalformedPacket,
              "indeterminate packet length at offset 0"),
      refused("body shorter than its header says", {0xCD, 0x05, 'a', 'b'},
              ErrorCode::MalformedPacket,
              "truncated packet at offset 0: header says 5 octets, 2 left"),
      refused("header cut short", {0xCD, 0xC5}, ErrorCode::MalformedPacket,
              "packet header: truncated at offset 0"),
      // Edge cases added with the table.
      refused("a NUL octet", {0x00}, ErrorCode::MalformedPacket, "bad packet header"),
      refused("text with CRLF", {'a', '\r', '\n'}, ErrorCode::MalformedPacket, "bad packet header"),
      refused("a packet tag octet alone", {0xCD}, ErrorCode::MalformedPacket,
              "packet header: truncated"),
      refused("legacy tag octet alone", {0x98}, ErrorCode::MalformedPacket,
              "packet header: truncated"),
      refused("legacy 2-octet length cut short", {0x99, 0x01}, ErrorCode::MalformedPacket,
              "packet header: truncated"),
      refused("legacy 4-octet length cut short", {0x9A, 0x00, 0x00, 0x01},
              ErrorCode::MalformedPacket, "packet header: truncated"),
      refused("5-octet length cut short", {0xC2, 0xFF, 0x00, 0x00, 0x20},
              ErrorCode::MalformedPacket, "packet header: truncated"),
      refused("every partial body length octet (224)", {0xCB, 0xE0, 0x00},
              ErrorCode::MalformedPacket, "partial body length"),
      refused("every partial body length octet (254)", {0xCB, 0xFE, 0x00},
              ErrorCode::MalformedPacket, "partial body length"),
      refused("5-octet length of 4 GiB - 1, over the default limit",
              {0xC2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, ErrorCode::PacketTooLarge,
              "exceeds the limit of " + std::to_string(limits::kMaxPacketBytes)),
  };
  for (const auto& c : cases) {
    check(c);
  }
}

TEST(PacketReader, PacketSizeLimit) {
  Bytes in;
  write_packet(in, 13, Bytes(1000, 0x61));
  const ReadCase cases[] = {
      read("at the limit", in, {{13, 1000}}, 1000),
      refused("one past it", in, ErrorCode::PacketTooLarge,
              "packet of 1000 octets at offset 0 exceeds the limit of 999", 999),
      // Edge cases added with the table.
      read("an empty body under a limit of 1", framed({0xCD, 0}, 0), {{13, 0}}, 1),
      read("the default limit, exactly",
           framed(five_octet_header(limits::kMaxPacketBytes), limits::kMaxPacketBytes),
           {{13, limits::kMaxPacketBytes}}),
      refused("one past the default limit (no body needed to refuse)",
              five_octet_header(limits::kMaxPacketBytes + 1), ErrorCode::PacketTooLarge,
              "exceeds the limit of " + std::to_string(limits::kMaxPacketBytes)),
  };
  for (const auto& c : cases) {
    check(c);
  }
}

}  // namespace
}  // namespace keydir::openpgp
