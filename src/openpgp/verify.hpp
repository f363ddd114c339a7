// Self-signature verification and the keep/strip policy: Certificate →
// VerifiedCertificate.
//
// verify() checks every self-signature cryptographically (RFC 9580 §5.2.4):
// user ID and user attribute certifications, subkey bindings with the
// primary-key back-signature that signing subkeys need, direct-key
// signatures, revocations. It keeps what verifies and what the Policy allows,
// strips the rest with a reason, and refuses the certificate when its primary
// key has no valid self-signature. The result is canonical (canonical.hpp).
//
// Security considerations: everything in the input is attacker-controlled,
// including issuer subpackets (only a verified signature proves its issuer).
// Work is bounded by the parser's packet limit; each signature is verified at
// most once.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "openpgp/certificate.hpp"
#include "openpgp/crypto/verify_key.hpp"
#include "openpgp/policy.hpp"

namespace keydir::openpgp {

// Signatures already verified: verify each distinct signature once. A key is
// SHA-256 over the signer's fingerprint, the digest the signature is made
// over (which covers the signer's key, the component it binds and the
// signature's hashed area) and the whole signature packet; equal keys mean the
// same public-key operation on the same inputs, whose answer cannot change.
// The policy checks (hash algorithm, times, sizes) are still made every time:
// only the public-key operation is skipped.
class SignatureMemo {
 public:
  using Key = std::array<std::uint8_t, 32>;
  void add(const Key& k);
  void merge(const SignatureMemo& other);
  [[nodiscard]] bool contains(const Key& k) const;
  [[nodiscard]] std::size_t size() const { return keys_.size(); }
  [[nodiscard]] bool empty() const { return keys_.empty(); }

 private:
  std::vector<Key> keys_;  // sorted, distinct
};

struct Revocation {
  std::uint32_t created = 0;
  std::optional<std::uint8_t> code;  // RFC 9580 §5.2.3.31 reason code
  std::string reason;
};

struct KeyState {
  std::optional<std::uint32_t> expires;  // absolute time, nullopt = never
  std::optional<std::uint8_t> flags;     // key flags of the newest binding
  std::optional<Revocation> revocation;
};

struct UserIdState {
  std::optional<Email> email;
  bool primary = false;
  std::optional<Revocation> revocation;
  std::size_t third_party_certifications = 0;
};

// What verification determined about a certificate: the components it kept
// and their states (revocations, expiry, primary user ID). Read-only; made
// only by the Verifier, as one of the two kinds below.
class CertificateStates {
 public:
  [[nodiscard]] const Certificate& cert() const { return cert_; }
  [[nodiscard]] const Fingerprint& fingerprint() const { return cert_.primary.fingerprint; }
  [[nodiscard]] const KeyState& primary_state() const { return primary_; }
  // Parallel to cert().user_ids / user_attributes / subkeys.
  [[nodiscard]] const std::vector<UserIdState>& user_id_states() const { return user_ids_; }
  [[nodiscard]] const std::vector<UserIdState>& user_attribute_states() const {
    return user_attributes_;
  }
  [[nodiscard]] const std::vector<KeyState>& subkey_states() const { return subkeys_; }
  [[nodiscard]] bool revoked() const { return primary_.revocation.has_value(); }
  [[nodiscard]] bool expired(std::uint64_t now) const {
    return primary_.expires && *primary_.expires <= now;
  }
  // Canonical binary form (serialize(cert())), computed once by the Verifier.
  [[nodiscard]] const Bytes& to_bytes() const { return bytes_; }
  // The signatures kept, as verified (VerifiedCertificate) or as taken from
  // the store (StoredCertificate): what a merge need not verify again.
  [[nodiscard]] const SignatureMemo& memo() const { return memo_; }

 protected:
  CertificateStates() = default;

 private:
  friend struct Verifier;
  Certificate cert_;
  KeyState primary_;
  std::vector<UserIdState> user_ids_;
  std::vector<UserIdState> user_attributes_;
  std::vector<KeyState> subkeys_;
  Bytes bytes_;
  SignatureMemo memo_;
};

// A certificate whose every kept signature was checked now, by verify(): the
// only kind the key directory accepts for storing. Nothing else can make one.
class VerifiedCertificate final : public CertificateStates {
 private:
  friend struct Verifier;
  VerifiedCertificate() = default;
};

// The states of a certificate read back from the key store, computed by
// summarize_stored() without the public-key operations (the certificate was
// verified when it was stored). Good for showing and indexing; it cannot be
// passed where a VerifiedCertificate is required.
class StoredCertificate final : public CertificateStates {
 private:
  friend struct Verifier;
  StoredCertificate() = default;
};

template <typename C>
struct BasicVerification {
  std::optional<Fingerprint> fingerprint;
  std::optional<C> cert;          // set when accepted
  std::optional<Error> refusal;   // set when refused
  std::vector<Finding> stripped;  // what was left out, and why
  [[nodiscard]] bool accepted() const { return cert.has_value(); }
};
using Verification = BasicVerification<VerifiedCertificate>;
using StoredSummary = BasicVerification<StoredCertificate>;

// `now` is seconds since the epoch: keys and signatures made after it (plus
// the policy's clock skew) are not valid yet.
// `backend` forces one crypto backend for every key (tests and benchmarks
// compare them); by default each algorithm uses crypto::default_backend().
// `cert` by value: an rvalue is moved in, not copied.
Verification verify(Certificate cert, const Policy& policy, std::uint64_t now,
                    std::optional<crypto::Backend> backend = std::nullopt);

// verify(), skipping the public-key operation of every signature `known`
// holds (signatures of this certificate verified before: the parts of a
// merge, or the stored copy of a re-imported key). Everything else is checked
// as by verify().
Verification verify(Certificate cert, const Policy& policy, std::uint64_t now,
                    const SignatureMemo& known);

// The states (revocations, expiry, primary user ID) of a certificate that was
// verified when it was stored: the same rules as verify(), without the
// public-key operations. Only for bytes that came out of the key store —
// never for input from the network.
StoredSummary summarize_stored(const Certificate& cert, const Policy& policy, std::uint64_t now);

// parse_certificates + verify for each certificate of an input (armored or
// binary). Input-level errors (armor, framing, secret keys) are returned as
// the error; per-certificate refusals are in each Verification.
Result<std::vector<Verification>> verify_input(ByteView input, const Policy& policy,
                                               std::uint64_t now, std::size_t max_input,
                                               std::size_t max_certs = 0);

}  // namespace keydir::openpgp
