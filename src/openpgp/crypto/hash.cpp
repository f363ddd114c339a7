#include "openpgp/crypto/hash.hpp"

#define CRYPTOPP_ENABLE_NAMESPACE_WEAK 1
#include <cryptopp/md5.h>
#include <cryptopp/ripemd.h>
#include <cryptopp/sha.h>
#include <cryptopp/sha3.h>

namespace keydir::openpgp::crypto {

struct Hasher::Impl {
  std::unique_ptr<CryptoPP::HashTransformation> h;
};

Hasher::Hasher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;
Hasher::~Hasher() = default;

Result<Hasher> Hasher::create(HashAlgorithm algo) {
  auto impl = std::make_unique<Impl>();
  switch (algo) {
    case HashAlgorithm::Md5:
      impl->h = std::make_unique<CryptoPP::Weak::MD5>();
      break;
    case HashAlgorithm::Sha1:
      impl->h = std::make_unique<CryptoPP::SHA1>();
      break;
    case HashAlgorithm::Ripemd160:
      impl->h = std::make_unique<CryptoPP::RIPEMD160>();
      break;
    case HashAlgorithm::Sha256:
      impl->h = std::make_unique<CryptoPP::SHA256>();
      break;
    case HashAlgorithm::Sha384:
      impl->h = std::make_unique<CryptoPP::SHA384>();
      break;
    case HashAlgorithm::Sha512:
      impl->h = std::make_unique<CryptoPP::SHA512>();
      break;
    case HashAlgorithm::Sha224:
      impl->h = std::make_unique<CryptoPP::SHA224>();
      break;
    case HashAlgorithm::Sha3_256:
      impl->h = std::make_unique<CryptoPP::SHA3_256>();
      break;
    case HashAlgorithm::Sha3_512:
      impl->h = std::make_unique<CryptoPP::SHA3_512>();
      break;
    default:
      return fail(ErrorCode::UnsupportedAlgorithm,
                  "unknown hash algorithm " + std::to_string(static_cast<int>(algo)));
  }
  return Hasher(std::move(impl));
}

void Hasher::update(ByteView data) {
  impl_->h->Update(data.data(), data.size());
}

void Hasher::update_u8(std::uint8_t v) {
  impl_->h->Update(&v, 1);
}

void Hasher::update_be(std::uint64_t v, std::size_t width) {
  std::uint8_t buf[8];
  for (std::size_t i = 0; i < width; ++i) {
    buf[i] = static_cast<std::uint8_t>(v >> (8 * (width - 1 - i)));
  }
  impl_->h->Update(buf, width);
}

Bytes Hasher::finish() {
  Bytes out(impl_->h->DigestSize());
  impl_->h->Final(out.data());
  return out;
}

Result<Bytes> digest(HashAlgorithm algo, ByteView data) {
  KEYDIR_TRY(auto h, Hasher::create(algo));
  h.update(data);
  return h.finish();
}

}  // namespace keydir::openpgp::crypto
