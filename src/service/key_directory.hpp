// KeyDirectory: the use cases of the key directory, independent of HTTP and
// of the storage engine: upload (parse → verify → policy → merge → store),
// lookup, removal.
//
// Merge on write: an upload is merged with the stored version of the same
// certificate, the union is verified again, and the certificate and all its
// index entries change in one atomic batch — or, when the union equals what
// is stored, nothing is written ("unchanged").
//
// Concurrency: the read-merge-write cycle holds a per-key lock (striped by
// fingerprint, over the primary key and every subkey, taken in order), so
// concurrent uploads of one certificate never lose an update, while uploads
// of different certificates verify in parallel. Chosen over RocksDB
// transactions with retry because a retry would repeat the signature
// verification, the expensive part, and would still need the same ordering.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <vector>

#include "common/limits.hpp"
#include "openpgp/verify.hpp"
#include "storage/key_store.hpp"

namespace keydir::service {

class StoreAccess;

using openpgp::Fingerprint;

enum class Outcome { New, Updated, Unchanged };
std::string_view outcome_name(Outcome o);

struct ModeSetting;

// Whether an address of an upload is published, and if not, why.
//   Published           findable by address (always, in Open mode)
//   AwaitsConfirmation  Verified, or Managed by e-mail (--managed-uploads
//                       verify): published once its owner follows the link
//   OutsideDomains      Managed: not at one of the managed domains; never
//   OperatorsOnly       Managed by operator token: only an operator's
//                       upload (or import --publish-addresses) publishes it
//   Revoked             every user ID with the address is revoked
enum class Publication { Published, AwaitsConfirmation, OutsideDomains, OperatorsOnly, Revoked };

// Why an address is withheld, one line in the words of the mode in force
// (`uploads_by_token`: Managed mode takes uploads from its operators only,
// and mails nothing); "" for Published. Answers to uploads (HKP, VKS, the
// pages) say it after the address.
std::string withheld_reason(Publication why, const ModeSetting& mode, bool uploads_by_token);
// What a public view of a key leaves out, one line, for the armor's Comment
// header and the pages: "" in Open mode (nothing is left out). Never a count
// (how many user IDs a key has beyond its published ones is its owner's
// business).
std::string public_view_note(const ModeSetting& mode, bool uploads_by_token);

struct AddressReport {
  std::string address;
  Publication state = Publication::Published;
  std::string reason;  // withheld_reason(state, ...): "" when published
};

struct Stored {
  Fingerprint fingerprint;
  Outcome outcome = Outcome::Unchanged;
  std::vector<openpgp::Finding> stripped;
  // The addresses of the user IDs this upload held that passed the checks
  // (lower case, each once): all that an answer to the upload may speak of.
  // The stored certificate may hold more, which the uploader need not know.
  std::vector<std::string> addresses{};
  // Whether each of them is published after this upload, and why not:
  // publication[i] is about addresses[i] (KeyDirectory::upload). From
  // KeyDirectory::store: every address of the stored certificate.
  std::vector<AddressReport> publication{};
  // User IDs of this upload without an address: never published in Verified
  // and Managed mode (0 in Open mode, where they are).
  std::size_t withheld_without_address = 0;
};

struct Refused {
  std::optional<Fingerprint> fingerprint;
  Error error;
  std::vector<openpgp::Finding> stripped;
};

struct UploadReport {
  std::vector<Stored> stored;
  std::vector<Refused> refused;
};

// Who may publish an address (issue #6):
//   Open     every valid user ID is published (classic keyserver; the default)
//   Verified a user ID with an address is published once its owner confirmed
//            by e-mail; user IDs without an address never are
//   Managed  like Verified, for the configured domains only; an operator's
//            upload publishes their addresses at once
enum class PublishMode { Open, Verified, Managed };
std::string_view mode_name(PublishMode m);
std::optional<PublishMode> parse_mode(std::string_view name);

// The mode is a property of the store: recorded when the store is made or
// when the operator changes it (`keydird admin set-mode`), read by every
// command, so that no tool publishes what the mode withholds.
struct ModeSetting {
  PublishMode mode = PublishMode::Open;
  std::vector<std::string> managed_domains;  // lower-case A-labels; Managed
  bool operator==(const ModeSetting&) const = default;
};
std::string describe(const ModeSetting& m);  // "managed (example.org, example.net)"
// nullopt: a store written before the mode was recorded.
Result<std::optional<ModeSetting>> stored_mode(const storage::KeyStore& store);
Result<void> record_mode(storage::KeyStore& store, const ModeSetting& m);

// What `set_mode` changed (and, before it does, what it would change).
struct ModeChange {
  std::uint64_t certificates = 0;   // certificates whose index was rewritten
  std::uint64_t now_published = 0;  // addresses findable now and not before
  std::uint64_t withdrawn = 0;      // addresses findable before and not now
  std::uint64_t marks_removed = 0;  // published marks outside the managed domains
};

struct DirectoryOptions {
  PublishMode mode = PublishMode::Open;
  std::vector<std::string> managed_domains;  // lower case; Managed mode
  openpgp::Policy policy;
  // Deleted certificates stay deleted unless this is set (or the tombstone
  // is cleared by the owner's or the operator's action).
  bool allow_tombstoned = false;
  std::size_t max_upload_bytes = limits::kMaxUploadBytes;
  std::size_t max_certs_per_upload = limits::kMaxCertsPerUpload;
  // Managed mode takes uploads from its operators only (`keydird serve
  // --managed-uploads token`): nothing is confirmed by e-mail, so answers
  // never say an address awaits a confirmation mail.
  bool managed_uploads_by_token = false;
};

using Clock = std::function<std::uint64_t()>;
Clock system_clock();

class KeyDirectory {
 public:
  KeyDirectory(storage::KeyStore& store, DirectoryOptions options, Clock clock);

  // Armored or binary input with one or more certificates. Input-level
  // errors (BadArmor, SecretKeyRefused, PayloadTooLarge, …) are the error;
  // per-certificate refusals are in the report. `operator_upload`: an
  // operator's upload in Managed mode, which publishes the addresses of the
  // configured domains at once.
  Result<UploadReport> upload(ByteView input, bool operator_upload = false);

  // Stores verified certificates with merge on write, all in one atomic
  // batch. One result per input, in order. `operator_upload` (an operator's
  // upload, `keydird import --publish-addresses`) publishes the addresses the
  // mode lets be published at once (Managed: of the managed domains).
  std::vector<Result<Stored>> store(std::vector<openpgp::VerifiedCertificate> certs,
                                    std::vector<std::vector<openpgp::Finding>> stripped = {},
                                    bool operator_upload = false);

  // Certificates as the public may see them: in Verified and Managed mode
  // reduced to their published user IDs (for a lookup by address, to that
  // address's; how many were left out is the owner's business and is not
  // told); a search by words finds nothing there (exact matches only).
  Result<std::vector<storage::CertRecord>> lookup(const storage::Query& query,
                                                  std::size_t limit) const;
  // The same, each certificate in its whole published form (what the
  // transparency log's digest covers), also for a lookup by address: the
  // answer a proof of inclusion goes with.
  Result<std::vector<storage::CertRecord>> lookup_published(const storage::Query& query,
                                                            std::size_t limit) const;

  // The transparency log (docs/transparency.md). Starts it when the store's
  // log is empty: its first entry fixes the address commitments by mode
  // (Open: HMAC-SHA-256, the addresses are public anyway; Verified and
  // Managed: scrypt), then one entry for each certificate already stored.
  // Every write of the directory calls it first; a store without a log
  // (MemoryKeyStore) is left alone.
  Result<void> start_log();
  // Writes records (a restore from a backup): the log's digests are set for
  // the mode, as for every other write.
  Result<std::vector<std::uint64_t>> write_records(std::vector<storage::Write>& writes,
                                                   std::uint64_t now);

  // Publishes and unpublishes addresses of a stored certificate, re-indexing
  // it in the same atomic write; `consume_token` (a token hash) is deleted in
  // that write too. An address to publish must be one the current mode lets
  // be published on it (publishable_addresses; a confirmation link mailed
  // before a change to managed mode no longer publishes an address outside
  // its domains). Errors: NotFound, TokenInvalid (not publishable).
  Result<void> set_published(const Fingerprint& fpr, const std::vector<std::string>& add,
                             const std::vector<std::string>& remove,
                             std::optional<Bytes> consume_token = std::nullopt);
  // The addresses of a certificate's current (not revoked) user IDs that
  // this mode lets be published (Managed: only the configured domains).
  std::vector<std::string> publishable_addresses(const openpgp::CertificateStates& vc) const;
  [[nodiscard]] bool verifies_addresses() const { return mode() != PublishMode::Open; }
  // Whether addresses are confirmed by mail in the mode in force: Verified,
  // and Managed unless its uploads are by operator token only. Confirmation
  // and manage mails are refused when not (Verification).
  [[nodiscard]] bool confirms_by_mail() const {
    const PublishMode m = mode();
    return m == PublishMode::Verified ||
           (m == PublishMode::Managed && !options_.managed_uploads_by_token);
  }
  // withheld_reason and public_view_note for the mode in force.
  [[nodiscard]] std::string withheld_reason(Publication why) const;
  [[nodiscard]] std::string public_view_note() const;
  [[nodiscard]] PublishMode mode() const { return mode_.load(std::memory_order_acquire); }
  [[nodiscard]] ModeSetting mode_setting() const;

  // Changes the mode: records it in the store, then re-indexes every
  // certificate under the new rules (to Managed: published marks outside its
  // domains are removed). Safe while the directory serves: lookups follow the
  // new mode at once (in Verified and Managed mode they never show an address
  // that is not published), certificates are rewritten under their locks. A
  // change interrupted by a crash is finished by `resume_mode_change`.
  // `dry_run`: count what would change, write nothing.
  Result<ModeChange> set_mode(const ModeSetting& m, bool dry_run = false);
  // Finishes an interrupted mode change; nullopt when none was pending.
  Result<std::optional<ModeChange>> resume_mode_change();

  // Certificates as the public may see them (as `lookup` answers them):
  // unchanged in Open mode; else reduced to the user IDs with a published
  // address (and, for a lookup by address, to that address's). A lookup by
  // address never answers a key without a user ID of that address (an index
  // that is being rewritten after a mode change may still list it).
  // `kept`: how many user IDs the view holds.
  Result<Bytes> public_view(const storage::CertRecord& rec, const std::string* by_email = nullptr,
                            std::size_t* kept = nullptr) const;
  // The same for a given published set (Verified and Managed mode).
  Result<Bytes> view_with(const storage::CertRecord& rec, const std::vector<std::string>& published,
                          const std::string* by_email, std::size_t* kept) const;

  // The states of a stored certificate (revocations, expiry, primary user
  // ID) without repeating its signature checks; nullopt if the bytes do not
  // parse (never for a consistent store).
  std::optional<openpgp::StoredCertificate> summarize(const storage::CertRecord& rec) const;
  // The stored certificate `fpr` with its states. Errors: NotFound,
  // StorageCorruption, StorageIo.
  Result<openpgp::StoredCertificate> stored_summary(const Fingerprint& fpr) const;

  // Recomputes which keys each stored certificate claims (owner, strong or
  // weak, storage::IndexSet) and rewrites the certificates whose claims
  // differ; their address and word entries are kept as they are. Stores
  // written before the claim rule listed every subkey as owned. Returns the
  // number rewritten.
  Result<std::uint64_t> reindex_claims();
  // Rewrites every certificate whose index differs from what `fresh` computes
  // for it, in batches that hold the certificates' locks (safe while
  // serving). `fresh` may also return published marks to remove.
  using Reindexer = std::function<Result<std::optional<storage::Write>>(
      const storage::CertRecord&, const openpgp::CertificateStates&)>;
  Result<std::uint64_t> rewrite_all(const Reindexer& fresh);
  // Whether the latest log entry of `rec` records the form `mode` serves
  // with `published` (true without a log).
  Result<bool> logged_form_is(const storage::CertRecord& rec, PublishMode mode,
                              const std::vector<std::string>& published) const;

  // Removes a certificate and leaves a tombstone. NotFound if absent.
  Result<void> remove(const Fingerprint& fpr, std::string reason);

  // What a certificate is found by.
  // The index entries of a certificate. `published`: only user IDs with one of
  // these addresses are findable (by address, WKD and words); nullptr: every
  // current user ID (Open mode).
  static storage::IndexSet index_of(const openpgp::CertificateStates& vc,
                                    const std::vector<std::string>* published = nullptr);
  // index_of under this directory's mode, with the store's published set.
  Result<storage::IndexSet> index_for(const openpgp::CertificateStates& vc) const;

  [[nodiscard]] const DirectoryOptions& options() const { return options_; }
  // The store's change counter (answer caches key on it), its counts, and the
  // addresses of `fpr` whose publication is recorded.
  [[nodiscard]] std::uint64_t generation() const;
  Result<storage::StoreStats> stats() const;
  Result<std::vector<std::string>> published(const Fingerprint& fpr) const;

  // The store itself, for the service layer only: a StoreAccess can be made
  // only where service/store_access.hpp (private to keydir_service) is seen.
  [[nodiscard]] storage::KeyStore& store_ref(const StoreAccess&) const { return store_; }
  [[nodiscard]] std::uint64_t now() const { return clock_(); }

 private:
  // A bare key revocation certificate (only signature packets): merged into
  // the stored key it revokes. nullopt when the input is not of that shape.
  std::optional<Result<UploadReport>> upload_revocations(ByteView input);

  std::vector<std::unique_lock<std::mutex>> lock_keys(
      const std::vector<openpgp::VerifiedCertificate>& certs);
  // store_.apply after start_log, with each write's published digest set
  // when the mode serves less than is stored.
  Result<std::vector<std::uint64_t>> apply_logged(std::vector<storage::Write>& writes,
                                                  std::uint64_t now);
  Result<std::vector<storage::CertRecord>> lookup_view(const storage::Query& query,
                                                       std::size_t limit, bool whole) const;

  void lock_stripes(const std::vector<Fingerprint>& fprs,
                    std::vector<std::unique_lock<std::mutex>>& locks);
  std::size_t stripe_of(const Fingerprint& f) const;
  std::vector<std::string> published_for_mode(std::vector<std::string> published) const;
  // Whether each address of `vc` is published, given its published set
  // (ignored in Open mode), under `mode`.
  std::vector<AddressReport> address_reports(const openpgp::CertificateStates& vc,
                                             const std::vector<std::string>& published,
                                             const ModeSetting& mode) const;

  storage::KeyStore& store_;
  DirectoryOptions options_;
  Clock clock_;
  std::array<std::mutex, 256> stripes_;
  std::atomic<PublishMode> mode_;
  mutable std::mutex mode_mutex_;  // managed_domains_
  std::mutex mode_change_mutex_;   // one set_mode at a time
  // Writes that depend on the mode hold it shared from reading the mode to
  // their write; a mode flip holds it exclusive, so that the re-indexing
  // that follows sees every write made under the old mode.
  std::shared_mutex mode_flip_;
  std::vector<std::string> managed_domains_;
  std::atomic<bool> log_started_{false};
  std::mutex log_start_mutex_;
};

// Whether a subkey proved that its holder bound it: a signing or certifying
// subkey, whose binding carries a verified back-signature. Anybody can bind
// anybody's public key as an encryption or authentication subkey.
bool proves_possession(const openpgp::KeyState& subkey);
// Whether a key of this algorithm can be a primary key (certify): false only
// for the encryption-only algorithms.
bool can_be_primary(openpgp::PublicKeyAlgorithm algorithm);

// Words of a user ID for text search: ASCII letters and digits lower-cased,
// split at everything else (UTF-8 sequences stay inside words), 2..64 octets.
std::vector<std::string> user_id_words(std::string_view user_id);

}  // namespace keydir::service
