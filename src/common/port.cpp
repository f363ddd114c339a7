#include "common/port.hpp"

namespace keydir {

std::optional<std::uint16_t> parse_port(std::string_view s, bool allow_zero) {
  if (s.empty() || s.size() > 5) {
    return std::nullopt;
  }
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > 65535 || (v == 0 && !allow_zero)) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(v);
}

}  // namespace keydir
