#include "openpgp/types.hpp"

namespace keydir::openpgp {

std::string_view algorithm_name(PublicKeyAlgorithm algo) {
  switch (algo) {
    case PublicKeyAlgorithm::Rsa:
      return "RSA";
    case PublicKeyAlgorithm::RsaEncryptOnly:
      return "RSA (encrypt only)";
    case PublicKeyAlgorithm::RsaSignOnly:
      return "RSA (sign only)";
    case PublicKeyAlgorithm::ElGamalEncryptOnly:
      return "ElGamal";
    case PublicKeyAlgorithm::Dsa:
      return "DSA";
    case PublicKeyAlgorithm::Ecdh:
      return "ECDH";
    case PublicKeyAlgorithm::Ecdsa:
      return "ECDSA";
    case PublicKeyAlgorithm::ElGamalEncryptOrSign:
      return "ElGamal (encrypt or sign)";
    case PublicKeyAlgorithm::EdDsaLegacy:
      return "EdDSALegacy";
    case PublicKeyAlgorithm::X25519:
      return "X25519";
    case PublicKeyAlgorithm::X448:
      return "X448";
    case PublicKeyAlgorithm::Ed25519:
      return "Ed25519";
    case PublicKeyAlgorithm::Ed448:
      return "Ed448";
  }
  return "unknown";
}

std::string_view hash_name(HashAlgorithm hash) {
  switch (hash) {
    case HashAlgorithm::Md5:
      return "MD5";
    case HashAlgorithm::Sha1:
      return "SHA1";
    case HashAlgorithm::Ripemd160:
      return "RIPEMD160";
    case HashAlgorithm::Sha256:
      return "SHA256";
    case HashAlgorithm::Sha384:
      return "SHA384";
    case HashAlgorithm::Sha512:
      return "SHA512";
    case HashAlgorithm::Sha224:
      return "SHA224";
    case HashAlgorithm::Sha3_256:
      return "SHA3-256";
    case HashAlgorithm::Sha3_512:
      return "SHA3-512";
  }
  return "unknown";
}

std::string_view curve_name(Curve curve) {
  switch (curve) {
    case Curve::NistP256:
      return "NIST P-256";
    case Curve::NistP384:
      return "NIST P-384";
    case Curve::NistP521:
      return "NIST P-521";
    case Curve::BrainpoolP256r1:
      return "brainpoolP256r1";
    case Curve::BrainpoolP384r1:
      return "brainpoolP384r1";
    case Curve::BrainpoolP512r1:
      return "brainpoolP512r1";
    case Curve::Ed25519Legacy:
      return "Ed25519";
    case Curve::Curve25519Legacy:
      return "Curve25519";
    case Curve::Secp256k1:
      return "secp256k1";
    case Curve::Unknown:
      break;
  }
  return "unknown";
}

std::string_view signature_type_name(SignatureType type) {
  switch (type) {
    case SignatureType::Binary:
      return "binary";
    case SignatureType::Text:
      return "text";
    case SignatureType::Standalone:
      return "standalone";
    case SignatureType::GenericCertification:
      return "generic certification";
    case SignatureType::PersonaCertification:
      return "persona certification";
    case SignatureType::CasualCertification:
      return "casual certification";
    case SignatureType::PositiveCertification:
      return "positive certification";
    case SignatureType::AttestationKey:
      return "attestation";
    case SignatureType::SubkeyBinding:
      return "subkey binding";
    case SignatureType::PrimaryKeyBinding:
      return "primary key binding";
    case SignatureType::DirectKey:
      return "direct key";
    case SignatureType::KeyRevocation:
      return "key revocation";
    case SignatureType::SubkeyRevocation:
      return "subkey revocation";
    case SignatureType::CertificationRevocation:
      return "certification revocation";
    case SignatureType::Timestamp:
      return "timestamp";
    case SignatureType::ThirdPartyConfirmation:
      return "third-party confirmation";
  }
  return "unknown";
}

std::optional<std::size_t> hash_size(HashAlgorithm hash) {
  switch (hash) {
    case HashAlgorithm::Md5:
      return 16;
    case HashAlgorithm::Sha1:
      return 20;
    case HashAlgorithm::Ripemd160:
      return 20;
    case HashAlgorithm::Sha256:
      return 32;
    case HashAlgorithm::Sha384:
      return 48;
    case HashAlgorithm::Sha512:
      return 64;
    case HashAlgorithm::Sha224:
      return 28;
    case HashAlgorithm::Sha3_256:
      return 32;
    case HashAlgorithm::Sha3_512:
      return 64;
  }
  return std::nullopt;
}

std::optional<std::size_t> v6_salt_size(HashAlgorithm hash) {
  switch (hash) {
    case HashAlgorithm::Sha256:
      return 16;
    case HashAlgorithm::Sha384:
      return 24;
    case HashAlgorithm::Sha512:
      return 32;
    case HashAlgorithm::Sha224:
      return 16;
    case HashAlgorithm::Sha3_256:
      return 16;
    case HashAlgorithm::Sha3_512:
      return 32;
    default:
      return std::nullopt;
  }
}

bool is_certification(SignatureType type) {
  return type == SignatureType::GenericCertification ||
         type == SignatureType::PersonaCertification ||
         type == SignatureType::CasualCertification || type == SignatureType::PositiveCertification;
}

bool can_sign(PublicKeyAlgorithm algo) {
  switch (algo) {
    case PublicKeyAlgorithm::Rsa:
    case PublicKeyAlgorithm::RsaSignOnly:
    case PublicKeyAlgorithm::Dsa:
    case PublicKeyAlgorithm::Ecdsa:
    case PublicKeyAlgorithm::EdDsaLegacy:
    case PublicKeyAlgorithm::Ed25519:
    case PublicKeyAlgorithm::Ed448:
      return true;
    default:
      return false;
  }
}

}  // namespace keydir::openpgp
