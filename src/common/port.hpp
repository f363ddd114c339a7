// A TCP port number as written in flags, config files and peer addresses.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace keydir {

// Decimal digits only, at most 65535; 0 ("any free port", for listening)
// only when `allow_zero`.
std::optional<std::uint16_t> parse_port(std::string_view s, bool allow_zero);

}  // namespace keydir
