// keydird's secrets at startup: operator tokens and the SMTP password come
// from a file or the environment, never only from the command line (every
// local user reads a command line with `ps`), and weak operator tokens are
// refused.
//
// Operator token strength, precisely: a token is 1*b64token (RFC 6750:
// letters, digits, - . _ ~ + /, then optional = padding). Its estimated
// strength is 4 bits per character when every character is a hex digit and
// 6 bits per character otherwise (padding not counted); it needs 128 bits,
// i.e. at least 32 hex digits (`openssl rand -hex 16`) or 22 other
// characters (`openssl rand -base64 18`), and at least 8 different
// characters (so "aaaa…" is refused whatever its length).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace keydir::server {

inline constexpr std::size_t kMinTokenBits = 128;
inline constexpr std::size_t kMinTokenDistinct = 8;

// Errors: BadQuery with a reason that never quotes the token; `source` names
// where it came from ("--operator-token-file F, line 2").
Result<void> check_operator_token(std::string_view token, std::string_view source);

// Reads the tokens of a token file: one a line; blank lines and lines
// starting with '#' are skipped; spaces around a token are ignored. The file
// must not be readable or writable by every user (chmod 600 or 640).
// Errors: BadQuery (unreadable, open to everyone, no token, a weak token).
Result<std::vector<std::string>> read_token_file(const std::string& path);

// The tokens of an environment variable's value: separated by spaces,
// tabs, newlines or commas. Errors: BadQuery (a weak token).
Result<std::vector<std::string>> tokens_from_env(std::string_view value, std::string_view name);

// The first line of a secret file (a password), without its line end; the
// same permission rule as token files. Errors: BadQuery.
Result<std::string> read_secret_file(const std::string& path);

// Errors: BadQuery when every user may read or write `path` (a config file
// that holds a secret), or it cannot be examined.
Result<void> check_private_file(const std::string& path, std::string_view what);

// Overwrites, in place, the values of the given options in argv ("--opt V"
// and "--opt=V") with '*', so that `ps` and /proc/PID/cmdline no longer show
// them once parsed. Returns whether any was found.
bool scrub_arguments(int argc, char** argv, const std::vector<std::string_view>& options);

}  // namespace keydir::server
