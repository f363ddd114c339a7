// Typed packets of a certificate: public keys (v4, v6), signatures (v4, v6),
// user IDs and user attributes.
//
// Every packet keeps its original body (`body`): certificates are written out
// from those bytes and never re-encoded from the parsed fields.
//
// Security considerations: bodies are attacker-controlled. Parsing goes
// through ByteReader only; MPIs are bounded by limits::kMaxMpiBits and
// subpacket counts by limits::kMaxSubpackets; every structure must end exactly
// where its length says.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "openpgp/identifiers.hpp"
#include "openpgp/types.hpp"

namespace keydir::openpgp {

// Algorithm-specific public key fields (RFC 9580 §5.5.5).
struct KeyMaterial {
  std::vector<Bytes> mpis;  // RSA: n, e; DSA: p, q, g, y; ElGamal: p, g, y
  Curve curve = Curve::Unknown;
  Bytes oid;     // ECDH / ECDSA / EdDSALegacy
  Bytes point;   // EC point as stored in its MPI (with prefix octet)
  Bytes native;  // X25519, X448, Ed25519, Ed448: raw public key
};

struct PublicKey {
  Bytes body;
  std::uint8_t version = 0;
  std::uint32_t created = 0;
  PublicKeyAlgorithm algorithm{};
  KeyMaterial material;
  bool material_known = false;  // false: algorithm we do not parse (kept opaque)
  Fingerprint fingerprint;
  KeyId key_id;
  unsigned bits = 0;  // modulus or field size, 0 if unknown
};

// Parses a public key or subkey packet body. Errors: UnsupportedVersion for v2,
// v3 and v5; MalformedPacket for bad structure.
Result<PublicKey> parse_public_key(ByteView body);

struct Subpacket {
  std::uint8_t type = 0;  // without the critical bit
  bool critical = false;
  bool hashed = false;
  Bytes data;
};

struct SignatureMaterial {
  std::vector<Bytes> mpis;  // RSA: s; DSA/ECDSA/EdDSALegacy: r, s
  Bytes native;             // Ed25519 (64 octets), Ed448 (114 octets)
};

struct Signature {
  Bytes body;
  std::uint8_t version = 0;
  SignatureType type{};
  PublicKeyAlgorithm pk_algorithm{};
  HashAlgorithm hash_algorithm{};
  std::size_t hashed_prefix_len = 0;  // octets of body covered by the hash (v4/v6)
  std::size_t unhashed_begin = 0;     // [unhashed_begin, unhashed_end) is the unhashed area
  std::size_t unhashed_end = 0;       //   including its length field
  std::vector<Subpacket> subpackets;
  std::uint8_t digest_prefix[2] = {0, 0};
  Bytes salt;  // v6
  SignatureMaterial material;

  // Interpreted subpackets (hashed area unless said otherwise).
  std::optional<std::uint32_t> created;
  std::optional<std::uint32_t> expires_after;      // signature expiration
  std::optional<std::uint32_t> key_expires_after;  // key expiration
  std::optional<std::uint8_t> key_flags;
  bool primary_user_id = false;
  std::optional<std::uint8_t> revocation_code;
  std::string revocation_reason;
  std::vector<KeyId> issuer_key_ids;             // both areas
  std::vector<Fingerprint> issuer_fingerprints;  // both areas
  std::vector<Bytes> embedded_signatures;        // raw bodies, both areas
  std::vector<Bytes> attested_digests;           // AttestedCertifications (hashed)
  bool unknown_critical = false;                 // RFC 9580 §5.2.3.7 critical bit set on
                                                 // a subpacket we do not understand

  // Body with the unhashed area emptied: two signatures that differ only in
  // their unhashed subpackets are the same signature.
  [[nodiscard]] Bytes normalized() const;
  [[nodiscard]] bool issued_by(const PublicKey& key) const;
  [[nodiscard]] bool has_issuer() const {
    return !issuer_key_ids.empty() || !issuer_fingerprints.empty();
  }
};

// Parses a signature packet body. Errors: UnsupportedVersion (v2, v3, v5),
// MalformedPacket.
Result<Signature> parse_signature(ByteView body);

}  // namespace keydir::openpgp
