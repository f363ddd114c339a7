// UTC times as text, for reports and API answers.
#pragma once

#include <cstdint>
#include <string>

namespace keydir {

// RFC 3339 / ISO 8601, e.g. "2026-11-27T21:00:17Z".
std::string utc_timestamp(std::uint64_t seconds);
// "2026-11-27".
std::string utc_date(std::uint64_t seconds);

}  // namespace keydir
