// `keydir refresh`: every key of the user's keyring (gpg --export, or a key
// file) looked up again on the directory (by fingerprint) and through WKD
// (by each address of its current user IDs), with fetch()'s checks and more:
// the answer must be the same key, and a self-signature in it that does not
// verify refuses the whole answer (a server that changed a binding or a
// revocation). What came back is merged with the local key, verified again,
// and the difference said in words per key; with `import`, only those
// verified updates go to gpg --import.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "client/audit.hpp"
#include "client/remote.hpp"
#include "common/bytes.hpp"
#include "openpgp/verify.hpp"

namespace keydir::client {

// What changed from `before` (the key as the keyring holds it) to `after`
// (the same key merged with the directory's answer), one line each: key
// revoked, expiry extended or changed, new subkeys, subkeys revoked or with
// a new expiry, new user IDs, user IDs revoked. Empty: nothing changed.
// Only self-signatures count: both sides were verified with the default
// policy, which leaves third-party certifications out.
std::vector<std::string> describe_changes(const openpgp::CertificateStates& before,
                                          const openpgp::CertificateStates& after);

inline constexpr std::size_t kMaxRefreshKeys = 1000;
inline constexpr std::size_t kMaxRefreshKeyringBytes = 64u << 20;
// WKD lookups per key: the first addresses of its current user IDs.
inline constexpr std::size_t kMaxRefreshAddresses = 5;

struct RefreshOptions {
  std::string keyring;      // a key file or keyring ("-": standard input); empty: gpg
  std::string gpg = "gpg";  // run through the shell: found in PATH, honours GNUPGHOME
  bool import = false;      // gpg --import of the verified updates
  bool wkd = true;
  std::string wkd_host;  // as fetch --wkd-host
  bool json = false;
  bool verbose = false;
  FetchOptions progress;  // only its progress fields are used
  std::size_t max_keys = kMaxRefreshKeys;
  // --audit: each server lookup carries the log's proof, checked as fetch
  // --audit checks it (audit.hpp); no WKD then (no log proves it).
  bool audit = false;
  std::string log_key;    // --log-key
  LogOptions log_checks;  // --log-max-age, --log-witness, --log-witness-quorum
};

// One key's outcome.
struct KeyRefresh {
  enum class State { Unchanged, Changed, NotFound, Failed, Skipped };
  std::string fingerprint;
  std::string user_id;  // the primary (or first) user ID, printable
  State state = State::NotFound;
  std::vector<std::string> changes;  // describe_changes
  std::vector<std::string> sources;  // where answers came from
  std::size_t third_party_ignored = 0;
  std::string error;  // Failed, Skipped: why (one line)
  int exit_code = 0;  // Failed: the fetch's exit code
  Bytes update;       // Changed: the merged, verified certificate (binary)
  bool imported = false;
};

// Looks one local key up (the server by fingerprint when `options.server`
// is set; WKD for its addresses unless `ro.wkd` is false) and merges the
// answers with it. Messages of the lookups go to `err` with ro.verbose,
// else only into the outcome's error.
KeyRefresh refresh_key(const ClientOptions& options, const openpgp::VerifiedCertificate& local,
                       const RefreshOptions& ro, std::ostream& err);

// The whole command: reads the keyring, refreshes each key, prints the
// report (text or JSON) on `out`, imports with ro.import. Exit code: 0 when
// no lookup failed (keys not found are not failures); else the most serious
// failure's: 6 another key answered, 4 an answer that does not verify, 3
// network, 5 refused; 2 for a keyring that cannot be read or a failed gpg.
int refresh(const ClientOptions& options, const RefreshOptions& ro, std::ostream& out,
            std::ostream& err);

// The report of one key, as `refresh` prints it.
void print_refresh(const KeyRefresh& k, std::ostream& out);

}  // namespace keydir::client
