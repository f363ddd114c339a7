#include "openpgp/packet_reader.hpp"

#include "common/byte_reader.hpp"
#include "common/limits.hpp"

namespace keydir::openpgp {

PacketReader::PacketReader(ByteView input, std::size_t max_packet)
    : input_(input), max_packet_(max_packet ? max_packet : limits::kMaxPacketBytes) {}

Result<std::optional<RawPacket>> PacketReader::next() {
  if (pos_ >= input_.size()) {
    return std::optional<RawPacket>{};
  }
  const std::size_t start = pos_;
  ByteReader r(input_.subspan(pos_), "packet header");
  KEYDIR_TRY(std::uint8_t ctb, r.read_u8());
  // RFC 9580 §4.2: "The most significant bit is the leftmost bit, called bit 7.
  // ... Bit 7 -- always one".
  if ((ctb & 0x80) == 0) {
    return fail(ErrorCode::MalformedPacket,
                "not OpenPGP data: bad packet header at offset " + std::to_string(start));
  }
  std::uint8_t tag = 0;
  std::size_t len = 0;
  if (ctb & 0x40) {
    tag = ctb & 0x3f;
    KEYDIR_TRY(std::uint8_t o1, r.read_u8());
    if (o1 < 192) {
      len = o1;
    } else if (o1 < 224) {
      KEYDIR_TRY(std::uint8_t o2, r.read_u8());
      len = (std::size_t{o1} - 192) * 256 + o2 + 192;
    } else if (o1 == 255) {
      KEYDIR_TRY(std::uint32_t l, r.read_u32());
      len = l;
    } else {
      return fail(ErrorCode::MalformedPacket,
                  "partial body length at offset " + std::to_string(start) +
                      " (not allowed in a certificate)");
    }
  } else {
    tag = (ctb >> 2) & 0x0f;
    switch (ctb & 0x03) {
      case 0: {
        KEYDIR_TRY(std::uint8_t l, r.read_u8());
        len = l;
        break;
      }
      case 1: {
        KEYDIR_TRY(std::uint16_t l, r.read_u16());
        len = l;
        break;
      }
      case 2: {
        KEYDIR_TRY(std::uint32_t l, r.read_u32());
        len = l;
        break;
      }
      default:
        return fail(ErrorCode::MalformedPacket,
                    "indeterminate packet length at offset " + std::to_string(start) +
                        " (not allowed in a certificate)");
    }
  }
  if (len > max_packet_) {
    return fail(ErrorCode::PacketTooLarge, "packet of " + std::to_string(len) +
                                               " octets at offset " + std::to_string(start) +
                                               " exceeds the limit of " +
                                               std::to_string(max_packet_));
  }
  if (r.remaining() < len) {
    return fail(ErrorCode::MalformedPacket,
                "truncated packet at offset " + std::to_string(start) + ": header says " +
                    std::to_string(len) + " octets, " + std::to_string(r.remaining()) + " left");
  }
  RawPacket p;
  p.tag = tag;
  p.offset = start;
  p.body = input_.subspan(start + r.position(), len);
  pos_ = start + r.position() + len;
  return std::optional<RawPacket>(p);
}

void write_packet_header(Bytes& out, std::uint8_t tag, std::size_t body_len) {
  out.push_back(static_cast<std::uint8_t>(0xC0 | tag));
  if (body_len < 192) {
    out.push_back(static_cast<std::uint8_t>(body_len));
  } else if (body_len < 8384) {
    std::size_t v = body_len - 192;
    out.push_back(static_cast<std::uint8_t>((v >> 8) + 192));
    out.push_back(static_cast<std::uint8_t>(v & 0xff));
  } else {
    out.push_back(0xff);
    append_be(out, body_len, 4);
  }
}

void write_packet(Bytes& out, std::uint8_t tag, ByteView body) {
  write_packet_header(out, tag, body.size());
  append(out, body);
}

}  // namespace keydir::openpgp
