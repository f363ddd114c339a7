#include "service/key_directory.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include "openpgp/canonical.hpp"
#include "openpgp/crypto/hash.hpp"
#include "openpgp/crypto/primitives.hpp"
#include "openpgp/packet_reader.hpp"
#include "tlog/entry.hpp"

namespace keydir::service {

using openpgp::VerifiedCertificate;

std::string_view outcome_name(Outcome o) {
  switch (o) {
    case Outcome::New:
      return "new";
    case Outcome::Updated:
      return "updated";
    case Outcome::Unchanged:
      return "unchanged";
  }
  return "unchanged";
}

std::string_view mode_name(PublishMode m) {
  switch (m) {
    case PublishMode::Open:
      return "open";
    case PublishMode::Verified:
      return "verified";
    case PublishMode::Managed:
      return "managed";
  }
  return "open";
}

std::optional<PublishMode> parse_mode(std::string_view name) {
  for (auto m : {PublishMode::Open, PublishMode::Verified, PublishMode::Managed}) {
    if (mode_name(m) == name) {
      return m;
    }
  }
  return std::nullopt;
}

std::string describe(const ModeSetting& m) {
  std::string out(mode_name(m.mode));
  if (m.mode == PublishMode::Managed) {
    out += " (";
    for (std::size_t i = 0; i < m.managed_domains.size(); ++i) {
      out += (i ? ", " : "") + m.managed_domains[i];
    }
    out += ")";
  }
  return out;
}

namespace {
std::string domain_list(const ModeSetting& m) {
  std::string out;
  for (std::size_t i = 0; i < m.managed_domains.size(); ++i) {
    out += (i ? ", " : "") + m.managed_domains[i];
  }
  return out;
}
}  // namespace

namespace {
Publication classify(std::string_view domain, bool published, bool revoked, const ModeSetting& mode,
                     bool by_token) {
  if (revoked) {
    return Publication::Revoked;
  }
  if (mode.mode == PublishMode::Open || published) {
    return Publication::Published;
  }
  if (mode.mode == PublishMode::Managed &&
      std::find(mode.managed_domains.begin(), mode.managed_domains.end(), domain) ==
          mode.managed_domains.end()) {
    return Publication::OutsideDomains;
  }
  return mode.mode == PublishMode::Managed && by_token ? Publication::OperatorsOnly
                                                       : Publication::AwaitsConfirmation;
}
}  // namespace

std::string withheld_reason(Publication why, const ModeSetting& mode, bool uploads_by_token) {
  switch (why) {
    case Publication::Published:
      return "";
    case Publication::AwaitsConfirmation:
      return "awaits its owner's confirmation by e-mail";
    case Publication::OutsideDomains:
      return "outside the domains this directory serves (" + domain_list(mode) + ")";
    case Publication::OperatorsOnly:
      return "only this directory's operators publish addresses here";
    case Publication::Revoked:
      return "its user ID is revoked";
  }
  (void)uploads_by_token;
  return "";
}

std::string public_view_note(const ModeSetting& mode, bool uploads_by_token) {
  switch (mode.mode) {
    case PublishMode::Open:
      return "";
    case PublishMode::Verified:
      return "only user IDs whose owners confirmed their addresses by e-mail";
    case PublishMode::Managed:
      return "only user IDs with addresses at " + domain_list(mode) +
             (uploads_by_token ? " that this directory's operators published"
                               : " that this directory's operators published or their owners "
                                 "confirmed by e-mail");
  }
  return "";
}

std::string KeyDirectory::withheld_reason(Publication why) const {
  return service::withheld_reason(why, mode_setting(), options_.managed_uploads_by_token);
}

std::string KeyDirectory::public_view_note() const {
  return service::public_view_note(mode_setting(), options_.managed_uploads_by_token);
}

std::vector<AddressReport> KeyDirectory::address_reports(const openpgp::CertificateStates& vc,
                                                         const std::vector<std::string>& published,
                                                         const ModeSetting& mode) const {
  std::vector<AddressReport> out;
  const bool by_token = options_.managed_uploads_by_token;
  for (const auto& st : vc.user_id_states()) {
    if (!st.email) {
      continue;
    }
    const std::string& a = st.email->address();
    const bool published_here = std::find(published.begin(), published.end(), a) != published.end();
    const Publication p =
        classify(st.email->domain(), published_here, st.revocation.has_value(), mode, by_token);
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const AddressReport& r) { return r.address == a; });
    if (it == out.end()) {
      out.push_back(AddressReport{a, p, ""});
    } else if (it->state == Publication::Revoked) {
      it->state = p;  // a revoked user ID never hides the same address on a current one
    }
  }
  for (auto& r : out) {
    r.reason = service::withheld_reason(r.state, mode, by_token);
  }
  return out;
}

namespace {
constexpr std::string_view kModeSetting = "mode";
constexpr std::string_view kDomainsSetting = "managed-domains";
constexpr std::string_view kModeChangeSetting = "mode-change";

bool in_domains(std::string_view address, const std::vector<std::string>& domains) {
  auto at = address.rfind('@');
  auto domain = at == std::string_view::npos ? std::string_view() : address.substr(at + 1);
  return std::find(domains.begin(), domains.end(), domain) != domains.end();
}
}  // namespace

Result<std::optional<ModeSetting>> stored_mode(const storage::KeyStore& store) {
  KEYDIR_TRY(auto name, store.setting(kModeSetting));
  if (!name) {
    return std::optional<ModeSetting>{};
  }
  auto mode = parse_mode(*name);
  if (!mode) {
    return fail(ErrorCode::StorageCorruption, "the store records an unknown mode: " + *name);
  }
  ModeSetting m;
  m.mode = *mode;
  KEYDIR_TRY(auto domains, store.setting(kDomainsSetting));
  if (domains) {
    std::string_view rest = *domains;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      m.managed_domains.emplace_back(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  return std::optional<ModeSetting>(std::move(m));
}

Result<void> record_mode(storage::KeyStore& store, const ModeSetting& m) {
  std::string domains;
  for (const auto& d : m.managed_domains) {
    domains += (domains.empty() ? "" : ",") + d;
  }
  KEYDIR_CHECK(store.put_setting(kDomainsSetting, m.mode == PublishMode::Managed ? domains : ""));
  return store.put_setting(kModeSetting, mode_name(m.mode));
}

Clock system_clock() {
  return [] {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  };
}

KeyDirectory::KeyDirectory(storage::KeyStore& store, DirectoryOptions options, Clock clock)
    : store_(store),
      options_(std::move(options)),
      clock_(std::move(clock)),
      mode_(options_.mode),
      managed_domains_(options_.managed_domains) {}

ModeSetting KeyDirectory::mode_setting() const {
  std::lock_guard lock(mode_mutex_);
  return ModeSetting{
      mode(), mode() == PublishMode::Managed ? managed_domains_ : std::vector<std::string>{}};
}

std::size_t KeyDirectory::stripe_of(const Fingerprint& f) const {
  return (std::size_t{f.bytes()[0]} << 8 | f.bytes()[1]) % stripes_.size();
}

void KeyDirectory::lock_stripes(const std::vector<Fingerprint>& fprs,
                                std::vector<std::unique_lock<std::mutex>>& locks) {
  std::set<std::size_t> stripes;
  for (const auto& f : fprs) {
    stripes.insert(stripe_of(f));
  }
  for (auto s : stripes) {
    locks.emplace_back(stripes_[s]);
  }
}

std::vector<std::string> user_id_words(std::string_view user_id) {
  constexpr std::size_t kMinWord = 2;
  constexpr std::size_t kMaxWord = 64;
  constexpr std::size_t kMaxWords = 32;
  std::vector<std::string> out;
  std::string word;
  auto flush = [&] {
    if (word.size() >= kMinWord && word.size() <= kMaxWord && out.size() < kMaxWords &&
        std::find(out.begin(), out.end(), word) == out.end()) {
      out.push_back(word);
    }
    word.clear();
  };
  for (char c : user_id) {
    auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || u >= 0x80) {
      word.push_back(c);
    } else if (c >= 'A' && c <= 'Z') {
      word.push_back(static_cast<char>(c - 'A' + 'a'));
    } else {
      flush();
    }
  }
  flush();
  return out;
}

bool can_be_primary(openpgp::PublicKeyAlgorithm algorithm) {
  using A = openpgp::PublicKeyAlgorithm;
  switch (algorithm) {
    case A::RsaEncryptOnly:
    case A::ElGamalEncryptOnly:
    case A::Ecdh:
    case A::X25519:
    case A::X448:
      return false;
    default:
      return true;  // signing algorithms, and any we do not know
  }
}

bool proves_possession(const openpgp::KeyState& subkey) {
  // verify() keeps a signing or certifying binding only with a valid
  // back-signature made by the subkey itself (RFC 9580 §5.2.1, 0x18).
  return subkey.flags && (*subkey.flags & (openpgp::kFlagSign | openpgp::kFlagCertify)) != 0;
}

storage::IndexSet KeyDirectory::index_of(const openpgp::CertificateStates& vc,
                                         const std::vector<std::string>* published) {
  storage::IndexSet idx;
  const auto& c = vc.cert();
  idx.fingerprints.push_back(c.primary.fingerprint);
  idx.key_ids.push_back(c.primary.key_id);
  for (std::size_t i = 0; i < c.subkeys.size(); ++i) {
    const auto& key = c.subkeys[i].key;
    if (!proves_possession(vc.subkey_states()[i])) {
      // Bound by this certificate alone. A key of an algorithm that can sign
      // might be somebody's primary key, not yet (or never) uploaded here:
      // such a subkey is found by no fingerprint or key ID (as on
      // keys.openpgp.org). An encryption-only key can be no primary key.
      if (!can_be_primary(key.algorithm)) {
        idx.weak_subkeys.push_back(key.fingerprint);
      }
      continue;
    }
    idx.fingerprints.push_back(key.fingerprint);
    if (std::find(idx.key_ids.begin(), idx.key_ids.end(), key.key_id) == idx.key_ids.end()) {
      idx.key_ids.push_back(key.key_id);
    }
  }
  constexpr std::size_t kMaxWordsPerCert = 256;
  for (std::size_t i = 0; i < c.user_ids.size(); ++i) {
    const auto& st = vc.user_id_states()[i];
    if (st.revocation) {
      continue;  // a revoked user ID is served with the key, but not found by
    }
    if (published && (!st.email || std::find(published->begin(), published->end(),
                                             st.email->address()) == published->end())) {
      continue;  // not (yet) confirmed by the owner of the address
    }
    if (st.email &&
        std::find(idx.emails.begin(), idx.emails.end(), st.email->address()) == idx.emails.end()) {
      idx.emails.push_back(st.email->address());
      idx.wkd.push_back(openpgp::WkdHash::of(*st.email));
    }
    for (auto& w : user_id_words(as_chars(c.user_ids[i].body))) {
      if (idx.words.size() < kMaxWordsPerCert &&
          std::find(idx.words.begin(), idx.words.end(), w) == idx.words.end()) {
        idx.words.push_back(std::move(w));
      }
    }
  }
  idx.sks_hash = openpgp::sks_digest(c);
  return idx;
}

Result<storage::IndexSet> KeyDirectory::index_for(const openpgp::CertificateStates& vc) const {
  if (mode() == PublishMode::Open) {
    return index_of(vc);
  }
  KEYDIR_TRY(auto published, store_.published(vc.fingerprint()));
  return index_of(vc, &published);
}

std::vector<std::string> KeyDirectory::publishable_addresses(
    const openpgp::CertificateStates& vc) const {
  std::vector<std::string> out;
  const ModeSetting m = mode_setting();
  for (const auto& st : vc.user_id_states()) {
    if (!st.email || st.revocation) {
      continue;
    }
    const std::string& a = st.email->address();
    if (m.mode == PublishMode::Managed &&
        std::find(m.managed_domains.begin(), m.managed_domains.end(), st.email->domain()) ==
            m.managed_domains.end()) {
      continue;
    }
    if (std::find(out.begin(), out.end(), a) == out.end()) {
      out.push_back(a);
    }
  }
  return out;
}

std::vector<std::unique_lock<std::mutex>> KeyDirectory::lock_keys(
    const std::vector<VerifiedCertificate>& certs) {
  // Stripes of every fingerprint involved, taken in ascending order so two
  // writers can never wait for each other.
  std::set<std::size_t> stripes;
  auto add = [&](const Fingerprint& f) {
    stripes.insert((std::size_t{f.bytes()[0]} << 8 | f.bytes()[1]) % stripes_.size());
  };
  for (const auto& vc : certs) {
    add(vc.fingerprint());
    for (const auto& s : vc.cert().subkeys) {
      add(s.key.fingerprint);
    }
  }
  std::vector<std::unique_lock<std::mutex>> locks;
  locks.reserve(stripes.size());
  for (auto s : stripes) {
    locks.emplace_back(stripes_[s]);
  }
  return locks;
}

namespace {

// verify a merged certificate: the signatures of its parts (`known`) are not
// checked again, the ones new to it are, and the policy is applied to all.
Result<VerifiedCertificate> reverify(const openpgp::Certificate& cert,
                                     const openpgp::Policy& policy, std::uint64_t now,
                                     const openpgp::SignatureMemo& known) {
  auto v = openpgp::verify(cert, policy, now, known);
  if (!v.accepted()) {
    return tl::unexpected(*v.refusal);
  }
  return std::move(*v.cert);
}

Result<openpgp::Certificate> parse_stored(const storage::CertRecord& rec) {
  KEYDIR_TRY(auto certs, openpgp::parse_certificates(rec.cert));
  if (certs.size() != 1 || !certs.front().cert) {
    return fail(ErrorCode::StorageCorruption,
                "stored certificate " + rec.fingerprint.to_hex() + " does not parse");
  }
  return std::move(*certs.front().cert);
}

}  // namespace

std::vector<Result<Stored>> KeyDirectory::store(std::vector<VerifiedCertificate> certs,
                                                std::vector<std::vector<openpgp::Finding>> stripped,
                                                bool operator_upload) {
  stripped.resize(certs.size());
  std::vector<Result<Stored>> results(certs.size(), fail(ErrorCode::Internal, "not stored"));
  const std::uint64_t now = clock_();
  std::shared_lock mode_lock(mode_flip_);
  auto locks = lock_keys(certs);

  // Certificates of one batch with the same primary key are merged first.
  std::map<Fingerprint, std::size_t> first_of;
  std::vector<std::optional<VerifiedCertificate>> work(certs.size());
  for (std::size_t i = 0; i < certs.size(); ++i) {
    auto [it, inserted] = first_of.try_emplace(certs[i].fingerprint(), i);
    if (inserted) {
      work[i] = std::move(certs[i]);
      continue;
    }
    auto& into = *work[it->second];
    auto merged = openpgp::merge(into.cert(), certs[i].cert());
    openpgp::SignatureMemo known = into.memo();
    known.merge(certs[i].memo());
    auto again = merged ? reverify(*merged, options_.policy, now, known)
                        : Result<VerifiedCertificate>(tl::unexpected(merged.error()));
    if (again) {
      into = std::move(*again);
      results[i] = Stored{certs[i].fingerprint(), Outcome::Unchanged, std::move(stripped[i])};
    } else {
      results[i] = tl::unexpected(again.error());
    }
  }

  // Whether each address is published after the write, per certificate.
  const ModeSetting setting = mode_setting();
  std::vector<std::vector<AddressReport>> reports(work.size());
  std::vector<storage::Write> writes;
  std::vector<std::size_t> write_owner;
  for (std::size_t i = 0; i < work.size(); ++i) {
    if (!work[i]) {
      continue;
    }
    VerifiedCertificate& vc = *work[i];
    const Fingerprint primary = vc.fingerprint();
    auto result = [&]() -> Result<std::optional<storage::Write>> {
      // A key that other certificates also carry never blocks an upload:
      // lookups decide between the claims (storage::Query).
      KEYDIR_TRY(auto old, store_.get(primary));
      if (!old) {
        KEYDIR_TRY(auto tomb, store_.tombstone(primary));
        if (tomb && !options_.allow_tombstoned) {
          return fail(ErrorCode::Tombstoned,
                      "this key was deleted from the directory (" + tomb->reason +
                          "); it comes back only when its owner or the operator allows it");
        }
      }
      Bytes cert_bytes = vc.to_bytes();
      Bytes digest = *openpgp::crypto::digest(openpgp::HashAlgorithm::Sha256, cert_bytes);
      // An operator's upload (Managed mode) publishes its domains' addresses.
      std::vector<std::string> newly_published;
      std::vector<std::string> published;
      const PublishMode mode = setting.mode;
      if (mode != PublishMode::Open) {
        KEYDIR_TRY(published, store_.published(primary));
        if (operator_upload) {
          for (auto& a : publishable_addresses(vc)) {
            if (std::find(published.begin(), published.end(), a) == published.end()) {
              published.push_back(a);
              newly_published.push_back(std::move(a));
            }
          }
        }
      }
      if (old && old->digest == digest && newly_published.empty()) {
        reports[i] = address_reports(vc, published, setting);
        return std::optional<storage::Write>{};
      }
      if (old) {
        KEYDIR_TRY(auto stored_cert, parse_stored(*old));
        KEYDIR_TRY(auto merged, openpgp::merge(stored_cert, vc.cert()));
        // The stored signatures were verified when they were stored, the
        // uploaded ones just now: each signature is verified once.
        openpgp::SignatureMemo known = vc.memo();
        if (auto stored = openpgp::summarize_stored(stored_cert, options_.policy, now);
            stored.accepted()) {
          known.merge(stored.cert->memo());
        }
        KEYDIR_TRY(vc, reverify(merged, options_.policy, now, known));
        cert_bytes = vc.to_bytes();
        digest = *openpgp::crypto::digest(openpgp::HashAlgorithm::Sha256, cert_bytes);
        if (digest == old->digest && newly_published.empty()) {
          reports[i] = address_reports(vc, published, setting);
          return std::optional<storage::Write>{};
        }
      }
      storage::Write w;
      w.record.fingerprint = primary;
      w.record.digest = std::move(digest);
      w.record.cert = std::move(cert_bytes);
      w.record.index = mode == PublishMode::Open ? index_of(vc) : index_of(vc, &published);
      reports[i] = address_reports(vc, published, setting);
      w.publish = std::move(newly_published);
      if (old) {
        w.record.first_seen = old->first_seen;
        w.previous = std::move(old->index);
      }
      return std::optional<storage::Write>(std::move(w));
    }();
    if (!result) {
      results[i] = tl::unexpected(result.error());
      continue;
    }
    if (!*result) {
      results[i] = Stored{primary, Outcome::Unchanged, std::move(stripped[i])};
      continue;
    }
    Outcome o = (*result)->previous ? Outcome::Updated : Outcome::New;
    results[i] = Stored{primary, o, std::move(stripped[i])};
    writes.push_back(std::move(**result));
    write_owner.push_back(i);
  }
  if (!writes.empty()) {
    auto applied = apply_logged(writes, now);
    if (!applied) {
      for (auto i : write_owner) {
        results[i] = tl::unexpected(applied.error());
      }
    }
  }
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (results[i]) {
      // A certificate given twice in one batch: the report of the first.
      results[i]->publication = reports[first_of.at(results[i]->fingerprint)];
    }
  }
  return results;
}

std::optional<Result<UploadReport>> KeyDirectory::upload_revocations(ByteView input) {
  auto binary = openpgp::decode_key_input(input, options_.max_upload_bytes);
  if (!binary) {
    return std::nullopt;
  }
  std::vector<openpgp::Signature> sigs;
  openpgp::PacketReader reader(*binary);
  while (true) {
    auto p = reader.next();
    if (!p) {
      return std::nullopt;
    }
    if (!*p) {
      break;
    }
    if ((*p)->tag != static_cast<std::uint8_t>(openpgp::PacketTag::Signature) ||
        sigs.size() >= options_.max_certs_per_upload) {
      return std::nullopt;
    }
    auto sig = openpgp::parse_signature((*p)->body);
    if (!sig) {
      return Result<UploadReport>(tl::unexpected(sig.error()));
    }
    sigs.push_back(std::move(*sig));
  }
  if (sigs.empty()) {
    return std::nullopt;
  }
  UploadReport report;
  std::vector<VerifiedCertificate> accepted;
  const auto now = clock_();
  for (auto& sig : sigs) {
    auto refuse = [&](std::optional<Fingerprint> f, ErrorCode code, std::string why) {
      report.refused.push_back(Refused{f, Error{code, std::move(why)}, {}});
    };
    if (sig.type != openpgp::SignatureType::KeyRevocation) {
      refuse(std::nullopt, ErrorCode::NoCertificate,
             "a signature without its key: only key revocations can be uploaded alone");
      continue;
    }
    // The key it revokes: by issuer fingerprint, else by a unique key ID.
    std::optional<storage::CertRecord> target;
    for (const auto& f : sig.issuer_fingerprints) {
      auto rec = store_.get(f);
      if (rec && *rec) {
        target = std::move(**rec);
        break;
      }
    }
    for (const auto& k : sig.issuer_key_ids) {
      if (target) {
        break;
      }
      auto recs = store_.lookup(storage::Query{storage::Query::ByKeyId{k}}, 2);
      if (recs && recs->size() == 1) {
        target = std::move(recs->front());
      }
    }
    if (!target) {
      refuse(std::nullopt, ErrorCode::NotFound, "no stored key for this revocation certificate");
      continue;
    }
    auto cert = parse_stored(*target);
    if (!cert) {
      refuse(target->fingerprint, cert.error().code, cert.error().detail);
      continue;
    }
    cert->direct_signatures.push_back(std::move(sig));
    auto v = openpgp::verify(*cert, options_.policy, now);
    if (!v.accepted() || !v.cert->revoked()) {
      refuse(target->fingerprint, ErrorCode::BadSignature,
             "the revocation certificate does not verify against the stored key");
      continue;
    }
    accepted.push_back(std::move(*v.cert));
  }
  auto results = store(std::move(accepted));
  for (auto& r : results) {
    if (r) {
      report.stored.push_back(std::move(*r));
    } else {
      report.refused.push_back(Refused{std::nullopt, r.error(), {}});
    }
  }
  return Result<UploadReport>(std::move(report));
}

Result<UploadReport> KeyDirectory::upload(ByteView input, bool operator_upload) {
  auto checked = openpgp::verify_input(input, options_.policy, clock_(), options_.max_upload_bytes,
                                       options_.max_certs_per_upload);
  if (!checked && checked.error().code == ErrorCode::NoCertificate) {
    if (auto revocations = upload_revocations(input)) {
      return std::move(*revocations);
    }
  }
  KEYDIR_TRY(auto verified, std::move(checked));
  UploadReport report;
  std::vector<VerifiedCertificate> accepted;
  std::vector<std::vector<openpgp::Finding>> stripped;
  for (auto& v : verified) {
    if (v.accepted()) {
      accepted.push_back(std::move(*v.cert));
      stripped.push_back(std::move(v.stripped));
    } else {
      report.refused.push_back(Refused{v.fingerprint, *v.refusal, std::move(v.stripped)});
    }
  }
  std::vector<Fingerprint> fprs;
  // What each upload held, before the merge adds what the store had.
  std::vector<std::vector<std::string>> addresses;
  std::vector<std::size_t> without_address;
  for (const auto& a : accepted) {
    fprs.push_back(a.fingerprint());
    auto& held = addresses.emplace_back();
    auto& unaddressed = without_address.emplace_back(0);
    for (const auto& st : a.user_id_states()) {
      if (!st.email && !st.revocation && mode() != PublishMode::Open) {
        ++unaddressed;
      }
      if (st.email && std::find(held.begin(), held.end(), st.email->address()) == held.end()) {
        held.push_back(st.email->address());
      }
    }
  }
  auto results = store(std::move(accepted), std::move(stripped), operator_upload);
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (results[i]) {
      Stored& st = report.stored.emplace_back(std::move(*results[i]));
      st.addresses = std::move(addresses[i]);
      // What this upload held, in its order: the stored certificate may
      // have more, which the uploader need not know.
      std::vector<AddressReport> held;
      for (const auto& a : st.addresses) {
        auto it = std::find_if(st.publication.begin(), st.publication.end(),
                               [&](const AddressReport& r) { return r.address == a; });
        if (it != st.publication.end()) {
          held.push_back(*it);
          continue;
        }
        // Not in the stored certificate's report (never for a consistent
        // store): what the mode says of an unpublished address.
        const ModeSetting m = mode_setting();
        const Publication p = classify(a.substr(a.rfind('@') + 1), false, false, m,
                                       options_.managed_uploads_by_token);
        held.push_back(AddressReport{a, p, withheld_reason(p)});
      }
      st.publication = std::move(held);
      st.withheld_without_address = without_address[i];
    } else {
      report.refused.push_back(Refused{fprs[i], results[i].error(), {}});
    }
  }
  return report;
}

std::uint64_t KeyDirectory::generation() const {
  return store_.generation();
}

Result<storage::StoreStats> KeyDirectory::stats() const {
  return store_.stats();
}

Result<std::vector<std::string>> KeyDirectory::published(const Fingerprint& fpr) const {
  return store_.published(fpr);
}

Result<std::vector<storage::CertRecord>> KeyDirectory::lookup(const storage::Query& query,
                                                              std::size_t limit) const {
  return lookup_view(query, limit, false);
}

Result<std::vector<storage::CertRecord>> KeyDirectory::lookup_published(const storage::Query& query,
                                                                        std::size_t limit) const {
  return lookup_view(query, limit, true);
}

Result<std::vector<storage::CertRecord>> KeyDirectory::lookup_view(const storage::Query& query,
                                                                   std::size_t limit,
                                                                   bool whole) const {
  if (mode() == PublishMode::Open) {
    return store_.lookup(query, limit);
  }
  // Exact matches only: no enumeration by name or domain fragments.
  if (std::holds_alternative<storage::Query::ByWords>(query.what)) {
    return std::vector<storage::CertRecord>{};
  }
  KEYDIR_TRY(auto records, store_.lookup(query, limit));
  const auto* by_email = std::get_if<storage::Query::ByEmail>(&query.what);
  std::vector<storage::CertRecord> out;
  out.reserve(records.size());
  for (auto& rec : records) {
    std::size_t kept = 0;
    KEYDIR_TRY(rec.cert, public_view(rec, by_email ? &by_email->address : nullptr, &kept));
    if (by_email && kept == 0) {
      continue;
    }
    if (whole && by_email) {
      KEYDIR_TRY(rec.cert, public_view(rec));
    }
    out.push_back(std::move(rec));
  }
  return out;
}

Result<Bytes> KeyDirectory::public_view(const storage::CertRecord& rec, const std::string* by_email,
                                        std::size_t* kept) const {
  if (mode() == PublishMode::Open) {
    if (kept) {
      *kept = 1;  // not counted: nothing is reduced
    }
    return rec.cert;
  }
  KEYDIR_TRY(auto published, store_.published(rec.fingerprint));
  return view_with(rec, published, by_email, kept);
}

Result<Bytes> KeyDirectory::view_with(const storage::CertRecord& rec,
                                      const std::vector<std::string>& published,
                                      const std::string* by_email, std::size_t* kept) const {
  KEYDIR_TRY(auto cert, parse_stored(rec));
  bool hidden = !cert.user_attributes.empty();
  auto view = openpgp::with_user_ids(cert, [&](std::size_t, const openpgp::UserIdBundle& u) {
    auto email = openpgp::Email::from_user_id(as_chars(u.body));
    bool keep =
        email &&
        std::find(published.begin(), published.end(), email->address()) != published.end() &&
        (!by_email || email->address() == *by_email);
    hidden = hidden || !keep;
    if (kept && keep) {
      ++*kept;
    }
    return keep;
  });
  return hidden ? openpgp::serialize(view) : rec.cert;
}

Result<openpgp::StoredCertificate> KeyDirectory::stored_summary(const Fingerprint& fpr) const {
  KEYDIR_TRY(auto rec, store_.get(fpr));
  if (!rec) {
    return fail(ErrorCode::NotFound, "no certificate " + fpr.to_hex());
  }
  auto vc = summarize(*rec);
  if (!vc) {
    return fail(ErrorCode::StorageCorruption,
                "stored certificate " + fpr.to_hex() + " does not parse");
  }
  return std::move(*vc);
}

Result<void> KeyDirectory::set_published(const Fingerprint& fpr,
                                         const std::vector<std::string>& add,
                                         const std::vector<std::string>& remove,
                                         std::optional<Bytes> consume_token) {
  std::shared_lock mode_lock(mode_flip_);
  std::lock_guard lock(stripes_[stripe_of(fpr)]);
  KEYDIR_TRY(auto rec, store_.get(fpr));
  if (!rec) {
    return fail(ErrorCode::NotFound, "no certificate " + fpr.to_hex());
  }
  auto vc = summarize(*rec);
  if (!vc) {
    return fail(ErrorCode::StorageCorruption,
                "stored certificate " + fpr.to_hex() + " does not parse");
  }
  if (!add.empty()) {
    const auto allowed = publishable_addresses(*vc);
    for (const auto& a : add) {
      if (std::find(allowed.begin(), allowed.end(), a) == allowed.end()) {
        return fail(ErrorCode::TokenInvalid,
                    a + " cannot be published on this key in this directory's mode");
      }
    }
  }
  KEYDIR_TRY(auto published, store_.published(fpr));
  storage::Write w;
  for (const auto& a : add) {
    if (std::find(published.begin(), published.end(), a) == published.end()) {
      published.push_back(a);
      w.publish.push_back(a);
    }
  }
  for (const auto& a : remove) {
    auto it = std::find(published.begin(), published.end(), a);
    if (it != published.end()) {
      published.erase(it);
      w.unpublish.push_back(a);
    }
  }
  w.consume_token = std::move(consume_token);
  w.previous = rec->index;
  w.record = std::move(*rec);
  w.record.index = mode() == PublishMode::Open ? index_of(*vc) : index_of(*vc, &published);
  std::vector<storage::Write> writes;
  writes.push_back(std::move(w));
  KEYDIR_TRY(auto seqs, apply_logged(writes, clock_()));
  (void)seqs;
  return {};
}

std::optional<openpgp::StoredCertificate> KeyDirectory::summarize(
    const storage::CertRecord& rec) const {
  auto parsed = openpgp::parse_certificates(rec.cert);
  if (!parsed || parsed->size() != 1 || !parsed->front().cert) {
    return std::nullopt;
  }
  // Stored certificates were verified on the way in: their states are needed,
  // not the signature checks again.
  auto v = openpgp::summarize_stored(*parsed->front().cert, options_.policy, clock_());
  if (!v.accepted()) {
    return std::nullopt;
  }
  return std::move(*v.cert);
}

Result<std::uint64_t> KeyDirectory::rewrite_all(const Reindexer& fresh) {
  constexpr std::size_t kBatch = 256;
  std::vector<Fingerprint> pending;
  std::uint64_t rewritten = 0;
  Result<void> failed;
  // Each batch is read again and written under its certificates' locks, so
  // an upload or a publication between the walk and the write is never
  // overwritten with an older version.
  auto flush = [&]() -> Result<void> {
    if (pending.empty()) {
      return {};
    }
    std::vector<std::unique_lock<std::mutex>> locks;
    lock_stripes(pending, locks);
    std::vector<storage::Write> batch;
    for (const auto& fpr : pending) {
      KEYDIR_TRY(auto rec, store_.get(fpr));
      if (!rec) {
        continue;  // deleted meanwhile
      }
      auto vc = summarize(*rec);
      if (!vc) {
        return fail(ErrorCode::StorageCorruption,
                    "stored certificate " + fpr.to_hex() + " does not parse");
      }
      KEYDIR_TRY(auto w, fresh(*rec, *vc));
      if (w) {
        batch.push_back(std::move(*w));
      }
    }
    pending.clear();
    if (!batch.empty()) {
      KEYDIR_TRY(auto seqs, apply_logged(batch, clock_()));
      rewritten += seqs.size();
    }
    return {};
  };
  // Writes go to certificates already visited: the iteration's snapshot is
  // not disturbed by them.
  auto walked = store_.for_each([&](const storage::CertRecord& rec) {
    pending.push_back(rec.fingerprint);
    if (pending.size() >= kBatch) {
      failed = flush();
    }
    return static_cast<bool>(failed);
  });
  KEYDIR_CHECK(walked);
  KEYDIR_CHECK(failed);
  KEYDIR_CHECK(flush());
  return rewritten;
}

Result<std::uint64_t> KeyDirectory::reindex_claims() {
  return rewrite_all(
      [](const storage::CertRecord& rec,
         const openpgp::CertificateStates& vc) -> Result<std::optional<storage::Write>> {
        const auto fresh = index_of(vc);
        if (fresh.fingerprints == rec.index.fingerprints && fresh.key_ids == rec.index.key_ids &&
            fresh.weak_subkeys == rec.index.weak_subkeys) {
          return std::optional<storage::Write>{};
        }
        storage::Write w;
        w.record = rec;
        w.record.index.fingerprints = fresh.fingerprints;
        w.record.index.key_ids = fresh.key_ids;
        w.record.index.weak_subkeys = fresh.weak_subkeys;
        w.previous = rec.index;
        w.keep_times = true;
        return std::optional<storage::Write>(std::move(w));
      });
}

Result<bool> KeyDirectory::logged_form_is(const storage::CertRecord& rec, PublishMode mode,
                                          const std::vector<std::string>& published) const {
  auto at = store_.log_index(rec.fingerprint);
  if (!at && at.error().code == ErrorCode::UnsupportedOperation) {
    return true;  // a store without a log
  }
  KEYDIR_CHECK(at);
  if (!*at) {
    // Not logged yet: a log not started here (a dry run) or a backfill to
    // finish logs the form the mode then serves; a started log has an
    // entry for every certificate, and one without is written again.
    return !log_started_.load(std::memory_order_acquire);
  }
  KEYDIR_TRY(auto entries, store_.log_entries(**at, 1));
  if (entries.size() != 1) {
    return fail(ErrorCode::StorageCorruption,
                "the transparency log lacks entry " + std::to_string(**at));
  }
  KEYDIR_TRY(auto entry, tlog::Entry::decode(entries[0]));
  if (mode == PublishMode::Open) {
    return entry.digest == rec.digest;
  }
  KEYDIR_TRY(auto view, view_with(rec, published, nullptr, nullptr));
  return entry.digest == openpgp::crypto::sha256(view);
}

Result<ModeChange> KeyDirectory::set_mode(const ModeSetting& m, bool dry_run) {
  ModeChange change;
  auto fresh = [&](const storage::CertRecord& rec,
                   const openpgp::CertificateStates& vc) -> Result<std::optional<storage::Write>> {
    storage::IndexSet idx;
    std::vector<std::string> drop;
    std::vector<std::string> keep;  // published after the change
    if (m.mode == PublishMode::Open) {
      idx = index_of(vc);
    } else {
      KEYDIR_TRY(auto published, store_.published(rec.fingerprint));
      for (auto& a : published) {
        (m.mode == PublishMode::Managed && !in_domains(a, m.managed_domains) ? drop : keep)
            .push_back(std::move(a));
      }
      idx = index_of(vc, &keep);
    }
    for (const auto& e : idx.emails) {
      change.now_published +=
          std::find(rec.index.emails.begin(), rec.index.emails.end(), e) == rec.index.emails.end();
    }
    for (const auto& e : rec.index.emails) {
      change.withdrawn += std::find(idx.emails.begin(), idx.emails.end(), e) == idx.emails.end();
    }
    change.marks_removed += drop.size();
    if (idx == rec.index && drop.empty()) {
      // The same addresses can still be served in another form (verified
      // and managed mode hide user IDs without a published address, and
      // photos): the log gets an entry of the new form, or audits of the
      // certificate fail from now on.
      KEYDIR_TRY(const bool same, logged_form_is(rec, m.mode, keep));
      if (same) {
        return std::optional<storage::Write>{};
      }
    }
    ++change.certificates;
    storage::Write w;
    w.record = rec;
    w.record.index = std::move(idx);
    w.previous = rec.index;
    w.unpublish = std::move(drop);
    w.keep_times = true;
    return std::optional<storage::Write>(std::move(w));
  };
  if (dry_run) {
    Result<void> failed;
    KEYDIR_CHECK(store_.for_each([&](const storage::CertRecord& rec) {
      auto vc = summarize(rec);
      if (!vc) {
        failed = fail(ErrorCode::StorageCorruption,
                      "stored certificate " + rec.fingerprint.to_hex() + " does not parse");
        return false;
      }
      auto w = fresh(rec, *vc);
      if (!w) {
        failed = tl::unexpected(w.error());
      }
      return static_cast<bool>(failed);
    }));
    KEYDIR_CHECK(failed);
    return change;
  }
  std::lock_guard change_lock(mode_change_mutex_);
  // First the record (and a mark that the index is being rewritten), then
  // the mode lookups follow, then the index.
  {
    std::unique_lock flip(mode_flip_);
    KEYDIR_CHECK(store_.put_setting(kModeChangeSetting, "pending"));
    KEYDIR_CHECK(record_mode(store_, m));
    std::lock_guard lock(mode_mutex_);
    managed_domains_ = m.managed_domains;
    mode_.store(m.mode, std::memory_order_release);
  }
  // Confirmation links for addresses the managed mode cannot publish go.
  if (m.mode == PublishMode::Managed) {
    std::vector<Bytes> stale;
    KEYDIR_CHECK(store_.for_each_token([&](ByteView hash, const storage::VerifyToken& t) {
      if (t.kind == storage::VerifyToken::Kind::Verify && !in_domains(t.email, m.managed_domains)) {
        stale.emplace_back(hash.begin(), hash.end());
      }
      return true;
    }));
    for (const auto& h : stale) {
      KEYDIR_CHECK(store_.delete_token(h));
    }
  }
  // The log first (a store of a keydird before it, an interrupted
  // backfill): its backfill logs the new mode's forms, and the walk finds
  // them logged.
  KEYDIR_CHECK(start_log());
  KEYDIR_CHECK(rewrite_all(fresh));
  KEYDIR_CHECK(store_.put_setting(kModeChangeSetting, ""));
  return change;
}

Result<std::optional<ModeChange>> KeyDirectory::resume_mode_change() {
  KEYDIR_TRY(auto pending, store_.setting(kModeChangeSetting));
  if (!pending || pending->empty()) {
    return std::optional<ModeChange>{};
  }
  KEYDIR_TRY(auto m, stored_mode(store_));
  if (!m) {
    return fail(ErrorCode::StorageCorruption, "a mode change is pending but no mode is recorded");
  }
  KEYDIR_TRY(auto change, set_mode(*m));
  return std::optional<ModeChange>(change);
}

Result<void> KeyDirectory::remove(const Fingerprint& fpr, std::string reason) {
  std::lock_guard lock(stripes_[stripe_of(fpr)]);
  KEYDIR_TRY(auto rec, store_.get(fpr));
  if (!rec) {
    return fail(ErrorCode::NotFound, "no certificate " + fpr.to_hex());
  }
  KEYDIR_CHECK(start_log());
  return store_.remove(*rec, storage::Tombstone{clock_(), std::move(reason)});
}

Result<void> KeyDirectory::start_log() {
  if (log_started_.load(std::memory_order_acquire)) {
    return {};
  }
  std::lock_guard lock(log_start_mutex_);
  if (log_started_.load()) {
    return {};
  }
  auto scheme = store_.log_scheme();
  if (!scheme && scheme.error().code == ErrorCode::UnsupportedOperation) {
    log_started_ = true;  // a store without a log
    return {};
  }
  KEYDIR_CHECK(scheme);
  // The certificates stored before the log get their entries after the
  // header, in several batches: a marker set before the header and cleared
  // after the last batch makes an interrupted start finish the job (only
  // certificates without an entry are added then).
  constexpr std::string_view kBackfill = "log.backfill";
  KEYDIR_TRY(auto pending, store_.setting(kBackfill));
  const bool resume = *scheme && pending && *pending == "pending";
  if (!*scheme || resume) {
    if (!*scheme) {
      KEYDIR_CHECK(store_.put_setting(kBackfill, "pending"));
    }
    tlog::CommitmentScheme fresh;
    KEYDIR_TRY(fresh.salt, openpgp::crypto::random_bytes(tlog::kSaltBytes));
    if (mode() != PublishMode::Open) {
      // About 16 MiB and 40 ms a guess (docs/transparency.md, "Privacy").
      fresh.kind = tlog::CommitmentScheme::Kind::Scrypt;
      fresh.log2n = 14;
      fresh.r = 8;
      fresh.p = 1;
    }
    const std::uint64_t now = clock_();
    if (!resume) {
      KEYDIR_CHECK(store_.start_log(fresh, now));
    }
    // The certificates stored before the log: one entry each.
    std::vector<storage::LogItem> items;
    Result<void> failed;
    auto flush = [&]() -> Result<void> {
      if (!items.empty()) {
        KEYDIR_CHECK(store_.append_log(items, now));
        items.clear();
      }
      return {};
    };
    KEYDIR_CHECK(store_.for_each([&](const storage::CertRecord& rec) {
      if (resume) {
        auto logged = store_.log_index(rec.fingerprint);
        if (!logged) {
          failed = tl::unexpected(logged.error());
          return false;
        }
        if (*logged) {
          return true;  // entered before the interruption
        }
      }
      storage::LogItem item{rec.fingerprint, rec.seq, rec.digest, rec.index.emails};
      if (mode() != PublishMode::Open) {
        auto view = public_view(rec);
        if (!view) {
          failed = tl::unexpected(view.error());
          return false;
        }
        item.digest = openpgp::crypto::sha256(*view);
      }
      items.push_back(std::move(item));
      if (items.size() >= 10000) {
        failed = flush();
        return static_cast<bool>(failed);
      }
      return true;
    }));
    KEYDIR_CHECK(failed);
    KEYDIR_CHECK(flush());
    KEYDIR_CHECK(store_.put_setting(kBackfill, ""));
  }
  log_started_ = true;
  return {};
}

Result<std::vector<std::uint64_t>> KeyDirectory::apply_logged(std::vector<storage::Write>& writes,
                                                              std::uint64_t now) {
  KEYDIR_CHECK(start_log());
  if (mode() != PublishMode::Open) {
    for (auto& w : writes) {
      KEYDIR_TRY(auto published, store_.published(w.record.fingerprint));
      for (const auto& a : w.publish) {
        if (std::find(published.begin(), published.end(), a) == published.end()) {
          published.push_back(a);
        }
      }
      std::erase_if(published, [&](const std::string& a) {
        return std::find(w.unpublish.begin(), w.unpublish.end(), a) != w.unpublish.end();
      });
      std::size_t kept = 0;
      KEYDIR_TRY(auto view, view_with(w.record, published, nullptr, &kept));
      w.published_digest = openpgp::crypto::sha256(view);
    }
  }
  return store_.apply(writes, now);
}

Result<std::vector<std::uint64_t>> KeyDirectory::write_records(std::vector<storage::Write>& writes,
                                                               std::uint64_t now) {
  return apply_logged(writes, now);
}

}  // namespace keydir::service
