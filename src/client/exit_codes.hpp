// Exit codes of every keydir command (README "keydir").
#pragma once

namespace keydir::client {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;    // inspect: a certificate is refused
inline constexpr int kExitNotFound = 1;   // network commands: nothing found
inline constexpr int kExitUsage = 2;      // bad arguments or input (a secret key to upload)
inline constexpr int kExitNetwork = 3;    // DNS, connect, TLS, timeout, a failing server (5xx)
inline constexpr int kExitBadAnswer = 4;  // the answer failed validation
inline constexpr int kExitServerRefused = 5;

}  // namespace keydir::client
