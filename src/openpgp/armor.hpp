// ASCII armor (RFC 9580 §6): decoding of one or several blocks, encoding.
//
// Security considerations: the text is attacker-controlled. Decoding is
// linear in the input, the number of blocks and of header lines is bounded
// (limits::kMaxArmorBlocks, kMaxArmorHeaders), and the decoded output is
// bounded by the caller's `max_output`.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/bytes.hpp"
#include "common/result.hpp"

namespace keydir::openpgp {

enum class ArmorKind { PublicKey, PrivateKey, Signature, Message, Other };

struct ArmorBlock {
  ArmorKind kind = ArmorKind::Other;
  std::string label;  // e.g. "PGP PUBLIC KEY BLOCK"
  std::vector<std::pair<std::string, std::string>> headers;
  Bytes data;
};

// True if the input starts (after white space) with something other than a
// binary packet header, i.e. it should be read as armored text.
bool looks_armored(ByteView input);

// Decodes every armor block in `text`; text before, between and after blocks
// is ignored. CRLF and LF line ends are accepted. A CRC-24 checksum is checked
// when present. Errors: BadArmor (no block, unterminated block, bad base64,
// checksum mismatch, too many blocks), PayloadTooLarge (output > max_output).
Result<std::vector<ArmorBlock>> dearmor(std::string_view text, std::size_t max_output);

// Encodes `data` as one armor block with 64-character lines and a CRC-24.
std::string armor(ByteView data, ArmorKind kind = ArmorKind::PublicKey,
                  const std::vector<std::pair<std::string, std::string>>& headers = {});

// RFC 9580 §6.1.1: CRC-24 with init 0xB704CE and generator 0x864CFB.
std::uint32_t crc24(ByteView data);

}  // namespace keydir::openpgp
