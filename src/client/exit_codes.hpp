// Exit codes of every keydir command (README "keydir", docs/client.md).
#pragma once

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

}  // namespace keydir::client
