#include "api/http/secret_routes.hpp"

#include <array>

namespace keydir::api {

namespace {

// Every SecretRoute, in the order of the enum.
constexpr std::array<std::string_view, 2> kPrefixes = {"/verify/", "/manage/"};
static_assert(static_cast<std::size_t>(SecretRoute::Manage) + 1 == kPrefixes.size(),
              "one prefix per SecretRoute");

}  // namespace

std::string_view secret_prefix(SecretRoute route) {
  return kPrefixes[static_cast<std::size_t>(route)];
}

std::optional<std::string_view> path_secret(std::string_view path, SecretRoute route) {
  const std::string_view prefix = secret_prefix(route);
  if (!path.starts_with(prefix)) {
    return std::nullopt;
  }
  return path.substr(prefix.size());
}

std::string redact_path(std::string_view path) {
  for (std::string_view prefix : kPrefixes) {
    if (path.starts_with(prefix)) {
      std::string out(prefix);
      out += "[redacted]";
      return out;
    }
  }
  return std::string(path);
}

}  // namespace keydir::api
