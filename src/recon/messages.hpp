// The recon wire messages (SKS reconMessages.ml, conflux recon/messages.go):
// each message is a 4-octet big-endian length, then a type octet and its
// body. Integers are 4-octet big-endian; an element is 17 little-endian
// octets; a bit string is its bit count, its octet count and the octets;
// a string is its length and its octets.
#pragma once

#include <map>
#include <string>
#include <variant>
#include <vector>

#include "common/result.hpp"
#include "recon/ptree.hpp"
#include "recon/zp.hpp"

namespace keydir::recon {

// Bounds on what a peer may send (conflux caps a read at 16 MiB).
inline constexpr std::uint32_t kMaxMessageBytes = 16u << 20;
inline constexpr int kMaxPrefixBits = 256;
inline constexpr std::uint32_t kMaxConfigEntries = 64;

struct ReconRqstPoly {
  Bitstring prefix;
  std::uint32_t size = 0;
  std::vector<Zp> samples;
};
struct ReconRqstFull {
  Bitstring prefix;
  std::vector<Zp> elements;
};
struct Elements {
  std::vector<Zp> elements;
};
struct FullElements {
  std::vector<Zp> elements;
};
struct SyncFail {};
struct Done {};
struct Flush {};
struct ErrorMsg {
  std::string text;
};
struct DbRqst {
  std::string text;
};
struct DbRepl {
  std::string text;
};
struct Config {
  std::string version;
  std::uint32_t http_port = 0;
  std::uint32_t bit_quantum = 0;
  std::uint32_t mbar = 0;
  std::string filters;
  std::map<std::string, std::string> custom;
};

using Message = std::variant<ReconRqstPoly, ReconRqstFull, Elements, FullElements, SyncFail, Done,
                             Flush, ErrorMsg, DbRqst, DbRepl, Config>;

std::string_view message_name(const Message& m);

// The whole frame: length, type, body.
Bytes encode(const Message& m);
// A frame's contents after its length (type and body). ProtocolError on
// anything malformed or past the bounds.
Result<Message> decode(ByteView frame);

// The bare length-prefixed strings of the config acknowledgement
// ("passed", or "failed" and a reason).
Bytes encode_string(std::string_view s);

}  // namespace keydir::recon
