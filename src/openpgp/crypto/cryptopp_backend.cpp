// Crypto++ verification backend. Every Crypto++ exception is caught here.
#include <cryptopp/eccrypto.h>
#include <cryptopp/gfpcrypt.h>
#include <cryptopp/oids.h>
#include <cryptopp/osrng.h>
#include <cryptopp/rsa.h>
#include <cryptopp/xed25519.h>

#include "openpgp/crypto/backends.hpp"

namespace keydir::openpgp::crypto {

Bytes fixed_width(ByteView mpi, std::size_t len) {
  std::size_t i = 0;
  while (i < mpi.size() && mpi[i] == 0) {
    ++i;
  }
  if (mpi.size() - i > len) {
    return {};
  }
  Bytes out(len - (mpi.size() - i), 0);
  out.insert(out.end(), mpi.begin() + static_cast<std::ptrdiff_t>(i), mpi.end());
  return out;
}

namespace {

using CryptoPP::Integer;

Integer to_int(ByteView b) {
  return Integer(b.data(), b.size());
}

// Runs a verification with Crypto++ exceptions mapped to "does not verify".
class GuardedKey : public VerifyingKey {
 public:
  bool verify(HashAlgorithm hash, ByteView digest, const SignatureMaterial& sig) const final {
    try {
      return check(hash, digest, sig);
    } catch (const CryptoPP::Exception&) {
      return false;
    }
  }

 protected:
  virtual bool check(HashAlgorithm hash, ByteView digest, const SignatureMaterial& sig) const = 0;
};

// Leftmost bits of the digest, as many as the group order has (FIPS 186-4
// §4.6 and §6.4, used by RFC 9580 for DSA and ECDSA).
Integer digest_int(ByteView digest, const Integer& order) {
  Integer e = to_int(digest);
  unsigned digest_bits = static_cast<unsigned>(digest.size() * 8);
  unsigned order_bits = order.BitCount();
  if (digest_bits > order_bits) {
    e >>= digest_bits - order_bits;
  }
  return e;
}

class RsaKey final : public GuardedKey {
 public:
  RsaKey(const Integer& n, const Integer& e) { f_.Initialize(n, e); }
  bool check(HashAlgorithm hash, ByteView digest, const SignatureMaterial& sig) const override {
    if (sig.mpis.size() != 1) {
      return false;
    }
    Integer s = to_int(sig.mpis[0]);
    const Integer& n = f_.GetModulus();
    if (s.IsZero() || s >= n) {
      return false;
    }
    Bytes em = emsa_pkcs1_v15(hash, digest, n.ByteCount());
    if (em.empty()) {
      return false;
    }
    return f_.ApplyFunction(s) == to_int(em);
  }

 private:
  CryptoPP::RSAFunction f_;
};

class DsaKey final : public GuardedKey {
 public:
  // Crypto++ keys have no move constructor: copied.
  explicit DsaKey(const CryptoPP::DSA::PublicKey& key) : key_(key) {}
  bool check(HashAlgorithm, ByteView digest, const SignatureMaterial& sig) const override {
    if (sig.mpis.size() != 2) {
      return false;
    }
    const auto& params = key_.GetGroupParameters();
    Integer e = digest_int(digest, params.GetSubgroupOrder());
    CryptoPP::DL_Algorithm_GDSA<Integer> alg;
    return alg.Verify(params, key_, e, to_int(sig.mpis[0]), to_int(sig.mpis[1]));
  }

 private:
  CryptoPP::DSA::PublicKey key_;
};

class EcdsaKey final : public GuardedKey {
 public:
  using Key = CryptoPP::DL_PublicKey_EC<CryptoPP::ECP>;
  explicit EcdsaKey(const Key& key) : key_(key) {}
  bool check(HashAlgorithm, ByteView digest, const SignatureMaterial& sig) const override {
    if (sig.mpis.size() != 2) {
      return false;
    }
    const auto& params = key_.GetGroupParameters();
    Integer e = digest_int(digest, params.GetSubgroupOrder());
    CryptoPP::DL_Algorithm_ECDSA<CryptoPP::ECP> alg;
    return alg.Verify(params, key_, e, to_int(sig.mpis[0]), to_int(sig.mpis[1]));
  }

 private:
  Key key_;
};

class Ed25519Key final : public GuardedKey {
 public:
  explicit Ed25519Key(ByteView pub) : verifier_(pub.data()) {}
  bool check(HashAlgorithm, ByteView digest, const SignatureMaterial& sig) const override {
    Bytes rs;
    if (sig.mpis.size() == 2) {  // EdDSALegacy: r and s as MPIs, 32 octets each
      rs = fixed_width(sig.mpis[0], 32);
      Bytes s = fixed_width(sig.mpis[1], 32);
      if (rs.empty() || s.empty()) {
        return false;
      }
      append(rs, s);
    } else if (sig.native.size() == 64) {
      rs = sig.native;
    } else {
      return false;
    }
    return verifier_.VerifyMessage(digest.data(), digest.size(), rs.data(), rs.size());
  }

 private:
  CryptoPP::ed25519Verifier verifier_;
};

CryptoPP::OID curve_oid(Curve c) {
  switch (c) {
    case Curve::NistP256:
      return CryptoPP::ASN1::secp256r1();
    case Curve::NistP384:
      return CryptoPP::ASN1::secp384r1();
    case Curve::NistP521:
      return CryptoPP::ASN1::secp521r1();
    case Curve::BrainpoolP256r1:
      return CryptoPP::ASN1::brainpoolP256r1();
    case Curve::BrainpoolP384r1:
      return CryptoPP::ASN1::brainpoolP384r1();
    case Curve::Secp256k1:
      return CryptoPP::ASN1::secp256k1();
    default:
      return CryptoPP::ASN1::brainpoolP512r1();
  }
}

Result<std::unique_ptr<VerifyingKey>> build(const PublicKey& key) {
  const KeyMaterial& m = key.material;
  switch (key.algorithm) {
    case PublicKeyAlgorithm::Rsa:
    case PublicKeyAlgorithm::RsaSignOnly: {
      Integer n = to_int(m.mpis[0]);
      Integer e = to_int(m.mpis[1]);
      if (n.IsZero() || e.IsZero() || n.IsEven()) {
        return fail(ErrorCode::MalformedPacket, "RSA key with an invalid modulus or exponent");
      }
      return std::make_unique<RsaKey>(n, e);
    }
    case PublicKeyAlgorithm::Dsa: {
      CryptoPP::DSA::PublicKey pk;
      pk.Initialize(to_int(m.mpis[0]), to_int(m.mpis[1]), to_int(m.mpis[2]), to_int(m.mpis[3]));
      if (pk.GetGroupParameters().GetSubgroupOrder().IsZero()) {
        return fail(ErrorCode::MalformedPacket, "DSA key with q = 0");
      }
      return std::make_unique<DsaKey>(pk);
    }
    case PublicKeyAlgorithm::Ecdsa: {
      EcdsaKey::Key pk;
      CryptoPP::DL_GroupParameters_EC<CryptoPP::ECP> params(curve_oid(m.curve));
      CryptoPP::ECP::Point q;
      if (m.point.empty() || m.point[0] != 0x04 ||
          !params.GetCurve().DecodePoint(q, m.point.data(), m.point.size()) ||
          !params.ValidateElement(1, q, nullptr)) {
        return fail(ErrorCode::MalformedPacket, "ECDSA public point is not on its curve");
      }
      pk.Initialize(params, q);
      return std::make_unique<EcdsaKey>(pk);
    }
    case PublicKeyAlgorithm::EdDsaLegacy:
      // RFC 9580 §5.5.5.5 / Appendix: native point prefixed with 0x40.
      if (m.point.size() != 33 || m.point[0] != 0x40) {
        return fail(ErrorCode::MalformedPacket, "EdDSALegacy point is not 0x40 + 32 octets");
      }
      return std::make_unique<Ed25519Key>(ByteView(m.point).subspan(1));
    case PublicKeyAlgorithm::Ed25519:
      return std::make_unique<Ed25519Key>(m.native);
    default:
      return fail(ErrorCode::UnsupportedAlgorithm, "algorithm not available in Crypto++");
  }
}

}  // namespace

Result<std::unique_ptr<VerifyingKey>> make_cryptopp_key(const PublicKey& key) {
  try {
    return build(key);
  } catch (const CryptoPP::Exception& e) {
    return fail(ErrorCode::MalformedPacket, "key material rejected by the crypto library");
  }
}

}  // namespace keydir::openpgp::crypto
