#include "openpgp/packets.hpp"

#include <algorithm>

#include "common/byte_reader.hpp"
#include "common/limits.hpp"
#include "openpgp/crypto/hash.hpp"

namespace keydir::openpgp {

namespace {

unsigned bit_length(ByteView v) {
  std::size_t i = 0;
  while (i < v.size() && v[i] == 0) {
    ++i;
  }
  if (i == v.size()) {
    return 0;
  }
  unsigned bits = static_cast<unsigned>((v.size() - i - 1) * 8);
  for (std::uint8_t b = v[i]; b != 0; b >>= 1) {
    ++bits;
  }
  return bits;
}

// RFC 9580 §3.2: "An MPI consists of two pieces: a two-octet scalar that is
// the length of the MPI in bits followed by a string of octets that contain
// the actual integer."
Result<Bytes> read_mpi(ByteReader& r) {
  KEYDIR_TRY(std::uint16_t bits, r.read_u16());
  if (bits > limits::kMaxMpiBits) {
    return r.error("MPI of " + std::to_string(bits) + " bits is too large");
  }
  KEYDIR_TRY(ByteView v, r.read_bytes((std::size_t{bits} + 7) / 8));
  return Bytes(v.begin(), v.end());
}

struct CurveInfo {
  Curve curve;
  std::initializer_list<std::uint8_t> oid;
  unsigned bits;
};

// RFC 9580 §9.2, Table 18: ECC Curve OID and Usage Registry.
const CurveInfo kCurves[] = {
    {Curve::NistP256, {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07}, 256},
    {Curve::NistP384, {0x2B, 0x81, 0x04, 0x00, 0x22}, 384},
    {Curve::NistP521, {0x2B, 0x81, 0x04, 0x00, 0x23}, 521},
    {Curve::BrainpoolP256r1, {0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07}, 256},
    {Curve::BrainpoolP384r1, {0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0B}, 384},
    {Curve::BrainpoolP512r1, {0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0D}, 512},
    {Curve::Ed25519Legacy, {0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01}, 255},
    {Curve::Curve25519Legacy, {0x2B, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01}, 255},
    {Curve::Secp256k1, {0x2B, 0x81, 0x04, 0x00, 0x0A}, 256},
};

void identify_curve(KeyMaterial& m, unsigned& bits) {
  for (const auto& c : kCurves) {
    if (std::equal(m.oid.begin(), m.oid.end(), c.oid.begin(), c.oid.end())) {
      m.curve = c.curve;
      bits = c.bits;
      return;
    }
  }
}

Result<void> read_key_material(ByteReader& r, PublicKey& key) {
  KeyMaterial& m = key.material;
  auto read_mpis = [&](int n) -> Result<void> {
    for (int i = 0; i < n; ++i) {
      KEYDIR_TRY(Bytes v, read_mpi(r));
      m.mpis.push_back(std::move(v));
    }
    return {};
  };
  auto read_native = [&](std::size_t n, unsigned bits) -> Result<void> {
    KEYDIR_TRY(ByteView v, r.read_bytes(n));
    m.native.assign(v.begin(), v.end());
    key.bits = bits;
    return {};
  };
  auto read_oid_point = [&]() -> Result<void> {
    // RFC 9580 §5.5.5.5: "The values 0 and 0xFF are reserved for future extensions."
    KEYDIR_TRY(ByteView oid, r.read_length_prefixed(1, 1, 254));
    m.oid.assign(oid.begin(), oid.end());
    KEYDIR_TRY(m.point, read_mpi(r));
    identify_curve(m, key.bits);
    return {};
  };
  key.material_known = true;
  switch (key.algorithm) {
    case PublicKeyAlgorithm::Rsa:
    case PublicKeyAlgorithm::RsaEncryptOnly:
    case PublicKeyAlgorithm::RsaSignOnly:
      KEYDIR_CHECK(read_mpis(2));
      key.bits = bit_length(m.mpis[0]);
      return {};
    case PublicKeyAlgorithm::Dsa:
      KEYDIR_CHECK(read_mpis(4));
      key.bits = bit_length(m.mpis[0]);
      return {};
    case PublicKeyAlgorithm::ElGamalEncryptOnly:
    case PublicKeyAlgorithm::ElGamalEncryptOrSign:
      KEYDIR_CHECK(read_mpis(3));
      key.bits = bit_length(m.mpis[0]);
      return {};
    case PublicKeyAlgorithm::Ecdsa:
    case PublicKeyAlgorithm::EdDsaLegacy:
      return read_oid_point();
    case PublicKeyAlgorithm::Ecdh: {
      KEYDIR_CHECK(read_oid_point());
      // RFC 9580 §5.5.5.6: KDF parameters: size octet, 0x01, hash id, cipher id.
      KEYDIR_TRY(ByteView kdf, r.read_length_prefixed(1, 3, 255));
      if (kdf[0] != 0x01) {
        return r.error("unknown ECDH KDF parameter version");
      }
      return {};
    }
    case PublicKeyAlgorithm::X25519:
      return read_native(32, 255);
    case PublicKeyAlgorithm::X448:
      return read_native(56, 448);
    case PublicKeyAlgorithm::Ed25519:
      return read_native(32, 255);
    case PublicKeyAlgorithm::Ed448:
      return read_native(57, 448);
  }
  // An algorithm we do not know: the rest of the packet is its material.
  key.material_known = false;
  KEYDIR_TRY(ByteView rest, r.read_bytes(r.remaining()));
  (void)rest;
  return {};
}

}  // namespace

Result<PublicKey> parse_public_key(ByteView body) {
  ByteReader r(body, "public key packet");
  PublicKey key;
  KEYDIR_TRY(key.version, r.read_u8());
  if (key.version == 2 || key.version == 3) {
    // RFC 9580 §5.5.2.1: "V3 keys are deprecated; an implementation MUST NOT
    // generate a v3 key but MAY accept it." Their MD5 fingerprints can be forged.
    return fail(ErrorCode::UnsupportedVersion,
                "v" + std::to_string(key.version) +
                    " key: deprecated since RFC 4880, MD5 fingerprint, not accepted");
  }
  if (key.version == 5) {
    return fail(ErrorCode::UnsupportedVersion,
                "v5 key (LibrePGP): not part of RFC 9580, not accepted");
  }
  if (key.version != 4 && key.version != 6) {
    return fail(ErrorCode::UnsupportedVersion,
                "unknown key packet version " + std::to_string(key.version));
  }
  KEYDIR_TRY(key.created, r.read_u32());
  KEYDIR_TRY(std::uint8_t algo, r.read_u8());
  key.algorithm = static_cast<PublicKeyAlgorithm>(algo);
  if (key.version == 6) {
    // RFC 9580 §5.5.2.3: "A four-octet scalar octet count for the following
    // public key material."
    KEYDIR_TRY(ByteView material, r.read_length_prefixed(4, 0, body.size()));
    ByteReader mr(material, "v6 key material");
    KEYDIR_CHECK(read_key_material(mr, key));
    KEYDIR_CHECK(mr.expect_end());
  } else {
    KEYDIR_CHECK(read_key_material(r, key));
  }
  KEYDIR_CHECK(r.expect_end());

  // RFC 9580 §5.5.4.2 (v4): SHA-1 over 0x99, two-octet length, body.
  // RFC 9580 §5.5.4.3 (v6): SHA-256 over 0x9B, four-octet length, body.
  HashAlgorithm halg = key.version == 4 ? HashAlgorithm::Sha1 : HashAlgorithm::Sha256;
  if (key.version == 4 && body.size() > 0xffff) {
    return fail(ErrorCode::MalformedPacket, "v4 key packet longer than 65535 octets");
  }
  KEYDIR_TRY(auto h, crypto::Hasher::create(halg));
  h.update_u8(key.version == 4 ? 0x99 : 0x9B);
  h.update_be(body.size(), key.version == 4 ? 2 : 4);
  h.update(body);
  Bytes fpr = h.finish();
  key.fingerprint =
      Fingerprint(key.version == 4 ? Fingerprint::Version::V4 : Fingerprint::Version::V6, fpr);
  key.key_id = key.fingerprint.key_id();
  key.body.assign(body.begin(), body.end());
  return key;
}

namespace {

bool known_subpacket(std::uint8_t type) {
  switch (static_cast<SubpacketType>(type)) {
    case SubpacketType::SignatureCreationTime:
    case SubpacketType::SignatureExpirationTime:
    case SubpacketType::ExportableCertification:
    case SubpacketType::TrustSignature:
    case SubpacketType::RegularExpression:
    case SubpacketType::Revocable:
    case SubpacketType::KeyExpirationTime:
    case SubpacketType::PreferredSymmetricCiphers:
    case SubpacketType::RevocationKey:
    case SubpacketType::IssuerKeyId:
    case SubpacketType::PreferredHashAlgorithms:
    case SubpacketType::PreferredCompressionAlgorithms:
    case SubpacketType::KeyServerPreferences:
    case SubpacketType::PreferredKeyServer:
    case SubpacketType::PrimaryUserId:
    case SubpacketType::PolicyUri:
    case SubpacketType::KeyFlags:
    case SubpacketType::SignersUserId:
    case SubpacketType::ReasonForRevocation:
    case SubpacketType::Features:
    case SubpacketType::SignatureTarget:
    case SubpacketType::EmbeddedSignature:
    case SubpacketType::IssuerFingerprint:
    case SubpacketType::IntendedRecipientFingerprint:
    case SubpacketType::AttestedCertifications:
    case SubpacketType::PreferredAeadCiphersuites:
      return true;
    default:
      return false;
  }
}

std::uint32_t be32(const Bytes& d) {
  return std::uint32_t{d[0]} << 24 | std::uint32_t{d[1]} << 16 | std::uint32_t{d[2]} << 8 | d[3];
}

// RFC 9580 §5.2.3.7: subpacket length (1, 2 or 5 octets), type, data.
Result<void> read_subpackets(ByteView area, bool hashed, Signature& sig) {
  ByteReader r(area, hashed ? "hashed subpackets" : "unhashed subpackets");
  while (!r.at_end()) {
    if (sig.subpackets.size() >= limits::kMaxSubpackets) {
      return r.error("more than " + std::to_string(limits::kMaxSubpackets) + " subpackets");
    }
    KEYDIR_TRY(std::uint8_t o1, r.read_u8());
    std::size_t len = 0;
    if (o1 < 192) {
      len = o1;
    } else if (o1 < 255) {
      KEYDIR_TRY(std::uint8_t o2, r.read_u8());
      len = (std::size_t{o1} - 192) * 256 + o2 + 192;
    } else {
      KEYDIR_TRY(std::uint32_t l, r.read_u32());
      len = l;
    }
    if (len == 0) {
      return r.error("subpacket of length zero");
    }
    KEYDIR_TRY(ByteView data, r.read_bytes(len));
    Subpacket sp;
    sp.type = data[0] & 0x7f;
    sp.critical = (data[0] & 0x80) != 0;
    sp.hashed = hashed;
    sp.data.assign(data.begin() + 1, data.end());
    sig.subpackets.push_back(std::move(sp));
  }
  return {};
}

Result<void> interpret_subpackets(Signature& sig) {
  for (const Subpacket& sp : sig.subpackets) {
    const Bytes& d = sp.data;
    auto type = static_cast<SubpacketType>(sp.type);
    auto need = [&](std::size_t n) -> Result<void> {
      if (d.size() != n) {
        return fail(ErrorCode::MalformedPacket, "signature subpacket " + std::to_string(sp.type) +
                                                    " has length " + std::to_string(d.size()) +
                                                    ", expected " + std::to_string(n));
      }
      return {};
    };
    // Both areas: issuer information and embedded signatures are
    // self-authenticating (they are checked by the signature they name).
    if (type == SubpacketType::IssuerKeyId) {
      KEYDIR_CHECK(need(8));
      sig.issuer_key_ids.emplace_back(d);
      continue;
    }
    if (type == SubpacketType::IssuerFingerprint) {
      if (d.size() == 21 && d[0] == 4) {
        sig.issuer_fingerprints.emplace_back(Fingerprint::Version::V4, ByteView(d).subspan(1));
      } else if (d.size() == 33 && d[0] == 6) {
        sig.issuer_fingerprints.emplace_back(Fingerprint::Version::V6, ByteView(d).subspan(1));
      } else if (sp.hashed && sp.critical) {
        sig.unknown_critical = true;
      }
      continue;
    }
    if (type == SubpacketType::EmbeddedSignature) {
      sig.embedded_signatures.push_back(d);
      continue;
    }
    if (!sp.hashed) {
      continue;
    }
    if (sp.critical && !known_subpacket(sp.type)) {
      sig.unknown_critical = true;
    }
    switch (type) {
      case SubpacketType::SignatureCreationTime:
        KEYDIR_CHECK(need(4));
        if (!sig.created) {
          sig.created = be32(d);
        }
        break;
      case SubpacketType::SignatureExpirationTime:
        KEYDIR_CHECK(need(4));
        sig.expires_after = be32(d);
        break;
      case SubpacketType::KeyExpirationTime:
        KEYDIR_CHECK(need(4));
        sig.key_expires_after = be32(d);
        break;
      case SubpacketType::KeyFlags:
        if (!d.empty()) {
          sig.key_flags = d[0];
        } else {
          sig.key_flags = 0;
        }
        break;
      case SubpacketType::PrimaryUserId:
        KEYDIR_CHECK(need(1));
        sig.primary_user_id = d[0] != 0;
        break;
      case SubpacketType::ReasonForRevocation:
        if (d.empty()) {
          return fail(ErrorCode::MalformedPacket, "empty reason for revocation");
        }
        sig.revocation_code = d[0];
        sig.revocation_reason.assign(d.begin() + 1, d.end());
        break;
      case SubpacketType::AttestedCertifications: {
        auto size = hash_size(sig.hash_algorithm);
        if (!size || d.size() % *size != 0) {
          return fail(ErrorCode::MalformedPacket, "attested certifications of bad length");
        }
        for (std::size_t i = 0; i < d.size(); i += *size) {
          sig.attested_digests.emplace_back(d.begin() + static_cast<std::ptrdiff_t>(i),
                                            d.begin() + static_cast<std::ptrdiff_t>(i + *size));
        }
        break;
      }
      case SubpacketType::NotationData:
        // RFC 9580 §5.2.3.24: a critical notation we do not understand makes the
        // signature invalid; keydir understands none.
        if (sp.critical) {
          sig.unknown_critical = true;
        }
        break;
      default:
        break;
    }
  }
  return {};
}

Result<void> read_signature_material(ByteReader& r, Signature& sig) {
  auto read_mpis = [&](int n) -> Result<void> {
    for (int i = 0; i < n; ++i) {
      KEYDIR_TRY(Bytes v, read_mpi(r));
      sig.material.mpis.push_back(std::move(v));
    }
    return {};
  };
  switch (sig.pk_algorithm) {
    case PublicKeyAlgorithm::Rsa:
    case PublicKeyAlgorithm::RsaEncryptOnly:
    case PublicKeyAlgorithm::RsaSignOnly:
      return read_mpis(1);
    case PublicKeyAlgorithm::Dsa:
    case PublicKeyAlgorithm::Ecdsa:
    case PublicKeyAlgorithm::EdDsaLegacy:
    case PublicKeyAlgorithm::ElGamalEncryptOrSign:
      return read_mpis(2);
    case PublicKeyAlgorithm::Ed25519: {
      KEYDIR_TRY(ByteView v, r.read_bytes(64));
      sig.material.native.assign(v.begin(), v.end());
      return {};
    }
    case PublicKeyAlgorithm::Ed448: {
      KEYDIR_TRY(ByteView v, r.read_bytes(114));
      sig.material.native.assign(v.begin(), v.end());
      return {};
    }
    default: {
      // Unknown algorithm: keep the rest opaque; it cannot be verified.
      KEYDIR_TRY(ByteView v, r.read_bytes(r.remaining()));
      sig.material.native.assign(v.begin(), v.end());
      return {};
    }
  }
}

}  // namespace

Result<Signature> parse_signature(ByteView body) {
  ByteReader r(body, "signature packet");
  Signature sig;
  KEYDIR_TRY(sig.version, r.read_u8());
  if (sig.version != 4 && sig.version != 6) {
    return fail(ErrorCode::UnsupportedVersion,
                "v" + std::to_string(sig.version) + " signature: not accepted (v4 and v6 only)");
  }
  KEYDIR_TRY(std::uint8_t type, r.read_u8());
  KEYDIR_TRY(std::uint8_t pk, r.read_u8());
  KEYDIR_TRY(std::uint8_t hash, r.read_u8());
  sig.type = static_cast<SignatureType>(type);
  sig.pk_algorithm = static_cast<PublicKeyAlgorithm>(pk);
  sig.hash_algorithm = static_cast<HashAlgorithm>(hash);
  const std::size_t len_bytes = sig.version == 4 ? 2 : 4;
  KEYDIR_TRY(ByteView hashed, r.read_length_prefixed(len_bytes, 0, body.size()));
  sig.hashed_prefix_len = r.position();
  sig.unhashed_begin = r.position();
  KEYDIR_TRY(ByteView unhashed, r.read_length_prefixed(len_bytes, 0, body.size()));
  sig.unhashed_end = r.position();
  KEYDIR_TRY(ByteView prefix, r.read_bytes(2));
  sig.digest_prefix[0] = prefix[0];
  sig.digest_prefix[1] = prefix[1];
  if (sig.version == 6) {
    // RFC 9580 §5.2.3: "One octet, the size of the salt", then the salt.
    KEYDIR_TRY(ByteView salt, r.read_length_prefixed(1, 0, 255));
    sig.salt.assign(salt.begin(), salt.end());
  }
  KEYDIR_CHECK(read_signature_material(r, sig));
  KEYDIR_CHECK(r.expect_end());
  KEYDIR_CHECK(read_subpackets(hashed, true, sig));
  KEYDIR_CHECK(read_subpackets(unhashed, false, sig));
  KEYDIR_CHECK(interpret_subpackets(sig));
  sig.body.assign(body.begin(), body.end());
  return sig;
}

Bytes Signature::normalized() const {
  Bytes out(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(unhashed_begin));
  out.insert(out.end(), version == 4 ? 2 : 4, 0);
  out.insert(out.end(), body.begin() + static_cast<std::ptrdiff_t>(unhashed_end), body.end());
  return out;
}

bool Signature::issued_by(const PublicKey& key) const {
  for (const auto& f : issuer_fingerprints) {
    if (f == key.fingerprint) {
      return true;
    }
  }
  for (const auto& k : issuer_key_ids) {
    if (k == key.key_id) {
      return true;
    }
  }
  return false;
}

}  // namespace keydir::openpgp
