// The general-purpose primitives the rest of keydir needs beside OpenPGP
// signatures: SHA-256, HMAC-SHA-256, scrypt, Ed25519 signing (the transparency
// log's checkpoints), randomness and constant-time comparison.
// This folder (src/openpgp/crypto) is the one place that includes OpenSSL or
// Crypto++ headers; every other layer asks here (the layering check enforces
// it).
#pragma once

#include <cstddef>

#include "common/bytes.hpp"
#include "common/result.hpp"

namespace keydir::openpgp::crypto {

inline constexpr std::size_t kSha256Bytes = 32;

Bytes sha256(ByteView data);
Bytes hmac_sha256(ByteView key, ByteView data);

// scrypt (RFC 7914) with N = 2^log2n; `out_len` octets. Internal when the
// parameters are out of range (memory above 256 MiB).
Result<Bytes> scrypt(ByteView password, ByteView salt, unsigned log2n, unsigned r, unsigned p,
                     std::size_t out_len);

// Ed25519 (RFC 8032): the public key of a 32-octet private seed, a signature
// (64 octets) of `message`, and its check.
inline constexpr std::size_t kEd25519Bytes = 32;
Result<Bytes> ed25519_public_key(ByteView seed);
Result<Bytes> ed25519_sign(ByteView seed, ByteView message);
bool ed25519_verify(ByteView public_key, ByteView message, ByteView signature);

// Cryptographically strong random bytes; Internal when the system has none.
Result<Bytes> random_bytes(std::size_t n);

// True when a and b are equal; the time taken depends on their lengths only.
bool equal_constant_time(ByteView a, ByteView b);

}  // namespace keydir::openpgp::crypto
