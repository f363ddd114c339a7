// The client side of keydird's transparency log (docs/client.md, "The
// transparency log"): `keydir fetch --audit` checks that every certificate a
// lookup answered is in the log the server signed, and `keydir monitor`
// replays the log to watch addresses. Both keep, per log, the last checkpoint
// they verified (and the monitor the tree's right edge) in a state folder, so
// that a server that forks or rolls its log back is caught.
//
// Everything read from the network is bounded and checked before use; a
// check that fails is a LogError with the exit code it stands for:
// kExitBadAnswer (4) for malformed or unproven data, kExitLogInconsistent (8)
// for a log that contradicts a checkpoint seen before.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/remote.hpp"
#include "common/bytes.hpp"
#include "tlog/entry.hpp"
#include "tlog/merkle.hpp"
#include "tlog/note.hpp"

namespace keydir::client {

// Bounds on what a log server sends.
inline constexpr std::uint64_t kMaxLogSize = std::uint64_t{1} << 40;
inline constexpr std::size_t kMaxProofHashes = 64;
inline constexpr std::size_t kMaxInclusionItems = 1000;
inline constexpr std::size_t kMaxProofAnswerBytes = 64 << 10;
inline constexpr std::size_t kMaxBundleBytes = 256 * (2 + tlog::kMaxEntryBytes);

// The most work a log's scrypt parameters may ask per address: N * r * p
// (2^24: about 2 s, 2 GiB of memory traffic; keydird's default is 2^17 * 8).
inline constexpr std::uint64_t kMaxScryptWork = std::uint64_t{1} << 24;

struct LogError {
  int exit_code;
  std::string detail;  // one line
};
template <class T>
using LogResult = tl::expected<T, LogError>;
inline tl::unexpected<LogError> log_fail(int code, std::string detail) {
  return tl::unexpected<LogError>(LogError{code, std::move(detail)});
}

// --- the checks (pure) ---------------------------------------------------------

// The signed note `note` opened with `verifier`, its checkpoint parsed, its
// origin the key's name, its size at most kMaxLogSize.
LogResult<tlog::Checkpoint> verify_checkpoint(std::string_view note,
                                              const tlog::NoteVerifier& verifier);

// `now` extends `old` (the last checkpoint verified): a smaller tree, the
// same size with another root, or a consistency proof (asked from `proof`
// only when needed) that does not verify is kExitLogInconsistent.
using ConsistencyFetcher = std::function<LogResult<std::vector<tlog::Hash>>()>;
LogResult<void> check_consistency(const tlog::Checkpoint& old, const tlog::Checkpoint& now,
                                  const ConsistencyFetcher& proof);

// One item of the Keydir-Log-Inclusion header: "<index> <b64 entry> <b64 h1>,<b64 h2>,...".
struct InclusionItem {
  std::uint64_t index = 0;
  Bytes entry;
  std::vector<tlog::Hash> proof;
};
LogResult<std::vector<InclusionItem>> parse_inclusion_header(std::string_view value);

// The certificates of a served answer (armored or binary), each as its own
// octets in the binary form, with the fingerprint of its primary key.
struct ServedCert {
  openpgp::Fingerprint fingerprint;
  Bytes bytes;
};
LogResult<std::vector<ServedCert>> split_served(std::string_view served);

// Every served certificate has an item whose entry is a Certificate entry of
// its fingerprint (as `scheme` writes it: blinded in scrypt logs), with the
// SHA-256 of its bytes, included in the tree of `checkpoint`; with
// `commitment`, the entry commits to it (the address queried). Returns the
// number of certificates checked.
// `served_index` receives, per certificate, the index of the entry that
// proved it (when given).
LogResult<std::size_t> check_inclusions(const std::vector<ServedCert>& certs,
                                        const std::vector<InclusionItem>& items,
                                        const tlog::Checkpoint& checkpoint,
                                        const tlog::CommitmentScheme& scheme,
                                        const std::optional<Bytes>& commitment,
                                        std::vector<std::uint64_t>* served_index = nullptr);

// /log/entry/<vfpr>'s answer {"index":I,"entry":"<b64>"}: the entry must be
// of that certificate (Certificate or Deleted; its fingerprint as `scheme`
// writes it).
LogResult<InclusionItem> parse_latest_answer(std::string_view body,
                                             const openpgp::Fingerprint& fingerprint,
                                             const tlog::CommitmentScheme& scheme);

// {"index":I,"size":S,"hashes":[...]} or {"old":A,"new":B,"hashes":[...]}:
// the two numbers must be the ones asked for.
LogResult<std::vector<tlog::Hash>> parse_proof_answer(std::string_view body, const char* first,
                                                      std::uint64_t a, const char* second,
                                                      std::uint64_t b);

// An entry bundle: exactly `width` entries, each 2-octet length || entry.
LogResult<std::vector<Bytes>> parse_bundle(std::string_view body, std::uint64_t width);

// A commitment scheme keydir will compute: HMAC, or scrypt within
// kMaxScryptWork (a log cannot make the client spend minutes per address).
LogResult<void> check_scheme(const tlog::CommitmentScheme& scheme);

// --- the state folder ----------------------------------------------------------

// What keydir keeps about one log, in one file named by its key hash.
struct LogState {
  std::string vkey;  // the verifier key the file belongs to
  std::string note;  // the last checkpoint verified, as signed
  std::optional<tlog::Checkpoint> checkpoint;
  std::optional<tlog::CommitmentScheme> scheme;  // from entry 0, checked against the tree
  std::optional<tlog::Frontier> frontier;        // monitor: the tree it recomputed
  std::map<std::string, Bytes> commitments;      // monitor: address → commitment (cache)
  // monitor: (the entry's vfpr hex, blinded in scrypt logs; address) seen
  std::set<std::pair<std::string, std::string>> bound;

  [[nodiscard]] std::string encode() const;
  // Strict; the note is verified again with `verifier`.
  static LogResult<LogState> decode(std::string_view text, const tlog::NoteVerifier& verifier);
};

// ${XDG_STATE_HOME:-$HOME/.local/state}/keydir
std::string default_state_dir();

class StateDir {
 public:
  explicit StateDir(std::string path) : path_(std::move(path)) {}
  ~StateDir();
  StateDir(const StateDir&) = delete;
  StateDir& operator=(const StateDir&) = delete;
  // Creates the folder (0700) and holds its lock until destroyed: one keydir
  // at a time updates it.
  LogResult<void> open();
  [[nodiscard]] const std::string& path() const { return path_; }
  // The verifier key pinned for `server` (file "log-pins").
  LogResult<std::optional<std::string>> pinned(const std::string& server) const;
  LogResult<void> pin(const std::string& server, const std::string& vkey) const;
  // "log-<first 16 octets of SHA-256 of the verifier key, hex>.state"; an
  // empty state (vkey set) when there is none. A state an earlier keydir
  // kept in "log-<32-bit key hash>.state" is read when it is this key's, and
  // moved to the new name by the next save.
  [[nodiscard]] std::string log_file(const tlog::NoteVerifier& verifier) const;
  [[nodiscard]] std::string legacy_log_file(const tlog::NoteVerifier& verifier) const;
  LogResult<LogState> load(const tlog::NoteVerifier& verifier) const;
  LogResult<void> save(const tlog::NoteVerifier& verifier, const LogState& state) const;

 private:
  LogResult<void> write_file(const std::string& file, const std::string& data) const;
  std::string path_;
  int lock_fd_ = -1;
};

// --- the commands --------------------------------------------------------------

struct LogOptions {
  std::string log_key;    // --log-key: the operator's verifier key
  std::string state_dir;  // empty: default_state_dir()
  bool verbose = false;
  // --log-max-age: the checkpoint must be dated by the log (its own
  // cosignature/v1) within this many seconds; 0: not checked.
  std::uint64_t max_age = 86400;
  // --log-witness VKEY (type 0x04): the checkpoint, or a later one
  // consistent with it, must carry cosignatures by `witness_quorum` of them
  // (0: all).
  std::vector<std::string> witnesses;
  std::size_t witness_quorum = 0;
};

// The log's dating of `note` (its own cosignature/v1, the key of `v` with
// type 0x04): present, at most `max_age` seconds before `now` and at most
// five minutes after. kExitBadAnswer otherwise.
LogResult<std::uint64_t> check_dated(std::string_view note, const tlog::NoteVerifier& v,
                                     std::uint64_t max_age, std::uint64_t now);
// How many of `witnesses` cosigned `note` at most `max_age` seconds before
// `now` (0: any age) and not in the future; kExitBadAnswer for a
// cosignature by one of them that does not verify.
LogResult<std::size_t> count_cosigned(std::string_view note,
                                      const std::vector<tlog::NoteVerifier>& witnesses,
                                      std::uint64_t max_age, std::uint64_t now);
// --log-witness values parsed: kExitUsage for a malformed one, one given
// twice, or the log's own key (its dating would count as a witness).
LogResult<std::vector<tlog::NoteVerifier>> parse_witnesses(const std::vector<std::string>& given,
                                                           const tlog::NoteVerifier& log);

// fetch --audit: `report` is fetch()'s for a FetchOptions::log_proof lookup
// of `query`. 0, or the exit code after one line on `err`.
int audit_fetch(const ClientOptions& options, const FetchQuery& query, const FetchReport& report,
                const LogOptions& log_options, std::ostream& err);

struct MonitorOptions {
  LogOptions log;
  std::vector<std::string> addresses;
  std::vector<std::string> allow;  // fingerprints (hex, 40 or 64 digits)
};
// keydir monitor: 0 (nothing new, or only allowed fingerprints), kExitMonitorAlert, or an error.
int monitor(const ClientOptions& options, const MonitorOptions& monitor_options, std::ostream& out,
            std::ostream& err);

}  // namespace keydir::client
