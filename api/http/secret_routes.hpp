// Routes whose path carries a secret: the capability tokens of the links in
// confirmation and manage mails (/verify/<token>, /manage/<token>). Whoever
// holds such a token can publish or unpublish an address until it expires,
// so it must never reach a log file.
//
// The rule that keeps a future route from forgetting it: a route takes a
// secret out of its path only through path_secret(), which knows only the
// prefixes of SecretRoute; the access log writes every path through
// redact_path(), which hides the segment after each of those same prefixes.
// A new token-bearing route is one more SecretRoute value (and its prefix in
// secret_routes.cpp): it is redacted the moment it can be routed.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace keydir::api {

enum class SecretRoute { Verify, Manage };

// "/verify/", "/manage/": the path up to the secret.
std::string_view secret_prefix(SecretRoute route);

// The secret in `path` when it is under `route`'s prefix; nullopt otherwise.
std::optional<std::string_view> path_secret(std::string_view path, SecretRoute route);

// `path` with everything after a SecretRoute prefix replaced by
// "[redacted]" ("/verify/abc" -> "/verify/[redacted]"); other paths as they
// are. For logs.
std::string redact_path(std::string_view path);

}  // namespace keydir::api
