// keydir's network commands: upload, fetch, search, verify, wkd-url. Data goes
// to `out`, messages to `err`; each returns the process exit code:
//   0 ok, 1 not found, 2 usage, 3 network/TLS, 4 the answer failed
//   validation, 5 the server refused.
// Nothing a server sends is printed before the OpenPGP core has checked it.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "client/exit_codes.hpp"
#include "client/http.hpp"
#include "common/result.hpp"
#include "openpgp/identifiers.hpp"

namespace keydir::client {


struct ClientOptions {
  std::string server;  // base URL as server_base() makes it
  HttpOptions http;
};

// What a fetch asks for: a fingerprint (40 or 64 hex digits, 0x and spaces
// allowed), a key ID (16 hex digits, 0x allowed) or an e-mail address.
struct FetchQuery {
  std::optional<openpgp::Fingerprint> fingerprint;
  std::optional<openpgp::KeyId> key_id;
  std::optional<openpgp::Email> email;
  [[nodiscard]] std::string describe() const;
};
Result<FetchQuery> classify(std::string_view query);

// The certificates of `answer` that the core accepts, binary, if every one
// of them matches the query (the fingerprint is the primary's or a subkey's;
// the key ID likewise; the address is on a current user ID). Errors:
// AnswerDidNotVerify with the reason.
Result<Bytes> check_answer(ByteView answer, const FetchQuery& query, std::uint64_t now);

struct FetchOptions {
  bool wkd = true;       // addresses: WKD advanced, WKD direct, then the server
  std::string wkd_host;  // send WKD requests there ([http://|https://]HOST[:PORT])
  bool server = true;    // ask the server (false when no server is set)
  bool vks = false;      // ask the server through the VKS API instead of HKP
};
// On success `certs` holds the checked binary certificates.
int fetch(const ClientOptions& options, const FetchQuery& query, const FetchOptions& fetch_options,
          Bytes& certs, std::ostream& err);

int upload(const ClientOptions& options, const std::vector<std::string>& files,
           bool verify_addresses, std::ostream& out, std::ostream& err);
// Uploads FILE through the VKS API and mails confirmation links to `emails`
// (all its unconfirmed addresses when empty).
int verify(const ClientOptions& options, const std::string& file,
           const std::vector<std::string>& emails, std::ostream& out, std::ostream& err);
int search(const ClientOptions& options, const std::string& text, bool json, std::ostream& out,
           std::ostream& err);

// The advanced and the direct WKD URL of an address. `escape`: the local
// part in ?l= percent-encoded, as requests send it; without, as
// gpg-wks-client --print-wkd-url shows it.
std::pair<std::string, std::string> wkd_urls(const openpgp::Email& email, bool escape = true);

// One entry of a machine-readable HKP index (GnuPG doc/KEYSERVER).
struct IndexEntry {
  std::string key;  // fingerprint or key ID as the server gave it
  std::string algorithm;
  std::string bits;
  std::string created;  // seconds since the epoch, or empty
  std::string expires;
  std::string flags;
  std::vector<std::string> user_ids;  // %XX decoded
};
std::vector<IndexEntry> parse_mr_index(std::string_view text);

// Reads FILE or standard input ("-"), at most `max` octets.
std::optional<Bytes> read_input(const std::string& path, std::size_t max, std::string& error);

}  // namespace keydir::client
