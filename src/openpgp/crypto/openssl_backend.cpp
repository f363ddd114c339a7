// OpenSSL 3 (libcrypto) verification backend, through the EVP and OSSL_PARAM
// interfaces only (the low-level RSA/DSA/EC_KEY calls are deprecated in 3.0).
#include <openssl/core_names.h>
#include <openssl/dsa.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "openpgp/crypto/backends.hpp"

namespace keydir::openpgp::crypto {

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using Bn = std::unique_ptr<BIGNUM, BnFree>;

Bn to_bn(ByteView b) {
  return Bn(BN_bin2bn(b.data(), static_cast<int>(b.size()), nullptr));
}

// Builds an EVP_PKEY of `type` ("RSA", "DSA", "EC") from parameters.
template <typename Fill>
Pkey from_params(const char* type, Fill fill) {
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  std::vector<Bn> keep;
  if (!bld || !fill(bld.get(), keep)) {
    return nullptr;
  }
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
    return nullptr;
  }
  return Pkey(pkey);
}

bool push_bn(OSSL_PARAM_BLD* bld, std::vector<Bn>& keep, const char* name, ByteView v) {
  keep.push_back(to_bn(v));
  return keep.back() && OSSL_PARAM_BLD_push_BN(bld, name, keep.back().get());
}

// A VerifyingKey is used by one thread at a time (one certificate's checks),
// so the EVP context is made and initialised once per key, not per signature.
class RsaKey final : public VerifyingKey {
 public:
  RsaKey(Pkey key, std::size_t modulus_len) : key_(std::move(key)), len_(modulus_len) {
    ctx_.reset(EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr));
    ready_ = ctx_ && EVP_PKEY_verify_recover_init(ctx_.get()) > 0 &&
             EVP_PKEY_CTX_set_rsa_padding(ctx_.get(), RSA_NO_PADDING) > 0;
  }
  bool verify(HashAlgorithm hash, ByteView digest, const SignatureMaterial& sig) const override {
    if (sig.mpis.size() != 1 || !ready_) {
      return false;
    }
    Bytes s = fixed_width(sig.mpis[0], len_);
    Bytes em = emsa_pkcs1_v15(hash, digest, len_);
    if (s.empty() || em.empty()) {
      return false;
    }
    // Raw RSA (s^e mod n) and a comparison with our own EMSA-PKCS1-v1_5
    // encoding: the same check as the Crypto++ backend, for every hash.
    Bytes m(len_);
    std::size_t m_len = m.size();
    if (EVP_PKEY_verify_recover(ctx_.get(), m.data(), &m_len, s.data(), s.size()) <= 0) {
      return false;
    }
    m.resize(m_len);
    return m == em;
  }

 private:
  Pkey key_;
  std::size_t len_;
  PkeyCtx ctx_;
  bool ready_ = false;
};

// DSA and ECDSA: DER-encode (r, s) and let EVP_PKEY_verify truncate the digest.
class DsaLikeKey final : public VerifyingKey {
 public:
  DsaLikeKey(Pkey key, bool ecdsa) : key_(std::move(key)), ecdsa_(ecdsa) {
    ctx_.reset(EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr));
    ready_ = ctx_ && EVP_PKEY_verify_init(ctx_.get()) > 0;
  }
  bool verify(HashAlgorithm, ByteView digest, const SignatureMaterial& sig) const override {
    if (sig.mpis.size() != 2 || !ready_) {
      return false;
    }
    Bn r = to_bn(sig.mpis[0]);
    Bn s = to_bn(sig.mpis[1]);
    if (!r || !s) {
      return false;
    }
    unsigned char* der = nullptr;
    int der_len = 0;
    if (ecdsa_) {
      ECDSA_SIG* es = ECDSA_SIG_new();
      if (!es || !ECDSA_SIG_set0(es, r.release(), s.release())) {
        ECDSA_SIG_free(es);
        return false;
      }
      der_len = i2d_ECDSA_SIG(es, &der);
      ECDSA_SIG_free(es);
    } else {
      DSA_SIG* ds = DSA_SIG_new();
      if (!ds || !DSA_SIG_set0(ds, r.release(), s.release())) {
        DSA_SIG_free(ds);
        return false;
      }
      der_len = i2d_DSA_SIG(ds, &der);
      DSA_SIG_free(ds);
    }
    if (der_len <= 0) {
      return false;
    }
    bool ok = EVP_PKEY_verify(ctx_.get(), der, static_cast<std::size_t>(der_len), digest.data(),
                              digest.size()) == 1;
    OPENSSL_free(der);
    return ok;
  }

 private:
  Pkey key_;
  bool ecdsa_;
  PkeyCtx ctx_;
  bool ready_ = false;
};

class EdKey final : public VerifyingKey {
 public:
  EdKey(Pkey key, std::size_t half) : key_(std::move(key)), half_(half) {}
  bool verify(HashAlgorithm, ByteView digest, const SignatureMaterial& sig) const override {
    Bytes rs;
    if (sig.mpis.size() == 2) {  // EdDSALegacy
      rs = fixed_width(sig.mpis[0], half_);
      Bytes s = fixed_width(sig.mpis[1], half_);
      if (rs.empty() || s.empty()) {
        return false;
      }
      append(rs, s);
    } else if (sig.native.size() == 2 * half_) {
      rs = sig.native;
    } else {
      return false;
    }
    MdCtx md(EVP_MD_CTX_new());
    return md && EVP_DigestVerifyInit(md.get(), nullptr, nullptr, nullptr, key_.get()) > 0 &&
           EVP_DigestVerify(md.get(), rs.data(), rs.size(), digest.data(), digest.size()) == 1;
  }

 private:
  Pkey key_;
  std::size_t half_;
};

const char* group_name(Curve c) {
  switch (c) {
    case Curve::NistP256:
      return "prime256v1";
    case Curve::NistP384:
      return "secp384r1";
    case Curve::NistP521:
      return "secp521r1";
    case Curve::BrainpoolP256r1:
      return "brainpoolP256r1";
    case Curve::BrainpoolP384r1:
      return "brainpoolP384r1";
    case Curve::BrainpoolP512r1:
      return "brainpoolP512r1";
    case Curve::Secp256k1:
      return "secp256k1";
    default:
      return nullptr;
  }
}

tl::unexpected<Error> rejected(std::string_view what) {
  return fail(ErrorCode::MalformedPacket, std::string(what) + " key material rejected");
}

}  // namespace

Result<std::unique_ptr<VerifyingKey>> make_openssl_key(const PublicKey& key) {
  const KeyMaterial& m = key.material;
  switch (key.algorithm) {
    case PublicKeyAlgorithm::Rsa:
    case PublicKeyAlgorithm::RsaSignOnly: {
      Pkey pk = from_params("RSA", [&](OSSL_PARAM_BLD* b, std::vector<Bn>& k) {
        return push_bn(b, k, OSSL_PKEY_PARAM_RSA_N, m.mpis[0]) &&
               push_bn(b, k, OSSL_PKEY_PARAM_RSA_E, m.mpis[1]);
      });
      if (!pk || EVP_PKEY_get_size(pk.get()) <= 0) {
        return rejected("RSA");
      }
      auto len = static_cast<std::size_t>(EVP_PKEY_get_size(pk.get()));
      return std::make_unique<RsaKey>(std::move(pk), len);
    }
    case PublicKeyAlgorithm::Dsa: {
      Pkey pk = from_params("DSA", [&](OSSL_PARAM_BLD* b, std::vector<Bn>& k) {
        return push_bn(b, k, OSSL_PKEY_PARAM_FFC_P, m.mpis[0]) &&
               push_bn(b, k, OSSL_PKEY_PARAM_FFC_Q, m.mpis[1]) &&
               push_bn(b, k, OSSL_PKEY_PARAM_FFC_G, m.mpis[2]) &&
               push_bn(b, k, OSSL_PKEY_PARAM_PUB_KEY, m.mpis[3]);
      });
      if (!pk) {
        return rejected("DSA");
      }
      return std::make_unique<DsaLikeKey>(std::move(pk), false);
    }
    case PublicKeyAlgorithm::Ecdsa: {
      const char* group = group_name(m.curve);
      Pkey pk = from_params("EC", [&](OSSL_PARAM_BLD* b, std::vector<Bn>&) {
        return group && !m.point.empty() && m.point[0] == 0x04 &&
               OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) &&
               OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, m.point.data(),
                                                m.point.size());
      });
      if (!pk) {
        return fail(ErrorCode::MalformedPacket, "ECDSA public point is not on its curve");
      }
      return std::make_unique<DsaLikeKey>(std::move(pk), true);
    }
    case PublicKeyAlgorithm::EdDsaLegacy: {
      if (m.point.size() != 33 || m.point[0] != 0x40) {
        return fail(ErrorCode::MalformedPacket, "EdDSALegacy point is not 0x40 + 32 octets");
      }
      Pkey pk(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, m.point.data() + 1, 32));
      if (!pk) {
        return rejected("Ed25519");
      }
      return std::make_unique<EdKey>(std::move(pk), 32);
    }
    case PublicKeyAlgorithm::Ed25519:
    case PublicKeyAlgorithm::Ed448: {
      bool ed448 = key.algorithm == PublicKeyAlgorithm::Ed448;
      Pkey pk(EVP_PKEY_new_raw_public_key(ed448 ? EVP_PKEY_ED448 : EVP_PKEY_ED25519, nullptr,
                                          m.native.data(), m.native.size()));
      if (!pk) {
        return rejected(ed448 ? "Ed448" : "Ed25519");
      }
      return std::make_unique<EdKey>(std::move(pk), ed448 ? 57 : 32);
    }
    default:
      return fail(ErrorCode::UnsupportedAlgorithm, "algorithm not available in OpenSSL");
  }
}

}  // namespace keydir::openpgp::crypto
