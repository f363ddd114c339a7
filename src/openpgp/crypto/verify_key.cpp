#include "openpgp/crypto/verify_key.hpp"

#include "openpgp/crypto/backends.hpp"

namespace keydir::openpgp::crypto {

std::string_view backend_name(Backend b) {
  return b == Backend::CryptoPP ? "Crypto++" : "OpenSSL";
}

// Chosen by tests/bench/crypto_bench (verifications per second, one core, this
// project's machine; docs/performance.md has the table):
//   RSA-2048/4096, DSA, ECDSA (NIST and brainpool): OpenSSL is faster (for
//   ECDSA by a factor of about 40).
//   Ed25519 (legacy and native): Crypto++ is faster.
//   Ed448: only OpenSSL has it.
Backend default_backend(PublicKeyAlgorithm algorithm, Curve) {
  switch (algorithm) {
    case PublicKeyAlgorithm::EdDsaLegacy:
    case PublicKeyAlgorithm::Ed25519:
      return Backend::CryptoPP;
    default:
      return Backend::OpenSSL;
  }
}

Result<std::unique_ptr<VerifyingKey>> make_verifying_key(const PublicKey& key) {
  return make_verifying_key(key, default_backend(key.algorithm, key.material.curve));
}

Result<std::unique_ptr<VerifyingKey>> make_verifying_key(const PublicKey& key, Backend backend) {
  if (!key.material_known || !can_sign(key.algorithm)) {
    return fail(ErrorCode::UnsupportedAlgorithm,
                "cannot verify signatures made with " + std::string(algorithm_name(key.algorithm)) +
                    " (algorithm " + std::to_string(static_cast<int>(key.algorithm)) + ")");
  }
  if (key.algorithm == PublicKeyAlgorithm::Ecdsa) {
    auto c = key.material.curve;
    if (c == Curve::Unknown || c == Curve::Ed25519Legacy || c == Curve::Curve25519Legacy) {
      return fail(ErrorCode::UnsupportedAlgorithm, "ECDSA on an unsupported curve");
    }
  }
  if (key.algorithm == PublicKeyAlgorithm::EdDsaLegacy &&
      key.material.curve != Curve::Ed25519Legacy) {
    return fail(ErrorCode::UnsupportedAlgorithm, "EdDSALegacy on a curve other than Ed25519");
  }
  if (backend == Backend::OpenSSL && key.algorithm == PublicKeyAlgorithm::Dsa) {
    // OpenSSL refuses DSA unless q has 160, 224 or 256 bits (DSA_R_BAD_Q_VALUE);
    // RFC 9580 §5.2.3.x only asks q to fit the hash, and 384-bit q exist.
    std::size_t q_bits = 0;
    for (std::size_t i = 0; i < key.material.mpis[1].size(); ++i) {
      if (key.material.mpis[1][i] != 0) {
        q_bits = (key.material.mpis[1].size() - i) * 8;
        break;
      }
    }
    if (q_bits != 160 && q_bits != 224 && q_bits != 256) {
      backend = Backend::CryptoPP;
    }
  }
  if (backend == Backend::CryptoPP && key.algorithm == PublicKeyAlgorithm::Ed448) {
    backend = Backend::OpenSSL;  // Crypto++ 8.7 has no Ed448
  }
  return backend == Backend::CryptoPP ? make_cryptopp_key(key) : make_openssl_key(key);
}

namespace {
// RFC 9580 §5.2.2: the ASN.1 DER DigestInfo prefixes ("hash OID" in full DER).
ByteView digest_info_prefix(HashAlgorithm hash) {
  static const std::uint8_t kMd5[] = {0x30, 0x20, 0x30, 0x0C, 0x06, 0x08, 0x2A, 0x86, 0x48,
                                      0x86, 0xF7, 0x0D, 0x02, 0x05, 0x05, 0x00, 0x04, 0x10};
  static const std::uint8_t kSha1[] = {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2B, 0x0E,
                                       0x03, 0x02, 0x1A, 0x05, 0x00, 0x04, 0x14};
  static const std::uint8_t kRipemd[] = {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2B, 0x24,
                                         0x03, 0x02, 0x01, 0x05, 0x00, 0x04, 0x14};
  static const std::uint8_t kSha224[] = {0x30, 0x2D, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                         0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1C};
  static const std::uint8_t kSha256[] = {0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                         0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
  static const std::uint8_t kSha384[] = {0x30, 0x41, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                         0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30};
  static const std::uint8_t kSha512[] = {0x30, 0x51, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                         0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40};
  static const std::uint8_t kSha3_256[] = {0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60,
                                           0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                           0x08, 0x05, 0x00, 0x04, 0x20};
  static const std::uint8_t kSha3_512[] = {0x30, 0x51, 0x30, 0x0D, 0x06, 0x09, 0x60,
                                           0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                           0x0A, 0x05, 0x00, 0x04, 0x40};
  switch (hash) {
    case HashAlgorithm::Md5:
      return kMd5;
    case HashAlgorithm::Sha1:
      return kSha1;
    case HashAlgorithm::Ripemd160:
      return kRipemd;
    case HashAlgorithm::Sha224:
      return kSha224;
    case HashAlgorithm::Sha256:
      return kSha256;
    case HashAlgorithm::Sha384:
      return kSha384;
    case HashAlgorithm::Sha512:
      return kSha512;
    case HashAlgorithm::Sha3_256:
      return kSha3_256;
    case HashAlgorithm::Sha3_512:
      return kSha3_512;
  }
  return {};
}
}  // namespace

Bytes emsa_pkcs1_v15(HashAlgorithm hash, ByteView digest, std::size_t modulus_len) {
  ByteView prefix = digest_info_prefix(hash);
  std::size_t t_len = prefix.size() + digest.size();
  // RFC 8017 §9.2 step 3: "If emLen < tLen + 11, output 'intended encoded
  // message length too short'".
  if (prefix.empty() || modulus_len < t_len + 11) {
    return {};
  }
  Bytes em;
  em.reserve(modulus_len);
  em.push_back(0x00);
  em.push_back(0x01);
  em.insert(em.end(), modulus_len - t_len - 3, 0xFF);
  em.push_back(0x00);
  append(em, prefix);
  append(em, digest);
  return em;
}

}  // namespace keydir::openpgp::crypto
