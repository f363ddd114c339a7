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
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "common/limits.hpp"
#include "openpgp/verify.hpp"
#include "storage/key_store.hpp"

namespace keydir::service {

using openpgp::Fingerprint;

enum class Outcome { New, Updated, Unchanged };
std::string_view outcome_name(Outcome o);

struct Stored {
  Fingerprint fingerprint;
  Outcome outcome = Outcome::Unchanged;
  std::vector<openpgp::Finding> stripped;
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

struct DirectoryOptions {
  openpgp::Policy policy;
  // Deleted certificates stay deleted unless this is set (or the tombstone
  // is cleared by the owner's or the operator's action).
  bool allow_tombstoned = false;
  std::size_t max_upload_bytes = limits::kMaxUploadBytes;
  std::size_t max_certs_per_upload = limits::kMaxCertsPerUpload;
};

using Clock = std::function<std::uint64_t()>;
Clock system_clock();

class KeyDirectory {
 public:
  KeyDirectory(storage::KeyStore& store, DirectoryOptions options, Clock clock);

  // Armored or binary input with one or more certificates. Input-level
  // errors (BadArmor, SecretKeyRefused, PayloadTooLarge, …) are the error;
  // per-certificate refusals are in the report.
  Result<UploadReport> upload(ByteView input);

  // Stores verified certificates with merge on write, all in one atomic
  // batch. One result per input, in order.
  std::vector<Result<Stored>> store(std::vector<openpgp::VerifiedCertificate> certs,
                                    std::vector<std::vector<openpgp::Finding>> stripped = {});

  Result<std::vector<storage::CertRecord>> lookup(const storage::Query& query,
                                                  std::size_t limit) const;

  // The states of a stored certificate (revocations, expiry, primary user
  // ID) without repeating its signature checks; nullopt if the bytes do not
  // parse (never for a consistent store).
  std::optional<openpgp::VerifiedCertificate> summarize(const storage::CertRecord& rec) const;

  // Removes a certificate and leaves a tombstone. NotFound if absent.
  Result<void> remove(const Fingerprint& fpr, std::string reason);

  // What a certificate is found by.
  static storage::IndexSet index_of(const openpgp::VerifiedCertificate& vc);

  [[nodiscard]] const DirectoryOptions& options() const { return options_; }
  [[nodiscard]] storage::KeyStore& store_ref() const { return store_; }
  [[nodiscard]] std::uint64_t now() const { return clock_(); }

 private:
  // A bare key revocation certificate (only signature packets): merged into
  // the stored key it revokes. nullopt when the input is not of that shape.
  std::optional<Result<UploadReport>> upload_revocations(ByteView input);

  std::vector<std::unique_lock<std::mutex>> lock_keys(
      const std::vector<openpgp::VerifiedCertificate>& certs);

  storage::KeyStore& store_;
  DirectoryOptions options_;
  Clock clock_;
  std::array<std::mutex, 256> stripes_;
};

// Words of a user ID for text search: ASCII letters and digits lower-cased,
// split at everything else (UTF-8 sequences stay inside words), 2..64 octets.
std::vector<std::string> user_id_words(std::string_view user_id);

}  // namespace keydir::service
