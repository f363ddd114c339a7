#include "openpgp/crypto/primitives.hpp"

#include <cstdint>
#include <memory>

#include <cryptopp/hmac.h>
#include <cryptopp/sha.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

namespace keydir::openpgp::crypto {

Bytes sha256(ByteView data) {
  Bytes out(kSha256Bytes);
  SHA256(data.data(), data.size(), out.data());
  return out;
}

// Crypto++: 0.75 µs for an address commitment against 1.55 µs for OpenSSL
// 3's HMAC(), which fetches the algorithm again on every call (measured in
// docs/performance.md, "The transparency log").
Bytes hmac_sha256(ByteView key, ByteView data) {
  CryptoPP::HMAC<CryptoPP::SHA256> mac(key.data(), key.size());
  Bytes out(CryptoPP::SHA256::DIGESTSIZE);
  mac.CalculateDigest(out.data(), data.data(), data.size());
  return out;
}

Result<Bytes> random_bytes(std::size_t n) {
  Bytes out(n);
  if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
    return fail(ErrorCode::Internal, "the system has no randomness to give");
  }
  return out;
}

Result<Bytes> scrypt(ByteView password, ByteView salt, unsigned log2n, unsigned r, unsigned p,
                     std::size_t out_len) {
  constexpr std::uint64_t kMaxMemory = 256ULL << 20;
  if (log2n < 1 || log2n > 24 || r < 1 || p < 1 || r * p >= (1U << 30) ||
      128ULL * r * (1ULL << log2n) > kMaxMemory) {
    return fail(ErrorCode::Internal, "scrypt parameters out of range");
  }
  Bytes out(out_len);
  if (EVP_PBE_scrypt(reinterpret_cast<const char*>(password.data()), password.size(), salt.data(),
                     salt.size(), std::uint64_t{1} << log2n, r, p, kMaxMemory + (1 << 20),
                     out.data(), out.size()) != 1) {
    return fail(ErrorCode::Internal, "scrypt failed");
  }
  return out;
}

namespace {
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
}  // namespace

Result<Bytes> ed25519_public_key(ByteView seed) {
  if (seed.size() != kEd25519Bytes) {
    return fail(ErrorCode::Internal, "an Ed25519 private key has 32 octets");
  }
  Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  Bytes pub(kEd25519Bytes);
  std::size_t len = pub.size();
  if (!key || EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &len) != 1 ||
      len != kEd25519Bytes) {
    return fail(ErrorCode::Internal, "Ed25519 key failed");
  }
  return pub;
}

Result<Bytes> ed25519_sign(ByteView seed, ByteView message) {
  if (seed.size() != kEd25519Bytes) {
    return fail(ErrorCode::Internal, "an Ed25519 private key has 32 octets");
  }
  Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  MdCtx ctx(EVP_MD_CTX_new());
  Bytes sig(64);
  std::size_t len = sig.size();
  if (!key || !ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1 ||
      len != 64) {
    return fail(ErrorCode::Internal, "Ed25519 signing failed");
  }
  return sig;
}

bool ed25519_verify(ByteView public_key, ByteView message, ByteView signature) {
  if (public_key.size() != kEd25519Bytes || signature.size() != 64) {
    return false;
  }
  Pkey key(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(), public_key.size()));
  MdCtx ctx(EVP_MD_CTX_new());
  return key && ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                          message.size()) == 1;
}

bool equal_constant_time(ByteView a, ByteView b) {
  return a.size() == b.size() && (a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0);
}

}  // namespace keydir::openpgp::crypto
