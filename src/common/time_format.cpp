#include "common/time_format.hpp"

#include <ctime>

namespace keydir {

namespace {
std::string format(std::uint64_t seconds, const char* fmt) {
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}
}  // namespace

std::string utc_timestamp(std::uint64_t seconds) {
  return format(seconds, "%Y-%m-%dT%H:%M:%SZ");
}
std::string utc_date(std::uint64_t seconds) {
  return format(seconds, "%Y-%m-%d");
}

}  // namespace keydir
