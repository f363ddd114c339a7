#include "openpgp/packet_reader.hpp"

#include "common/limits.hpp"

namespace keydir::openpgp {

PacketReader::PacketReader(ByteView input, std::size_t max_packet)
    : input_(input), max_packet_(max_packet ? max_packet : limits::kMaxPacketBytes) {}

Result<std::optional<PacketHeader>> peek_packet_header(ByteView data, std::size_t offset) {
  if (data.empty()) {
    return std::optional<PacketHeader>{};
  }
  const std::uint8_t ctb = data[0];
  // RFC 9580 §4.2: "Bit 7 -- always one".
  if ((ctb & 0x80) == 0) {
    return fail(ErrorCode::MalformedPacket,
                "not OpenPGP data: bad packet header at offset " + std::to_string(offset));
  }
  auto need = [&](std::size_t n) { return data.size() >= n; };
  auto be = [&](std::size_t from, std::size_t n) {
    std::size_t v = 0;
    for (std::size_t i = 0; i < n; ++i) {
      v = v << 8 | data[from + i];
    }
    return v;
  };
  PacketHeader h;
  if (ctb & 0x40) {
    h.tag = ctb & 0x3f;
    if (!need(2)) {
      return std::optional<PacketHeader>{};
    }
    std::uint8_t o1 = data[1];
    if (o1 < 192) {
      h.header_len = 2;
      h.body_len = o1;
    } else if (o1 < 224) {
      if (!need(3)) {
        return std::optional<PacketHeader>{};
      }
      h.header_len = 3;
      h.body_len = (std::size_t{o1} - 192) * 256 + data[2] + 192;
    } else if (o1 == 255) {
      if (!need(6)) {
        return std::optional<PacketHeader>{};
      }
      h.header_len = 6;
      h.body_len = be(2, 4);
    } else {
      return fail(ErrorCode::MalformedPacket, "partial body length at offset " +
                                                  std::to_string(offset) +
                                                  " (not allowed in a certificate)");
    }
  } else {
    h.tag = (ctb >> 2) & 0x0f;
    std::size_t n = 0;
    switch (ctb & 0x03) {
      case 0:
        n = 1;
        break;
      case 1:
        n = 2;
        break;
      case 2:
        n = 4;
        break;
      default:
        return fail(ErrorCode::MalformedPacket, "indeterminate packet length at offset " +
                                                    std::to_string(offset) +
                                                    " (not allowed in a certificate)");
    }
    if (!need(1 + n)) {
      return std::optional<PacketHeader>{};
    }
    h.header_len = 1 + n;
    h.body_len = be(1, n);
  }
  return std::optional<PacketHeader>(h);
}

Result<std::optional<RawPacket>> PacketReader::next() {
  if (pos_ >= input_.size()) {
    return std::optional<RawPacket>{};
  }
  const std::size_t start = pos_;
  ByteView rest = input_.subspan(pos_);
  KEYDIR_TRY(auto header, peek_packet_header(rest, start));
  if (!header) {
    return fail(ErrorCode::MalformedPacket,
                "packet header: truncated at offset " + std::to_string(start));
  }
  if (header->body_len > max_packet_) {
    return fail(ErrorCode::PacketTooLarge,
                "packet of " + std::to_string(header->body_len) + " octets at offset " +
                    std::to_string(start) + " exceeds the limit of " + std::to_string(max_packet_));
  }
  std::size_t left = rest.size() - header->header_len;
  if (left < header->body_len) {
    return fail(ErrorCode::MalformedPacket, "truncated packet at offset " + std::to_string(start) +
                                                ": header says " +
                                                std::to_string(header->body_len) + " octets, " +
                                                std::to_string(left) + " left");
  }
  RawPacket p;
  p.tag = header->tag;
  p.offset = start;
  p.body = rest.subspan(header->header_len, header->body_len);
  pos_ = start + header->header_len + header->body_len;
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
