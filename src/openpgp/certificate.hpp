// The certificate model (RFC 9580 §10.1 "Transferable Public Keys"), and the
// parser that builds it from a packet stream.
//
// A Certificate is what the input said, structured but not verified: nothing
// in it is trusted until verify() (verify.hpp) has checked it.
//
// Security considerations: the packet stream is attacker-controlled. The
// number of packets per certificate (limits::kMaxPacketsPerCert) and of
// certificates per input (caller's bound) are checked while reading; secret
// key packets anywhere refuse the whole input, so that secret material is
// never stored or echoed.
#pragma once

#include <string>
#include <vector>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "openpgp/packets.hpp"

namespace keydir::openpgp {

// Something the parser, the verifier or the policy left out, and why.
struct Finding {
  std::string component;  // e.g. "user ID \"Alice <a@example.org>\"", "subkey 0x…"
  std::string reason;
};

struct UserIdBundle {
  Bytes body;  // user ID (UTF-8 text) or user attribute subpackets
  std::vector<Signature> signatures;
};

struct SubkeyBundle {
  PublicKey key;
  std::vector<Signature> signatures;
};

struct Certificate {
  PublicKey primary;
  std::vector<Signature> direct_signatures;  // direct-key sigs and key revocations
  std::vector<UserIdBundle> user_ids;
  std::vector<UserIdBundle> user_attributes;
  std::vector<SubkeyBundle> subkeys;
  std::vector<Finding> dropped;  // packets the parser did not place
};

// One certificate of an input, or why it could not be read. `fingerprint`
// names it when the primary key packet could at least be hashed.
struct ParsedCert {
  Result<Certificate> cert = fail(ErrorCode::NoCertificate, "empty");
  std::optional<Fingerprint> fingerprint;
  std::size_t offset = 0;  // of its first packet in the binary input
};

struct ParseOptions {
  std::size_t max_packet_bytes = 0;  // 0: limits::kMaxPacketBytes
  std::size_t max_certs = 0;         // 0: no bound (bulk import streams)
};

// Splits a binary packet stream into certificates. Errors for the whole input:
// SecretKeyRefused (any tag 5 or 7), MalformedPacket/PacketTooLarge (framing),
// NoCertificate (no public key packet at all), TooManyComponents (more than
// max_certs). A broken primary key fails only its own certificate.
Result<std::vector<ParsedCert>> parse_certificates(ByteView binary,
                                                   const ParseOptions& options = {});

// Armored or binary input → the binary packet stream of its public key
// blocks. Errors: SecretKeyRefused ("PRIVATE KEY BLOCK"), BadArmor,
// NoCertificate (armor of another kind, e.g. a message), PayloadTooLarge.
Result<Bytes> decode_key_input(ByteView input, std::size_t max_output);

// Human-readable name of a user ID for findings: the text, bounded and with
// control characters escaped.
std::string describe_user_id(ByteView body);

}  // namespace keydir::openpgp
