#include "openpgp/policy.hpp"

namespace keydir::openpgp {

std::optional<std::string> Policy::refuse_hash(HashAlgorithm hash) const {
  switch (hash) {
    case HashAlgorithm::Md5:
      // RFC 9580 §9.5: "MD5 ... Implementations MUST NOT generate [and]
      // MUST NOT accept" signatures using it.
      return "MD5 signature (refused, RFC 9580 §9.5)";
    case HashAlgorithm::Sha1:
      if (!accept_sha1_self_signatures) {
        return "SHA-1 signature (refused by policy)";
      }
      return std::nullopt;
    case HashAlgorithm::Ripemd160:
    case HashAlgorithm::Sha256:
    case HashAlgorithm::Sha384:
    case HashAlgorithm::Sha512:
    case HashAlgorithm::Sha224:
    case HashAlgorithm::Sha3_256:
    case HashAlgorithm::Sha3_512:
      return std::nullopt;
  }
  return "unknown hash algorithm " + std::to_string(static_cast<int>(hash));
}

Result<void> Policy::check_key(const PublicKey& key) const {
  if (key.body.size() > max_key_packet_bytes) {
    return fail(ErrorCode::PacketTooLarge, "key packet of " + std::to_string(key.body.size()) +
                                               " octets exceeds the limit of " +
                                               std::to_string(max_key_packet_bytes));
  }
  switch (key.algorithm) {
    case PublicKeyAlgorithm::Rsa:
    case PublicKeyAlgorithm::RsaEncryptOnly:
    case PublicKeyAlgorithm::RsaSignOnly:
    case PublicKeyAlgorithm::Dsa:
    case PublicKeyAlgorithm::ElGamalEncryptOnly:
    case PublicKeyAlgorithm::ElGamalEncryptOrSign:
      if (key.bits < min_rsa_dsa_bits) {
        return fail(ErrorCode::WeakAlgorithm, std::string(algorithm_name(key.algorithm)) +
                                                  " key of " + std::to_string(key.bits) +
                                                  " bits (minimum " +
                                                  std::to_string(min_rsa_dsa_bits) + ")");
      }
      return {};
    case PublicKeyAlgorithm::Ecdh:
    case PublicKeyAlgorithm::Ecdsa:
    case PublicKeyAlgorithm::EdDsaLegacy:
    case PublicKeyAlgorithm::X25519:
    case PublicKeyAlgorithm::X448:
    case PublicKeyAlgorithm::Ed25519:
    case PublicKeyAlgorithm::Ed448:
      return {};
  }
  return fail(ErrorCode::UnsupportedAlgorithm,
              "unknown public key algorithm " + std::to_string(static_cast<int>(key.algorithm)));
}

}  // namespace keydir::openpgp
