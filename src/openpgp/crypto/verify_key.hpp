// Public-key signature verification behind one small interface per algorithm,
// with two backends: Crypto++ (the project default) and OpenSSL's libcrypto.
//
// Which backend serves which algorithm is decided by measurement
// (tests/bench/crypto_bench.cpp, figures in docs/performance.md) and fixed in
// default_backend(). Both backends implement exactly the same checks; the unit
// tests run every fixture through both.
//
// Exceptions thrown by either library are caught inside this adapter: a
// malformed key is an Error, a signature that does not verify is `false`.
#pragma once

#include <memory>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "openpgp/packets.hpp"

namespace keydir::openpgp::crypto {

enum class Backend { CryptoPP, OpenSSL };

std::string_view backend_name(Backend b);

// The backend used for `algorithm` (and curve, for ECDSA) unless a caller asks
// for one explicitly.
Backend default_backend(PublicKeyAlgorithm algorithm, Curve curve);

// A public key prepared once for many verifications (a certificate's primary
// key checks all of its self-signatures). Not thread-safe: one thread uses a
// VerifyingKey at a time (backends keep per-key library contexts).
class VerifyingKey {
 public:
  virtual ~VerifyingKey() = default;
  // `digest` is the hash of the signed data under `hash`. Returns false for a
  // signature that does not verify or is malformed for this key.
  [[nodiscard]] virtual bool verify(HashAlgorithm hash, ByteView digest,
                                    const SignatureMaterial& sig) const = 0;
};

// Errors: UnsupportedAlgorithm (algorithm or curve we cannot verify with,
// including encryption-only algorithms), MalformedPacket (key material the
// library rejects, e.g. a point not on the curve).
Result<std::unique_ptr<VerifyingKey>> make_verifying_key(const PublicKey& key);
Result<std::unique_ptr<VerifyingKey>> make_verifying_key(const PublicKey& key, Backend backend);

// EMSA-PKCS1-v1_5 encoding (RFC 8017 §9.2) of `digest` for an RSA modulus of
// `modulus_len` octets, using the DigestInfo prefixes of RFC 9580 §5.2.2.
// Empty if the hash has no prefix or the modulus is too short.
Bytes emsa_pkcs1_v15(HashAlgorithm hash, ByteView digest, std::size_t modulus_len);

}  // namespace keydir::openpgp::crypto
