// Policy: what keydir accepts and keeps, as pure decisions with no clock.
//
// The defaults are those of a public keyserver that publishes only what the
// key owner made: third-party certifications are dropped unless the owner
// attested them (CVE-2019-13050 flooding defence, as keys.openpgp.org does),
// user attributes (photo IDs) are dropped (as Hockeypuck, keys.openpgp.org and
// Mailvelope do), and every count and size is bounded (common/limits.hpp).
#pragma once

#include <cstddef>

#include "common/limits.hpp"
#include "common/result.hpp"
#include "openpgp/packets.hpp"

namespace keydir::openpgp {

struct Policy {
  // Keep third-party certifications on user IDs, at most this many per user
  // ID (the newest win). Off by default: anyone can add them (flooding).
  bool keep_third_party_certifications = false;
  std::size_t max_third_party_per_user_id = limits::kMaxThirdPartySigsPerUserId;
  // Keep user attributes (photo IDs) up to this size.
  bool keep_user_attributes = false;
  std::size_t max_user_attribute_bytes = limits::kMaxUserAttributeBytes;
  // SHA-1 self-signatures: GnuPG accepts them, Sequoia's StandardPolicy
  // refuses them since 2023. Thousands of long-lived keys still rely on them,
  // and a keyserver that refused them would hide those keys' revocations.
  bool accept_sha1_self_signatures = true;
  // Smallest RSA, DSA and ElGamal keys accepted (bits). Keys of 768 bits are
  // still found in old keyrings; below that nothing real remains.
  unsigned min_rsa_dsa_bits = 768;
  // Keys and signatures made later than `now` plus this are not valid yet
  // (Sequoia allows 30 minutes; clients' clocks are often worse).
  std::uint32_t clock_skew_seconds = 3600;

  std::size_t max_user_ids = limits::kMaxUserIdsPerCert;
  std::size_t max_subkeys = limits::kMaxSubkeysPerCert;
  std::size_t max_self_sigs_per_component = limits::kMaxSelfSigsPerComponent;
  std::size_t max_user_id_bytes = limits::kMaxUserIdBytes;
  std::size_t max_key_packet_bytes = limits::kMaxKeyPacketBytes;
  std::size_t max_signature_packet_bytes = limits::kMaxSignaturePacketBytes;
  std::size_t max_cert_bytes = limits::kMaxCertBytes;

  // Errors: BadSignature-free reasons as text; nullopt when acceptable.
  [[nodiscard]] std::optional<std::string> refuse_hash(HashAlgorithm hash) const;
  // WeakAlgorithm or UnsupportedAlgorithm for a key we will not accept as a
  // primary key or subkey.
  [[nodiscard]] Result<void> check_key(const PublicKey& key) const;
};

}  // namespace keydir::openpgp
