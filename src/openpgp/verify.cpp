#include "openpgp/verify.hpp"

#include <algorithm>
#include <functional>
#include <iterator>
#include <memory>
#include <type_traits>

#include "common/limits.hpp"
#include "openpgp/canonical.hpp"
#include "openpgp/crypto/hash.hpp"
#include "openpgp/crypto/verify_key.hpp"

namespace keydir::openpgp {

namespace {

using crypto::Hasher;
using crypto::VerifyingKey;
using Context = std::function<void(Hasher&)>;

// RFC 9580 §5.2.4: "When a v4 signature is made over a key, the hash data
// starts with the octet 0x99, followed by a two-octet length of the key, and
// then the body of the key packet"; v6 uses 0x9B and a four-octet length.
void hash_key(Hasher& h, const PublicKey& k) {
  if (k.version == 6) {
    h.update_u8(0x9B);
    h.update_be(k.body.size(), 4);
  } else {
    h.update_u8(0x99);
    h.update_be(k.body.size(), 2);
  }
  h.update(k.body);
}

// RFC 9580 §5.2.4: "A certification signature ... is hashed with the octet
// 0xB4 (user ID) or 0xD1 (user attribute), followed by a four-octet length".
void hash_user(Hasher& h, std::uint8_t prefix, const Bytes& body) {
  h.update_u8(prefix);
  h.update_be(body.size(), 4);
  h.update(body);
}

bool newer(const Signature& a, const Signature& b) {
  return a.created.value_or(0) > b.created.value_or(0);
}

std::string issuer_of(const Signature& sig) {
  if (!sig.issuer_fingerprints.empty()) {
    return sig.issuer_fingerprints.front().to_hex();
  }
  if (!sig.issuer_key_ids.empty()) {
    return sig.issuer_key_ids.front().to_hex();
  }
  return "an unnamed key";
}

Revocation revocation_of(const Signature& sig) {
  return Revocation{sig.created.value_or(0), sig.revocation_code, sig.revocation_reason};
}

const Signature* newest(const std::vector<Signature>& sigs,
                        const std::function<bool(const Signature&)>& pred) {
  const Signature* best = nullptr;
  for (const auto& s : sigs) {
    if (pred(s) && (!best || newer(s, *best))) {
      best = &s;
    }
  }
  return best;
}

std::optional<std::uint32_t> expiry(const PublicKey& key, const Signature* sig) {
  // RFC 9580 §5.2.3.13: "the number of seconds after the key creation time
  // that the key expires ... If this is not present or has a value of zero,
  // the key never expires."
  if (!sig || !sig->key_expires_after || *sig->key_expires_after == 0) {
    return std::nullopt;
  }
  std::uint64_t t = std::uint64_t{key.created} + *sig->key_expires_after;
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(t, 0xffffffffu));
}

void append_subpacket(Bytes& area, SubpacketType type, ByteView data) {
  const std::size_t len = data.size() + 1;
  if (len < 192) {
    area.push_back(static_cast<std::uint8_t>(len));
  } else if (len < 16320) {
    area.push_back(static_cast<std::uint8_t>(((len - 192) >> 8) + 192));
    area.push_back(static_cast<std::uint8_t>((len - 192) & 0xFF));
  } else {
    area.push_back(0xFF);
    append_be(area, len, 4);
  }
  area.push_back(static_cast<std::uint8_t>(type));
  append(area, data);
}

// A self-signature with the unhashed area keydir serves, whatever the one it
// came with. The unhashed area is not signed: anyone can add to it, drop from
// it or reorder it, and clients read it (GnuPG takes the first embedded
// back-signature, and drops a signing subkey whose binding names no issuer key
// ID). Kept, in their order: the subpackets that name the signer (issuer key
// ID, issuer fingerprint) and, in a signing subkey's binding, the valid
// back-signature `back`, once. Added when missing: the issuer (key ID for v4,
// fingerprint for v6) unless the hashed area names it, in front, and `back`
// unless the hashed area holds it. Everything else is dropped. The signature
// as it is when its unhashed area is already that one (what GnuPG, Sequoia
// and OpenPGP.js write).
Signature canonical_unhashed(Signature sig, const PublicKey& signer, const Bytes* back) {
  Bytes fpr{static_cast<std::uint8_t>(signer.version)};
  append(fpr, signer.fingerprint.bytes());
  const ByteView key_id = signer.key_id.bytes();
  auto names_signer = [&](const Subpacket& sp) {
    const auto t = static_cast<SubpacketType>(sp.type);
    return (t == SubpacketType::IssuerKeyId && sig.version == 4 &&
            std::equal(sp.data.begin(), sp.data.end(), key_id.begin(), key_id.end())) ||
           (t == SubpacketType::IssuerFingerprint && sp.data == fpr);
  };
  auto is_back = [&](const Subpacket& sp) {
    return back && static_cast<SubpacketType>(sp.type) == SubpacketType::EmbeddedSignature &&
           sp.data == *back;
  };
  // GnuPG finds a v4 signature's signer by the issuer key ID only.
  auto the_issuer = [&](const Subpacket& sp) {
    return names_signer(sp) &&
           static_cast<SubpacketType>(sp.type) ==
               (sig.version == 4 ? SubpacketType::IssuerKeyId : SubpacketType::IssuerFingerprint);
  };
  bool issuer = false;
  bool has_back = back == nullptr;
  for (const auto& sp : sig.subpackets) {
    if (sp.hashed) {
      issuer = issuer || the_issuer(sp);
      has_back = has_back || is_back(sp);
    }
  }
  Bytes kept;
  for (const auto& sp : sig.subpackets) {
    if (sp.hashed || sp.critical) {
      continue;
    }
    if (names_signer(sp)) {
      issuer = issuer || the_issuer(sp);
    } else if (is_back(sp) && !has_back) {
      has_back = true;
    } else {
      continue;
    }
    append_subpacket(kept, static_cast<SubpacketType>(sp.type), sp.data);
  }
  Bytes area;
  if (!issuer) {
    if (sig.version == 4) {
      append_subpacket(area, SubpacketType::IssuerKeyId, key_id);
    } else {
      append_subpacket(area, SubpacketType::IssuerFingerprint, fpr);
    }
  }
  append(area, kept);
  if (!has_back) {
    append_subpacket(area, SubpacketType::EmbeddedSignature, *back);
  }
  const std::size_t len_bytes = sig.version == 4 ? 2 : 4;
  const ByteView body(sig.body);
  const ByteView current = body.subspan(sig.unhashed_begin + len_bytes,
                                        sig.unhashed_end - sig.unhashed_begin - len_bytes);
  if (std::equal(current.begin(), current.end(), area.begin(), area.end())) {
    return sig;
  }
  Bytes out(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(sig.unhashed_begin));
  append_be(out, area.size(), len_bytes);
  append(out, area);
  out.insert(out.end(), body.begin() + static_cast<std::ptrdiff_t>(sig.unhashed_end), body.end());
  auto parsed = parse_signature(out);
  if (!parsed) {
    return sig;  // cannot happen: only whole subpackets were written
  }
  return std::move(*parsed);
}

}  // namespace

// Accepts every signature whose digest prefix matches: for certificates that
// were fully verified before they were stored (summarize_stored).
class TrustedKey final : public VerifyingKey {
 public:
  bool verify(HashAlgorithm, ByteView, const SignatureMaterial&) const override { return true; }
};

struct Verifier {
  const Policy& policy;
  std::uint64_t now;
  std::optional<crypto::Backend> backend;
  const PublicKey& primary;
  const VerifyingKey& primary_key;
  std::vector<Finding>& stripped;

  // Signatures verified before (may be null), and the signatures found valid
  // now (what the result's memo() holds).
  const SignatureMemo* known = nullptr;
  SignatureMemo* found = nullptr;

  void strip(const std::string& component, std::string reason) {
    stripped.push_back({component, std::move(reason)});
  }

  // nullopt when `sig` is a valid signature by `signer` over `context`.
  // `remember` false: a valid signature is not added to `found` (see
  // back_signature).
  std::optional<std::string> check(const Signature& sig, const PublicKey& signer,
                                   const VerifyingKey& key, const Context& context,
                                   std::uint32_t not_before, bool remember = true) const {
    if (sig.body.size() > policy.max_signature_packet_bytes) {
      return "signature packet of " + std::to_string(sig.body.size()) +
             " octets exceeds the limit of " + std::to_string(policy.max_signature_packet_bytes);
    }
    // RFC 9580 §5.2: v6 keys make v6 signatures; v4 keys make v4 signatures.
    if ((signer.version == 6) != (sig.version == 6)) {
      return "v" + std::to_string(sig.version) + " signature by a v" +
             std::to_string(signer.version) + " key";
    }
    if (sig.pk_algorithm != signer.algorithm) {
      return "signature algorithm does not match the key";
    }
    if (auto why = policy.refuse_hash(sig.hash_algorithm)) {
      return *why;
    }
    if (sig.version == 6) {
      auto salt = v6_salt_size(sig.hash_algorithm);
      if (!salt || *salt != sig.salt.size()) {
        return "v6 signature salt does not match its hash algorithm (RFC 9580 §9.5)";
      }
    }
    // RFC 9580 §5.2.3.11: "Signature Creation Time ... MUST be present in the
    // hashed area."
    if (!sig.created) {
      return "no signature creation time";
    }
    if (*sig.created < not_before) {
      return "signature is older than the key it binds";
    }
    if (*sig.created > now + policy.clock_skew_seconds) {
      return "signature created in the future";
    }
    if (sig.unknown_critical) {
      return "unknown critical subpacket (RFC 9580 §5.2.3.7)";
    }
    auto digest = signed_digest(sig, context);
    if (!digest) {
      return "unknown hash algorithm";
    }
    if (!prefix_matches(sig, *digest)) {
      return "signature does not verify (digest prefix mismatch)";
    }
    auto memo_key = memo_key_of(signer, *digest, sig);
    if (!(known && known->contains(memo_key)) &&
        !key.verify(sig.hash_algorithm, *digest, sig.material)) {
      return "signature does not verify";
    }
    if (found && remember) {
      found->add(memo_key);
    }
    return std::nullopt;
  }

  static SignatureMemo::Key memo_key_of(const PublicKey& signer, const Bytes& digest,
                                        const Signature& sig) {
    auto h = Hasher::create(HashAlgorithm::Sha256);
    h->update(signer.fingerprint.bytes());
    h->update_be(digest.size(), 2);
    h->update(digest);
    h->update(sig.body);
    Bytes d = h->finish();
    SignatureMemo::Key k{};
    std::copy_n(d.begin(), k.size(), k.begin());
    return k;
  }

  // The hash a signature is made over (RFC 9580 §5.2.4); nullopt for an
  // unknown hash algorithm.
  static std::optional<Bytes> signed_digest(const Signature& sig, const Context& context) {
    auto h = Hasher::create(sig.hash_algorithm);
    if (!h) {
      return std::nullopt;
    }
    if (sig.version == 6) {
      // RFC 9580 §5.2.4: "the salt is hashed first".
      h->update(sig.salt);
    }
    context(*h);
    h->update(ByteView(sig.body).first(sig.hashed_prefix_len));
    // RFC 9580 §5.2.4: trailer of the version, 0xFF, and a four-octet length
    // of the hashed data.
    h->update_u8(sig.version);
    h->update_u8(0xFF);
    h->update_be(sig.hashed_prefix_len, 4);
    return h->finish();
  }

  static bool prefix_matches(const Signature& sig, const Bytes& digest) {
    return digest[0] == sig.digest_prefix[0] && digest[1] == sig.digest_prefix[1];
  }

  enum class Kind { Primary, User, Subkey, None };
  static Kind kind_of(SignatureType t) {
    switch (t) {
      case SignatureType::DirectKey:
      case SignatureType::KeyRevocation:
        return Kind::Primary;
      case SignatureType::GenericCertification:
      case SignatureType::PersonaCertification:
      case SignatureType::CasualCertification:
      case SignatureType::PositiveCertification:
      case SignatureType::CertificationRevocation:
      case SignatureType::AttestationKey:
        return Kind::User;
      case SignatureType::SubkeyBinding:
      case SignatureType::SubkeyRevocation:
        return Kind::Subkey;
      default:
        return Kind::None;
    }
  }

  // Moves self-signatures that sit on the wrong component (wrong kind, or a
  // digest prefix that does not match where they are) to the component whose
  // data they hash to, as Sequoia's canonicalization does. Only the two-octet
  // digest prefix is compared here; the full check comes later. Returns true
  // if anything moved.
  bool relocate(Certificate& c) const {
    struct Slot {
      std::vector<Signature>* list;
      Context ctx;
      Kind kind;
    };
    std::vector<Slot> slots;
    slots.push_back(
        {&c.direct_signatures, [this](Hasher& h) { hash_key(h, primary); }, Kind::Primary});
    auto add_user = [&](UserIdBundle& u, std::uint8_t prefix) {
      slots.push_back({&u.signatures,
                       [this, &u, prefix](Hasher& h) {
                         hash_key(h, primary);
                         hash_user(h, prefix, u.body);
                       },
                       Kind::User});
    };
    for (auto& u : c.user_ids) {
      add_user(u, 0xB4);
    }
    for (auto& u : c.user_attributes) {
      add_user(u, 0xD1);
    }
    for (auto& s : c.subkeys) {
      slots.push_back({&s.signatures,
                       [this, &s](Hasher& h) {
                         hash_key(h, primary);
                         hash_key(h, s.key);
                       },
                       Kind::Subkey});
    }
    std::size_t budget = limits::kMaxRelocationChecks;
    auto fits = [&](const Signature& sig, const Slot& slot) {
      if (budget == 0) {
        return false;
      }
      --budget;
      auto d = signed_digest(sig, slot.ctx);
      return d && prefix_matches(sig, *d);
    };
    struct Moved {
      Signature sig;
      std::size_t origin;
    };
    std::vector<Moved> pool;
    for (std::size_t i = 0; i < slots.size(); ++i) {
      std::vector<Signature> keep;
      for (auto& sig : *slots[i].list) {
        Kind k = kind_of(sig.type);
        bool self = !sig.has_issuer() || sig.issued_by(primary);
        if (!self || k == Kind::None || budget == 0 ||
            (k == slots[i].kind && fits(sig, slots[i]))) {
          keep.push_back(std::move(sig));
        } else {
          pool.push_back({std::move(sig), i});
        }
      }
      *slots[i].list = std::move(keep);
    }
    bool moved = false;
    for (auto& m : pool) {
      Kind k = kind_of(m.sig.type);
      std::size_t target = m.origin;
      for (std::size_t j = 0; j < slots.size(); ++j) {
        if (j != m.origin && slots[j].kind == k && fits(m.sig, slots[j])) {
          target = j;
          moved = true;
          break;
        }
      }
      slots[target].list->push_back(std::move(m.sig));
    }
    return moved;
  }

  // Keeps the newest `max` of `sigs` and strips the rest, but never the
  // newest signature that `binds` (the component's certification or binding).
  void cap(std::vector<Signature>& sigs, const std::string& component,
           const std::function<bool(const Signature&)>& binds) {
    std::size_t max = std::max<std::size_t>(policy.max_self_sigs_per_component, 1);
    if (sigs.size() <= max) {
      return;
    }
    std::stable_sort(sigs.begin(), sigs.end(), newer);
    auto binding = std::find_if(sigs.begin(), sigs.end(), binds);
    if (binding != sigs.end() && static_cast<std::size_t>(binding - sigs.begin()) >= max) {
      std::rotate(sigs.begin() + static_cast<std::ptrdiff_t>(max - 1), binding, binding + 1);
    }
    std::size_t n = sigs.size() - max;
    sigs.resize(max);
    strip(component,
          std::to_string(n) + " older self-signatures beyond the limit of " + std::to_string(max));
  }

  std::optional<std::pair<UserIdBundle, UserIdState>> user_bundle(UserIdBundle& in,
                                                                  std::uint8_t prefix,
                                                                  const std::string& desc) {
    Context ctx = [&](Hasher& h) {
      hash_key(h, primary);
      hash_user(h, prefix, in.body);
    };
    std::vector<Signature> self;
    std::vector<Signature*> third;
    for (auto& sig : in.signatures) {
      bool allowed = is_certification(sig.type) ||
                     sig.type == SignatureType::CertificationRevocation ||
                     sig.type == SignatureType::AttestationKey;
      if (!allowed) {
        strip(desc,
              std::string(signature_type_name(sig.type)) + " signature on a user ID is misplaced");
        continue;
      }
      if (sig.has_issuer() && !sig.issued_by(primary)) {
        third.push_back(&sig);
        continue;
      }
      if (auto why = check(sig, primary, primary_key, ctx, primary.created)) {
        strip(desc, sig.has_issuer() ? "self-signature dropped: " + *why
                                     : "signature without issuer that is no valid self-signature");
        continue;
      }
      self.push_back(canonical_unhashed(std::move(sig), primary, nullptr));
    }
    // A user ID whose only self-signature is its revocation (the shape
    // `gpg --export-options export-minimal` and cleaned keyrings give a
    // revoked user ID) is kept, served as revoked: whoever holds the old,
    // unrevoked user ID must learn that it was revoked.
    if (!std::any_of(self.begin(), self.end(), [](const Signature& s) {
          return is_certification(s.type) || s.type == SignatureType::CertificationRevocation;
        })) {
      strip(desc, "no valid self-signature");
      return std::nullopt;
    }
    UserIdBundle out{in.body, {}};
    UserIdState state;
    const Signature* attestation =
        newest(self, [](const Signature& s) { return s.type == SignatureType::AttestationKey; });
    std::stable_sort(third.begin(), third.end(),
                     [](const Signature* a, const Signature* b) { return newer(*a, *b); });
    std::size_t kept_by_policy = 0;
    for (Signature* t : third) {
      if (attestation && is_certification(t->type) && attested(*attestation, *t)) {
        out.signatures.push_back(std::move(*t));
        ++state.third_party_certifications;
        continue;
      }
      if (policy.keep_third_party_certifications &&
          kept_by_policy < policy.max_third_party_per_user_id) {
        ++kept_by_policy;
        if (is_certification(t->type)) {
          ++state.third_party_certifications;
        }
        out.signatures.push_back(std::move(*t));
        continue;
      }
      strip(desc, "third-party " + std::string(signature_type_name(t->type)) + " by " +
                      issuer_of(*t) + " (not attested by the key owner)");
    }
    cap(self, desc, [](const Signature& s) { return is_certification(s.type); });
    const Signature* cert =
        newest(self, [](const Signature& s) { return is_certification(s.type); });
    const Signature* rev = newest(
        self, [](const Signature& s) { return s.type == SignatureType::CertificationRevocation; });
    if (rev && (!cert || rev->created.value_or(0) >= cert->created.value_or(0))) {
      state.revocation = revocation_of(*rev);
    }
    state.primary = cert && cert->primary_user_id;
    out.signatures.insert(out.signatures.end(), std::make_move_iterator(self.begin()),
                          std::make_move_iterator(self.end()));
    return std::make_pair(std::move(out), std::move(state));
  }

  // draft-dkg-openpgp-1pa3pc: an attestation lists digests of the third-party
  // certifications the key owner approves, each computed as for a signature
  // over a signature (RFC 4880 §5.2.4: 0x88, four-octet length, the body with
  // the unhashed subpacket data left out and its length set to zero).
  static bool attested(const Signature& attestation, const Signature& third) {
    auto h = Hasher::create(attestation.hash_algorithm);
    if (!h) {
      return false;
    }
    Bytes norm = third.normalized();
    h->update_u8(0x88);
    h->update_be(norm.size(), 4);
    h->update(norm);
    Bytes d = h->finish();
    return std::find(attestation.attested_digests.begin(), attestation.attested_digests.end(), d) !=
           attestation.attested_digests.end();
  }

  std::optional<std::pair<SubkeyBundle, KeyState>> subkey(SubkeyBundle& in) {
    const PublicKey& sub = in.key;
    std::string desc = "subkey " + sub.fingerprint.to_hex();
    if (sub.fingerprint == primary.fingerprint) {
      strip(desc, "subkey is the primary key");
      return std::nullopt;
    }
    if (auto ok = policy.check_key(sub); !ok) {
      strip(desc, ok.error().detail);
      return std::nullopt;
    }
    if (sub.created > now + policy.clock_skew_seconds) {
      strip(desc, "subkey is created in the future");
      return std::nullopt;
    }
    Context ctx = [&](Hasher& h) {
      hash_key(h, primary);
      hash_key(h, sub);
    };
    std::unique_ptr<VerifyingKey> sub_key;
    std::vector<Signature> valid;
    for (auto& sig : in.signatures) {
      if (sig.type != SignatureType::SubkeyBinding && sig.type != SignatureType::SubkeyRevocation) {
        strip(desc,
              std::string(signature_type_name(sig.type)) + " signature on a subkey is misplaced");
        continue;
      }
      if (sig.has_issuer() && !sig.issued_by(primary)) {
        strip(desc, std::string(signature_type_name(sig.type)) + " by another key (" +
                        issuer_of(sig) + ")");
        continue;
      }
      auto why = check(sig, primary, primary_key, ctx, sub.created);
      // RFC 9580 §5.2.1 (0x18): "When a subkey is used to sign, its binding
      // signature MUST contain a Primary Key Binding signature (0x19)".
      const Bytes* back = nullptr;
      if (!why && sig.type == SignatureType::SubkeyBinding && sig.key_flags &&
          (*sig.key_flags & (kFlagSign | kFlagCertify))) {
        why = back_signature(sig, sub, sub_key, ctx, &back);
      } else if (!why && sig.type == SignatureType::SubkeyBinding && !sig.key_flags &&
                 !sig.embedded_signatures.empty()) {
        // No key flags: a client may take the subkey as able to sign (by its
        // algorithm) and then wants the back-signature; a valid one is kept.
        (void)back_signature(sig, sub, sub_key, ctx, &back);
      }
      if (why) {
        strip(desc, std::string(signature_type_name(sig.type)) + " dropped: " + *why);
        continue;
      }
      const std::optional<Bytes> back_copy = back ? std::optional<Bytes>(*back) : std::nullopt;
      valid.push_back(
          canonical_unhashed(std::move(sig), primary, back_copy ? &*back_copy : nullptr));
    }
    const Signature* binding =
        newest(valid, [](const Signature& s) { return s.type == SignatureType::SubkeyBinding; });
    // As for user IDs: a subkey whose only self-signature is its revocation
    // is kept, served as revoked (never as a usable key).
    if (!binding && std::none_of(valid.begin(), valid.end(), [](const Signature& s) {
          return s.type == SignatureType::SubkeyRevocation;
        })) {
      strip(desc, "no valid binding signature");
      return std::nullopt;
    }
    cap(valid, desc, [](const Signature& s) { return s.type == SignatureType::SubkeyBinding; });
    binding =
        newest(valid, [](const Signature& s) { return s.type == SignatureType::SubkeyBinding; });
    KeyState state;
    if (binding) {
      state.flags = binding->key_flags;
      state.expires = expiry(sub, binding);
    }
    if (const Signature* rev = newest(
            valid, [](const Signature& s) { return s.type == SignatureType::SubkeyRevocation; })) {
      state.revocation = revocation_of(*rev);
    }
    return std::make_pair(SubkeyBundle{std::move(in.key), std::move(valid)}, state);
  }

  // nullopt when one of the binding's embedded signatures is a valid
  // back-signature; `*valid` is then that one's raw body.
  std::optional<std::string> back_signature(const Signature& binding, const PublicKey& sub,
                                            std::unique_ptr<VerifyingKey>& sub_key,
                                            const Context& ctx, const Bytes** valid) const {
    std::optional<std::string> last;
    for (const auto& raw : binding.embedded_signatures) {
      auto emb = parse_signature(raw);
      if (!emb || emb->type != SignatureType::PrimaryKeyBinding) {
        continue;
      }
      if (!sub_key) {
        auto k = make_key(sub);
        if (!k) {
          return "back-signature of the signing subkey cannot be checked: " + k.error().detail;
        }
        sub_key = std::move(*k);
      }
      // A binding's back-signatures sit in its unhashed area, which anyone
      // can add to: a stored binding may carry embedded signatures that were
      // never verified (the first valid one was enough). Only a
      // back-signature whose public-key operation really ran is remembered,
      // never one a trusted run (summarize_stored) merely passed.
      last = check(*emb, sub, *sub_key, ctx, sub.created, /*remember=*/!trusted);
      if (!last) {
        *valid = &raw;
        return std::nullopt;
      }
    }
    return "signing subkey without a valid primary key binding (back-)signature" +
           (last ? " (" + *last + ")" : std::string());
  }

  bool trusted = false;

  Result<std::unique_ptr<VerifyingKey>> make_key(const PublicKey& key) const {
    if (trusted) {
      return std::unique_ptr<VerifyingKey>(std::make_unique<TrustedKey>());
    }
    return make_key(key, backend);
  }
  static Result<std::unique_ptr<VerifyingKey>> make_key(const PublicKey& key,
                                                        std::optional<crypto::Backend> backend) {
    return backend ? crypto::make_verifying_key(key, *backend) : crypto::make_verifying_key(key);
  }

  // C: VerifiedCertificate (every signature checked) or StoredCertificate
  // (trusted: signatures taken as checked when they were stored).
  template <typename C>
  static BasicVerification<C> run(Certificate c, const Policy& policy, std::uint64_t now,
                                  std::optional<crypto::Backend> backend,
                                  const SignatureMemo* known = nullptr) {
    constexpr bool trusted = std::is_same_v<C, StoredCertificate>;
    BasicVerification<C> out;
    out.fingerprint = c.primary.fingerprint;
    out.stripped = std::move(c.dropped);
    auto refuse = [&](Error e) {
      out.refusal = std::move(e);
      return std::move(out);
    };
    canonicalize(c);
    const PublicKey& primary = c.primary;
    if (auto ok = policy.check_key(primary); !ok) {
      return refuse(Error{ok.error().code, "primary key: " + ok.error().detail});
    }
    if (primary.created > now + policy.clock_skew_seconds) {
      return refuse(Error{ErrorCode::NoValidComponents, "primary key is created in the future"});
    }
    auto vk = trusted ? Result<std::unique_ptr<VerifyingKey>>(std::make_unique<TrustedKey>())
                      : make_key(primary, backend);
    if (!vk) {
      return refuse(Error{vk.error().code, "primary key: " + vk.error().detail});
    }
    Verifier v{policy, now, backend, primary, **vk, out.stripped};
    v.trusted = trusted;
    SignatureMemo found;
    v.known = known;
    v.found = &found;
    if (v.relocate(c)) {
      canonicalize(c);
    }
    C vc;
    vc.cert_.primary = primary;
    const std::string primary_desc = "primary key";

    for (auto& sig : c.direct_signatures) {
      if (sig.type != SignatureType::DirectKey && sig.type != SignatureType::KeyRevocation) {
        v.strip(primary_desc, std::string(signature_type_name(sig.type)) +
                                  " signature on the primary key is misplaced");
        continue;
      }
      if (sig.has_issuer() && !sig.issued_by(primary)) {
        v.strip(primary_desc, sig.type == SignatureType::KeyRevocation
                                  ? "revocation by another key (" + issuer_of(sig) +
                                        "): a designated revoker's signature cannot be checked here"
                                  : "third-party direct-key signature by " + issuer_of(sig));
        continue;
      }
      Context ctx = [&](Hasher& h) { hash_key(h, primary); };
      if (auto why = v.check(sig, primary, **vk, ctx, primary.created)) {
        v.strip(primary_desc, std::string(signature_type_name(sig.type)) + " dropped: " + *why);
        continue;
      }
      vc.cert_.direct_signatures.push_back(canonical_unhashed(std::move(sig), primary, nullptr));
    }
    v.cap(vc.cert_.direct_signatures, primary_desc,
          [](const Signature& s) { return s.type == SignatureType::KeyRevocation; });

    for (auto& u : c.user_ids) {
      std::string desc = describe_user_id(u.body);
      if (u.body.size() > policy.max_user_id_bytes) {
        v.strip(desc, "user ID of " + std::to_string(u.body.size()) +
                          " octets exceeds the limit of " +
                          std::to_string(policy.max_user_id_bytes));
        continue;
      }
      if (auto kept = v.user_bundle(u, 0xB4, desc)) {
        kept->second.email = Email::from_user_id(as_chars(u.body));
        vc.cert_.user_ids.push_back(std::move(kept->first));
        vc.user_ids_.push_back(std::move(kept->second));
      }
    }
    for (auto& u : c.user_attributes) {
      std::string desc = "user attribute of " + std::to_string(u.body.size()) + " octets";
      if (!policy.keep_user_attributes) {
        v.strip(desc, "user attributes (photo IDs) are not published");
        continue;
      }
      if (u.body.size() > policy.max_user_attribute_bytes) {
        v.strip(desc, "exceeds the limit of " + std::to_string(policy.max_user_attribute_bytes) +
                          " octets");
        continue;
      }
      if (auto kept = v.user_bundle(u, 0xD1, desc)) {
        vc.cert_.user_attributes.push_back(std::move(kept->first));
        vc.user_attributes_.push_back(std::move(kept->second));
      }
    }
    for (auto& s : c.subkeys) {
      if (auto kept = v.subkey(s)) {
        vc.cert_.subkeys.push_back(std::move(kept->first));
        vc.subkeys_.push_back(kept->second);
      }
    }

    const auto& direct = vc.cert_.direct_signatures;
    const Signature* direct_key =
        newest(direct, [](const Signature& s) { return s.type == SignatureType::DirectKey; });
    const Signature* key_rev =
        newest(direct, [](const Signature& s) { return s.type == SignatureType::KeyRevocation; });
    if (primary.version == 6 && !direct_key && !key_rev) {
      // RFC 9580 §10.1.1: a v6 certificate carries a direct-key signature.
      return refuse(
          Error{ErrorCode::NoValidComponents, "v6 primary key has no valid direct-key signature"});
    }
    const bool certified_user_id =
        std::any_of(vc.cert_.user_ids.begin(), vc.cert_.user_ids.end(), [&](const auto& u) {
          return std::any_of(u.signatures.begin(), u.signatures.end(), [&](const Signature& s) {
            return is_certification(s.type) && (!s.has_issuer() || s.issued_by(primary));
          });
        });
    if (primary.version == 4 && !certified_user_id && !direct_key && !key_rev) {
      return refuse(Error{ErrorCode::NoValidComponents,
                          "primary key has no valid self-signature (no user ID with a valid "
                          "self-signature, no direct-key signature, no revocation)"});
    }
    if (vc.cert_.user_ids.size() > policy.max_user_ids) {
      return refuse(Error{ErrorCode::TooManyComponents,
                          std::to_string(vc.cert_.user_ids.size()) + " valid user IDs (limit " +
                              std::to_string(policy.max_user_ids) + ")"});
    }
    if (vc.cert_.subkeys.size() > policy.max_subkeys) {
      return refuse(Error{ErrorCode::TooManyComponents,
                          std::to_string(vc.cert_.subkeys.size()) + " valid subkeys (limit " +
                              std::to_string(policy.max_subkeys) + ")"});
    }

    // The primary user ID: the newest non-revoked one that claims to be
    // primary; else the first non-revoked one.
    std::optional<std::size_t> primary_uid;
    std::uint32_t best = 0;
    for (std::size_t i = 0; i < vc.user_ids_.size(); ++i) {
      auto& st = vc.user_ids_[i];
      if (st.revocation || !st.primary) {
        continue;
      }
      const Signature* cert = newest(vc.cert_.user_ids[i].signatures, [&](const Signature& s) {
        return is_certification(s.type) && s.issued_by(primary);
      });
      std::uint32_t t = cert ? cert->created.value_or(0) : 0;
      if (!primary_uid || t > best) {
        primary_uid = i;
        best = t;
      }
    }
    for (std::size_t i = 0; !primary_uid && i < vc.user_ids_.size(); ++i) {
      if (!vc.user_ids_[i].revocation) {
        primary_uid = i;
      }
    }
    for (std::size_t i = 0; i < vc.user_ids_.size(); ++i) {
      vc.user_ids_[i].primary = primary_uid && *primary_uid == i;
    }
    const Signature* key_sig = direct_key;
    if (!key_sig || !key_sig->key_expires_after) {
      if (primary_uid) {
        const Signature* uid_sig =
            newest(vc.cert_.user_ids[*primary_uid].signatures, [&](const Signature& s) {
              return is_certification(s.type) && (!s.has_issuer() || s.issued_by(primary));
            });
        if (uid_sig && (!key_sig || uid_sig->key_expires_after)) {
          key_sig = uid_sig;
        }
      }
    }
    vc.primary_.expires = expiry(primary, key_sig);
    vc.primary_.flags = key_sig ? key_sig->key_flags : std::nullopt;
    if (key_rev) {
      vc.primary_.revocation = revocation_of(*key_rev);
    }
    vc.bytes_ = serialize(vc.cert_);
    vc.memo_ = std::move(found);
    std::size_t size = vc.bytes_.size();
    if (size > policy.max_cert_bytes) {
      return refuse(Error{ErrorCode::CertificateTooLarge,
                          "certificate of " + std::to_string(size) +
                              " octets after stripping exceeds the limit of " +
                              std::to_string(policy.max_cert_bytes)});
    }
    out.cert = std::move(vc);
    return out;
  }
};

Verification verify(Certificate cert, const Policy& policy, std::uint64_t now,
                    std::optional<crypto::Backend> backend) {
  return Verifier::run<VerifiedCertificate>(std::move(cert), policy, now, backend);
}

Verification verify(Certificate cert, const Policy& policy, std::uint64_t now,
                    const SignatureMemo& known) {
  return Verifier::run<VerifiedCertificate>(std::move(cert), policy, now, std::nullopt, &known);
}

void SignatureMemo::add(const Key& k) {
  auto it = std::lower_bound(keys_.begin(), keys_.end(), k);
  if (it == keys_.end() || *it != k) {
    keys_.insert(it, k);
  }
}

void SignatureMemo::merge(const SignatureMemo& other) {
  std::vector<Key> all;
  all.reserve(keys_.size() + other.keys_.size());
  std::set_union(keys_.begin(), keys_.end(), other.keys_.begin(), other.keys_.end(),
                 std::back_inserter(all));
  keys_ = std::move(all);
}

bool SignatureMemo::contains(const Key& k) const {
  return std::binary_search(keys_.begin(), keys_.end(), k);
}

StoredSummary summarize_stored(const Certificate& cert, const Policy& policy, std::uint64_t now) {
  return Verifier::run<StoredCertificate>(cert, policy, now, std::nullopt);
}

Result<std::vector<Verification>> verify_input(ByteView input, const Policy& policy,
                                               std::uint64_t now, std::size_t max_input,
                                               std::size_t max_certs) {
  KEYDIR_TRY(Bytes binary, decode_key_input(input, max_input));
  ParseOptions options;
  options.max_certs = max_certs;
  KEYDIR_TRY(auto parsed, parse_certificates(binary, options));
  std::vector<Verification> out;
  out.reserve(parsed.size());
  for (auto& p : parsed) {
    if (!p.cert) {
      Verification v;
      v.fingerprint = p.fingerprint;
      v.refusal = p.cert.error();
      out.push_back(std::move(v));
      continue;
    }
    out.push_back(
        Verifier::run<VerifiedCertificate>(std::move(*p.cert), policy, now, std::nullopt));
  }
  return out;
}

}  // namespace keydir::openpgp
