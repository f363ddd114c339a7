// Packet framing (RFC 9580 §4.2): splits a binary OpenPGP stream into packets.
//
// Security considerations: the input is attacker-controlled. Every length is
// checked against the bytes remaining and against limits::kMaxPacketBytes
// before a body is touched. Partial body lengths (§4.2.1.4) and the legacy
// "indeterminate length" are refused: neither may appear in a certificate
// (§4.2.1.4: "An implementation MAY use Partial Body Lengths for data packets"
// — only for data packets). A framing error ends the stream: nothing after it
// can be trusted to start on a packet boundary.
#pragma once

#include <optional>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "openpgp/types.hpp"

namespace keydir::openpgp {

struct RawPacket {
  std::uint8_t tag = 0;    // packet type ID (0..63)
  ByteView body;           // borrowed from the input
  std::size_t offset = 0;  // of the header in the input, for messages
};

struct PacketHeader {
  std::uint8_t tag = 0;
  std::size_t header_len = 0;
  std::size_t body_len = 0;
};

// Reads the header at the start of `data`. nullopt: `data` is too short to
// hold the whole header (a streaming caller reads more and tries again).
// Errors as PacketReader::next().
Result<std::optional<PacketHeader>> peek_packet_header(ByteView data, std::size_t offset);

class PacketReader {
 public:
  explicit PacketReader(ByteView input, std::size_t max_packet = 0);
  // nullopt at the end of the input. Errors: MalformedPacket (bad header,
  // truncated body, partial or indeterminate length), PacketTooLarge.
  [[nodiscard]] Result<std::optional<RawPacket>> next();
  [[nodiscard]] std::size_t position() const { return pos_; }

 private:
  ByteView input_;
  std::size_t pos_ = 0;
  std::size_t max_packet_;
};

// Appends an OpenPGP-format (new) packet header for `body_len` octets, using
// the shortest length encoding (§4.2.1).
void write_packet_header(Bytes& out, std::uint8_t tag, std::size_t body_len);
void write_packet(Bytes& out, std::uint8_t tag, ByteView body);

}  // namespace keydir::openpgp
