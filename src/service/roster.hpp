// The operator's view of the directory (issue #20): one row per key and
// address, with the address's state, for `keydird admin list` and
// `keydird admin roster`.
//
// The roster walks the store in fingerprint order and holds one certificate
// at a time (and the set of outstanding confirmation links): memory stays
// bounded however large the directory is. A page ends with a cursor (the
// last row's key and address) that the next page starts after; rows added
// or removed between pages do not make a page repeat or skip the others.
//
// Security considerations: names and addresses come from user IDs, which
// anybody can write. Every format neutralises them for its reader: text
// shows control characters (C0, DEL, C1), bidirectional overrides and
// invalid UTF-8 escaped, so a row cannot forge another or hide a part of
// itself; CSV (RFC 4180) escapes the same, quotes what needs quoting and
// puts a ' before a cell that starts with = + - @ (a spreadsheet would run
// it as a formula, OWASP "CSV injection"); JSON is ASCII only (every other
// character as a \u escape, invalid UTF-8 replaced).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "service/key_directory.hpp"

namespace keydir::service {

// Most rows in one page of `keydird admin list` (its --limit); the default
// is 100. A page is built in the server's memory when it runs online, so the
// bound keeps one answer to a few MiB. The whole roster goes to a file
// (`keydird admin roster --out`), streamed.
constexpr std::size_t kMaxRosterPage = 10000;
constexpr std::size_t kDefaultRosterPage = 100;

enum class RosterState { Published, Pending, Withheld };
std::string_view roster_state_name(RosterState s);
// "published", "pending", "withheld"; nullopt otherwise.
std::optional<RosterState> parse_roster_state(std::string_view name);

struct RosterRow {
  Fingerprint fingerprint;
  std::string address;  // normalised
  std::string name;     // the user ID's text before '<', trimmed (hostile: raw bytes)
  // published: findable by the address; pending: a confirmation link for it
  // is outstanding; withheld: neither.
  RosterState state = RosterState::Withheld;
  std::uint64_t key_created = 0;
  std::optional<std::uint64_t> key_expires;
  bool revoked = false;                       // the key, or every user ID with this address
  std::optional<std::uint64_t> published_at;  // when recorded (verified and managed mode)
};

struct RosterFilter {
  std::vector<std::string> domains;  // normalised; empty: every domain
  std::optional<RosterState> state;  // nullopt: every state
  std::string match;                 // case-insensitive substring of name or address
};

// Where a page starts: after this key and address.
struct RosterCursor {
  Fingerprint fingerprint;
  std::string address;
  // FPR ':' hex of the address (only hex digits and ':', safe in a shell).
  [[nodiscard]] std::string to_string() const;
  static Result<RosterCursor> parse(std::string_view text);  // Errors: BadQuery
};

// Every row after `after` that passes `filter`, in (fingerprint, address)
// order; `visit` returns false to stop.
Result<void> walk_roster(const KeyDirectory& directory, const RosterFilter& filter,
                         const std::optional<RosterCursor>& after,
                         const std::function<bool(const RosterRow&)>& visit);

// Case-insensitive substring search on UTF-8 text: ASCII, Latin-1, Latin
// Extended-A, Greek and Cyrillic letters are folded; invalid octets match
// only themselves.
bool contains_folded(std::string_view haystack, std::string_view needle);

// Hostile text made safe for one line of a terminal: control characters
// (C0, DEL, C1) and bidirectional controls escaped as \xNN or \u{NNNN},
// invalid UTF-8 octets as \xNN, a backslash as \\.
std::string shown_text(std::string_view s);
// One CSV cell (RFC 4180): shown_text, then a leading ' when it starts with
// = + - @, then quoted when it holds a comma, a quote or a space at an end.
std::string csv_cell(std::string_view s);

enum class RosterFormat { Text, Csv, Json };

// Writes rows as they come: begin(), row()..., end(next cursor).
class RosterWriter {
 public:
  RosterWriter(std::ostream& out, RosterFormat format) : out_(out), format_(format) {}
  void begin();
  void row(const RosterRow& r);
  // `next`: the cursor of the next page (text: "next: --after X" as the last
  // line; JSON: "next"; CSV: nothing, the caller says it elsewhere).
  void end(const std::optional<RosterCursor>& next);

 private:
  std::ostream& out_;
  RosterFormat format_;
  std::size_t rows_ = 0;
};

}  // namespace keydir::service
