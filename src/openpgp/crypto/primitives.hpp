// The general-purpose primitives the rest of keydir needs beside OpenPGP
// signatures: SHA-256, HMAC-SHA-256, randomness and constant-time comparison.
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

// Cryptographically strong random bytes; Internal when the system has none.
Result<Bytes> random_bytes(std::size_t n);

// True when a and b are equal; the time taken depends on their lengths only.
bool equal_constant_time(ByteView a, ByteView b);

}  // namespace keydir::openpgp::crypto
