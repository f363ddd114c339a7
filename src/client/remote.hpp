// keydir's network commands: upload, fetch, search, verify, wkd-url. Data goes
// to `out`, messages to `err`; each returns the process exit code:
//   0 ok, 1 not found, 2 usage, 3 network/TLS, 4 the answer failed
//   validation, 5 the server refused, 6 the server answered another key
//   (exit_codes.hpp).
// Nothing a server sends is printed before the OpenPGP core has checked it,
// and every field of an answer is parsed with bounds, errors as values: a
// lying or broken server gets an error message and an exit code, never a
// crash. Text from a server reaches the terminal through printable() only.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "client/exit_codes.hpp"
#include "common/limits.hpp"
#include "common/result.hpp"
#include "net/http.hpp"
#include "openpgp/identifiers.hpp"

namespace keydir::client {

struct ClientOptions {
  std::string server;  // base URL as net::server_base() makes it
  net::HttpOptions http;
};

// What a fetch asks for: a fingerprint (40 or 64 hex digits, 0x and spaces
// allowed), a key ID (16 hex digits, 0x allowed) or an e-mail address.
struct FetchQuery {
  std::optional<openpgp::Fingerprint> fingerprint;
  std::optional<openpgp::KeyId> key_id;
  std::optional<openpgp::Email> email;
  // --subkey: a fingerprint or key ID may also name a subkey, if that subkey
  // proves possession (a signing subkey, bound with a valid back-signature).
  // Without it only the primary key counts: anybody can attach another
  // person's public key to their own certificate as an encryption or
  // authentication subkey.
  bool subkey = false;
  // Refuse the whole answer when a signature the key itself made does not
  // verify (refresh: a server that changed a binding or a revocation), where
  // a plain fetch keeps what verifies and leaves the rest out.
  bool strict = false;
  [[nodiscard]] std::string describe() const;
};
Result<FetchQuery> classify(std::string_view query);

// Why an answer was refused: `exit_code` is kExitBadAnswer (not a key, does
// not verify: exit_code(ErrorCode::AnswerDidNotVerify), whatever the OpenPGP
// error) or kExitWrongKey (valid keys, but not the one asked for).
struct AnswerError {
  int exit_code;
  std::string detail;  // one line
};
// The certificates of `answer` that the core accepts, binary, if they are
// what the query asked for: by fingerprint or key ID exactly one
// certificate, whose primary key has it (or, with query.subkey, a subkey
// that proves possession); by address any number, each with the address on
// a current user ID.
// `third_party`, when given, receives the number of third-party
// certifications the checks left out (only self-signatures count).
tl::expected<Bytes, AnswerError> check_answer(ByteView answer, const FetchQuery& query,
                                              std::uint64_t now,
                                              std::size_t* third_party = nullptr);

struct FetchOptions {
  bool wkd = true;       // addresses: WKD advanced, WKD direct, then the server
  std::string wkd_host;  // send WKD requests there ([http://|https://]HOST[:PORT])
  bool server = true;    // ask the server (false when no server is set)
  bool vks = false;      // ask the server through the VKS API instead of HKP
  // -v: each step on `err`: the URL tried, why it failed or was skipped,
  // which one answered.
  bool verbose = false;
  // A step that takes longer than a second shows "keydir: trying URL (N s)"
  // on `err`, each second: rewritten in place when `progress_terminal`, else
  // one line each (KEYDIR_PROGRESS=1, for tests and logs).
  bool progress = false;
  bool progress_terminal = false;
  std::ostream* progress_out = nullptr;  // where progress goes when not `err`
  // --audit: ask the server only (no WKD), with "Keydir-Log-Proof: 1", and
  // keep the answer as served and its log headers in the report (audit.hpp
  // checks them).
  bool log_proof = false;
};
// Where the answer of a successful fetch came from, and what its checks
// left out.
struct FetchReport {
  std::string source;  // "WKD advanced (URL)", "WKD direct (URL)", "the server (URL)"
  std::size_t third_party_dropped = 0;
  // A failed fetch (exit code other than 0 and 1): the step and why, one line.
  std::string error;
  // FetchOptions::log_proof: the server's answer as served, and its
  // Keydir-Log-Checkpoint and Keydir-Log-Inclusion headers (empty: absent).
  std::string served;
  std::string log_checkpoint;
  std::string log_inclusion;
};
// On success `certs` holds the checked binary certificates.
int fetch(const ClientOptions& options, const FetchQuery& query, const FetchOptions& fetch_options,
          Bytes& certs, std::ostream& err, FetchReport* report = nullptr);

// How keydir upload and keydir verify send.
struct UploadOptions {
  // --verify: each key through the VKS API (/vks/v1/upload, one key per
  // request, the protocol's rule), then /vks/v1/request-verify for the
  // addresses that await confirmation; without it the keys go to /pks/add in
  // as few requests as the limits allow (kMaxBatchCerts, kMaxBatchArmoredBytes).
  bool verify_addresses = false;
  // The operator token (managed mode), sent as "Authorization: Bearer TOKEN"
  // on every upload request; empty: none. Never printed.
  std::string token;
  std::string token_source;  // where it came from, for messages ("--token-file F")
  // The longest wait a 429 (or a 503 with Retry-After) is honoured with,
  // seconds; past it, or with 0 (--no-wait), the upload stops and says when
  // to retry.
  std::uint64_t max_wait = 600;
};
inline constexpr std::size_t kMaxBatchCerts = limits::kMaxCertsPerUpload;
inline constexpr std::size_t kMaxBatchArmoredBytes = limits::kMaxUploadBytes;
// Consecutive waits for one request before keydir gives up on it.
inline constexpr int kMaxRetries = 5;

// Prints one report per key ("FILE: new FPR", then its addresses published or
// withheld, with the server's reasons); every error names the file and key.
// 0 when every key was stored; else the code of the first failure.
int upload(const ClientOptions& options, const std::vector<std::string>& files,
           const UploadOptions& upload_options, std::ostream& out, std::ostream& err);
// Uploads FILE through the VKS API and mails confirmation links to `emails`
// (all its unconfirmed addresses when empty).
int verify(const ClientOptions& options, const std::string& file,
           const std::vector<std::string>& emails, const UploadOptions& upload_options,
           std::ostream& out, std::ostream& err);

// The operator token in FILE: its first line that is neither blank nor a
// comment (#), trimmed. Refused (the reason, one line, naming the file): a
// file every user may read or write (like keydird, "chmod 600 FILE"), not a
// regular file, larger than 64 KiB, without a token line, or a token with
// characters a Bearer header cannot carry (RFC 6750 b64token).
Result<std::string> read_token_file(const std::string& path);
// Why a token must not go to the server `base` (net::server_base's form):
// plain http:// to a host other than loopback (127.0.0.0/8, ::1, localhost)
// would show it to everyone on the way. nullopt: https://, or loopback.
std::optional<std::string> token_transport_refusal(const std::string& base);

// The seconds a Retry-After value asks for (RFC 9110 §10.2.3): delay-seconds
// (saturating at 2^32) or an HTTP-date (IMF-fixdate, RFC 850 or asctime
// form), counted from `now` (a date in the past: 0). nullopt: empty or
// malformed.
std::optional<std::uint64_t> parse_retry_after(std::string_view value, std::uint64_t now);

// The /pks/add answer, one entry per key:
//   new|updated|unchanged FPR
//     published ADDR              (zero or more, indented by two spaces)
//     withheld ADDR: REASON
//   refused FPR: REASON           (FPR "-" when the server could not name it)
// keydird before the address lines sent the key lines alone: still read.
// Lines in no such form are kept in `other` (at most kMaxAddAnswerOther).
struct AddressOutcome {
  std::string address;
  bool published = false;
  std::string reason;  // withheld: the server's reason
};
struct KeyOutcome {
  std::string outcome;  // "new", "updated", "unchanged" or "refused"
  std::string fpr;      // upper-case hex, or "-" (refused, unnamed)
  std::string reason;   // refused: the server's reason
  std::vector<AddressOutcome> addresses;
};
struct AddAnswer {
  std::vector<KeyOutcome> keys;
  std::vector<std::string> other;
  std::size_t other_dropped = 0;
};
inline constexpr std::size_t kMaxAddAnswerOther = 20;
inline constexpr std::size_t kMaxAddAnswerLineBytes = 4096;
// Bounds: at most 2 * kMaxBatchCerts keys, limits::kMaxUserIdsPerCert
// addresses per key, lines of kMaxAddAnswerLineBytes; past one, or an address
// line before any key, AnswerDidNotVerify with "line N: reason". Text is kept
// as sent: print it through printable().
Result<AddAnswer> parse_add_answer(std::string_view body);

int search(const ClientOptions& options, const std::string& text, bool json, std::ostream& out,
           std::ostream& err);

// The advanced and the direct WKD URL of an address. `escape`: the local
// part in ?l= percent-encoded, as requests send it; without, as
// gpg-wks-client --print-wkd-url shows it.
std::pair<std::string, std::string> wkd_urls(const openpgp::Email& email, bool escape = true);

// One entry of a machine-readable HKP index (draft-gallagher-openpgp-hkp
// §5.2, GnuPG doc/KEYSERVER), every field checked.
struct IndexEntry {
  std::string key;  // upper-case hex: 8, 16, 32, 40 or 64 digits
  std::optional<std::uint8_t> algorithm;
  std::optional<std::uint32_t> bits;     // at most kMaxIndexBits
  std::optional<std::uint64_t> created;  // seconds since the epoch, at most kMaxIndexTime
  std::optional<std::uint64_t> expires;
  std::string flags;                  // letters only (r, d, e)
  std::vector<std::string> user_ids;  // %XX decoded, at most kMaxIndexUserIdBytes each
};
inline constexpr std::size_t kMaxIndexLineBytes = 16384;
inline constexpr std::size_t kMaxIndexUserIdBytes = 4096;
inline constexpr std::uint32_t kMaxIndexBits = 65536;
inline constexpr std::uint64_t kMaxIndexTime = 253402300799;  // 9999-12-31T23:59:59Z
// The entries of an index answer. Unknown line types are skipped (the
// format allows them); a pub, uid or info line that breaks the grammar or a
// bound (a non-numeric or huge number, a key that is not hex of a key ID or
// fingerprint length, too many fields, an overlong line, a control octet, a
// uid before any pub) makes the whole answer an error, AnswerDidNotVerify
// with "line N: reason".
Result<std::vector<IndexEntry>> parse_mr_index(std::string_view text);
// The table (or, with `json`, the JSON array) `keydir search` prints. The
// JSON is ASCII: what is not becomes \uXXXX, so neither printout can hold a
// raw control character from the server.
void print_index(const std::vector<IndexEntry>& entries, bool json, std::ostream& out);

// Text from a server, safe to print on a terminal: C0 and C1 control
// characters, DEL and octets that are not UTF-8 become \xNN, so that no
// answer can move the cursor, retitle the window or hide a line; at most
// `max` octets of input are shown, then "…".
std::string printable(std::string_view text, std::size_t max = 4096);

// The reason an error answer gives: a JSON body's "error", else the first
// line of the body; printable, at most 200 characters.
std::string server_reason(std::string_view content_type, std::string_view body);

// What the VKS API answers to /vks/v1/upload (and, for `status` only, to
// /vks/v1/request-verify), checked: key_fpr is 40 or 64 hex digits, token
// is 1–1024 printable ASCII characters, status maps at most
// kMaxUserIdsPerCert e-mail addresses to short state names.
struct VksAnswer {
  std::string fpr;
  std::string token;
  std::vector<std::pair<std::string, std::string>> status;
};
Result<VksAnswer> parse_vks_answer(std::string_view body, bool status_only = false);

// Reads FILE or standard input ("-"), at most `max` octets.
std::optional<Bytes> read_input(const std::string& path, std::size_t max, std::string& error);

}  // namespace keydir::client
