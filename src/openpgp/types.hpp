// OpenPGP registries (RFC 9580 §9 and §5) as enums, with names for display.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace keydir::openpgp {

// RFC 9580 §5, Table 3: Packet Type IDs.
enum class PacketTag : std::uint8_t {
  Reserved = 0,
  PublicKeyEncryptedSessionKey = 1,
  Signature = 2,
  SymmetricKeyEncryptedSessionKey = 3,
  OnePassSignature = 4,
  SecretKey = 5,
  PublicKey = 6,
  SecretSubkey = 7,
  CompressedData = 8,
  SymmetricallyEncryptedData = 9,
  Marker = 10,
  LiteralData = 11,
  Trust = 12,
  UserId = 13,
  PublicSubkey = 14,
  UserAttribute = 17,
  SymEncryptedIntegrityProtectedData = 18,
  Padding = 21,
};

// RFC 9580 §9.1: Public Key Algorithms.
enum class PublicKeyAlgorithm : std::uint8_t {
  Rsa = 1,
  RsaEncryptOnly = 2,
  RsaSignOnly = 3,
  ElGamalEncryptOnly = 16,
  Dsa = 17,
  Ecdh = 18,
  Ecdsa = 19,
  ElGamalEncryptOrSign = 20,  // RFC 4880; RFC 9580 reserves it
  EdDsaLegacy = 22,
  X25519 = 25,
  X448 = 26,
  Ed25519 = 27,
  Ed448 = 28,
};

// RFC 9580 §9.5: Hash Algorithms.
enum class HashAlgorithm : std::uint8_t {
  Md5 = 1,
  Sha1 = 2,
  Ripemd160 = 3,
  Sha256 = 8,
  Sha384 = 9,
  Sha512 = 10,
  Sha224 = 11,
  Sha3_256 = 12,
  Sha3_512 = 14,
};

// RFC 9580 §5.2.1: Signature Types (those that matter in certificates).
enum class SignatureType : std::uint8_t {
  Binary = 0x00,
  Text = 0x01,
  Standalone = 0x02,
  GenericCertification = 0x10,
  PersonaCertification = 0x11,
  CasualCertification = 0x12,
  PositiveCertification = 0x13,
  // Sequoia / draft-dkg-openpgp-1pa3pc: "attestation key signature".
  AttestationKey = 0x16,
  SubkeyBinding = 0x18,
  PrimaryKeyBinding = 0x19,
  DirectKey = 0x1F,
  KeyRevocation = 0x20,
  SubkeyRevocation = 0x28,
  CertificationRevocation = 0x30,
  Timestamp = 0x40,
  ThirdPartyConfirmation = 0x50,
};

// RFC 9580 §5.2.3.7 (Table 5): Signature Subpacket Types.
enum class SubpacketType : std::uint8_t {
  SignatureCreationTime = 2,
  SignatureExpirationTime = 3,
  ExportableCertification = 4,
  TrustSignature = 5,
  RegularExpression = 6,
  Revocable = 7,
  KeyExpirationTime = 9,
  PlaceholderBackwardCompat = 10,
  PreferredSymmetricCiphers = 11,
  RevocationKey = 12,
  IssuerKeyId = 16,
  NotationData = 20,
  PreferredHashAlgorithms = 21,
  PreferredCompressionAlgorithms = 22,
  KeyServerPreferences = 23,
  PreferredKeyServer = 24,
  PrimaryUserId = 25,
  PolicyUri = 26,
  KeyFlags = 27,
  SignersUserId = 28,
  ReasonForRevocation = 29,
  Features = 30,
  SignatureTarget = 31,
  EmbeddedSignature = 32,
  IssuerFingerprint = 33,
  IntendedRecipientFingerprint = 35,
  // draft-dkg-openpgp-1pa3pc / Sequoia: list of digests of attested certifications.
  AttestedCertifications = 37,
  KeyBlock = 38,
  PreferredAeadCiphersuites = 39,
};

// Elliptic curves we know (RFC 9580 §9.2, Table 18).
enum class Curve : std::uint8_t {
  Unknown = 0,
  NistP256,
  NistP384,
  NistP521,
  BrainpoolP256r1,
  BrainpoolP384r1,
  BrainpoolP512r1,
  Ed25519Legacy,
  Curve25519Legacy,
  Secp256k1,  // not in RFC 9580's registry; used by GnuPG and RNP users
};

// Key flags (RFC 9580 §5.2.3.29), first octet.
inline constexpr std::uint8_t kFlagCertify = 0x01;
inline constexpr std::uint8_t kFlagSign = 0x02;
inline constexpr std::uint8_t kFlagEncryptCommunications = 0x04;
inline constexpr std::uint8_t kFlagEncryptStorage = 0x08;
inline constexpr std::uint8_t kFlagSplitKey = 0x10;
inline constexpr std::uint8_t kFlagAuthenticate = 0x20;
inline constexpr std::uint8_t kFlagGroupKey = 0x80;

std::string_view algorithm_name(PublicKeyAlgorithm algo);
std::string_view hash_name(HashAlgorithm hash);
std::string_view curve_name(Curve curve);
std::string_view signature_type_name(SignatureType type);

// Digest length in octets, or nullopt for an unknown algorithm.
std::optional<std::size_t> hash_size(HashAlgorithm hash);
// RFC 9580 §9.5, Table 23: salt size for v6 signatures; nullopt if the hash
// may not be used with v6 signatures.
std::optional<std::size_t> v6_salt_size(HashAlgorithm hash);

bool is_certification(SignatureType type);
bool can_sign(PublicKeyAlgorithm algo);

}  // namespace keydir::openpgp
