// Internal to crypto/: the two backend factories behind make_verifying_key().
#pragma once

#include "openpgp/crypto/verify_key.hpp"

namespace keydir::openpgp::crypto {

Result<std::unique_ptr<VerifyingKey>> make_cryptopp_key(const PublicKey& key);
Result<std::unique_ptr<VerifyingKey>> make_openssl_key(const PublicKey& key);

// Strips leading zero octets of an MPI value and left-pads to `len`; empty if
// the value does not fit.
Bytes fixed_width(ByteView mpi, std::size_t len);

}  // namespace keydir::openpgp::crypto
