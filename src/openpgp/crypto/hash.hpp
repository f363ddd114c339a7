// Message digests for signature checks and fingerprints (Crypto++ backend;
// OpenSSL 3 moved RIPEMD-160 to its legacy provider, Crypto++ has them all).
#pragma once

#include <memory>

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "openpgp/types.hpp"

namespace keydir::openpgp::crypto {

class Hasher {
 public:
  // UnsupportedAlgorithm for an unknown id; MD5 is supported here (for
  // display) and refused by the policy, not by this class.
  static Result<Hasher> create(HashAlgorithm algo);
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  ~Hasher();

  void update(ByteView data);
  void update_u8(std::uint8_t v);
  void update_be(std::uint64_t v, std::size_t width);
  // Returns the digest and resets the hasher.
  Bytes finish();

 private:
  struct Impl;
  explicit Hasher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

Result<Bytes> digest(HashAlgorithm algo, ByteView data);

}  // namespace keydir::openpgp::crypto
