// Exit codes of every keydir command (docs/client.md, "Exit codes"), and
// the one table that derives an exit code from an error.
#pragma once

#include <functional>
#include <iosfwd>

#include "common/result.hpp"
#include "net/http.hpp"

namespace keydir::client {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;    // inspect: a certificate is refused
inline constexpr int kExitNotFound = 1;   // network commands: nothing found
inline constexpr int kExitUsage = 2;      // bad arguments or input (a secret key to upload)
inline constexpr int kExitNetwork = 3;    // DNS, connect, TLS, timeout, a failing server (5xx)
inline constexpr int kExitBadAnswer = 4;  // the answer failed validation (not a key, malformed)
inline constexpr int kExitServerRefused = 5;
// The answer holds valid keys, but not (only) the one asked for: another
// certificate, several, or one that carries the fingerprint or key ID only
// as a subkey (a lying server, or one that serves a squatter).
inline constexpr int kExitWrongKey = 6;
// An unexpected failure inside keydir (an exception nothing else caught,
// out of memory): one line on stderr, never an abort or a core dump.
inline constexpr int kExitInternal = 7;
// The transparency log contradicts a checkpoint verified before (fetch
// --audit, monitor): a smaller tree, another root at the same size, a
// consistency proof that fails, or entries whose tree is not the one signed:
// a fork or a rollback.
inline constexpr int kExitLogInconsistent = 8;
// keydir monitor: a watched address is bound to a fingerprint not --allow'ed.
inline constexpr int kExitMonitorAlert = 9;

// The exit code of an error, for every ErrorCode (a switch without default:
// -Wswitch names a new code that has no row yet). The codes are read as the
// client meets them: the query, the files and the keys the user gave
// (request and OpenPGP codes: usage, 2), nothing found (1), what only a
// server refuses (5) or fails at (3), an answer that does not verify (4) and
// keydir's own failure (7). An OpenPGP error in a server's answer is not the
// user's: such errors become AnswerDidNotVerify (4) first. `keydir inspect`
// does not use this table: its verdict is 1 for any refused input.
int exit_code(ErrorCode code);

// The exit code of a failed request (usage, 2, for a URL libcurl refuses;
// network, 3, for the rest); the same kind of switch.
int exit_code(net::NetError error);

// Runs `command` and returns its exit code. An exception that escapes it
// becomes one line on `err`, "keydir: internal error: ...", and
// kExitInternal: never std::terminate's abort and core dump.
int run_guarded(const std::function<int()>& command, std::ostream& err);

}  // namespace keydir::client
