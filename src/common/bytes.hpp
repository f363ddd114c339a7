// Byte containers and the small encodings keydir needs everywhere:
// hex (fingerprints), base64 (armor), z-base-32 (WKD hashes).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keydir {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline void append(Bytes& out, ByteView in) {
  out.insert(out.end(), in.begin(), in.end());
}
// `value`'s low `width` octets, most significant first.
void append_be(Bytes& out, std::uint64_t value, std::size_t width);
void append_be(std::string& out, std::uint64_t value, std::size_t width);

// Upper-case hex without separators.
std::string to_hex(ByteView bytes);
// Accepts upper or lower case; no separators, even length. nullopt otherwise.
std::optional<Bytes> from_hex(std::string_view hex);

// RFC 4648 base64 with padding; lines are not wrapped.
std::string base64_encode(ByteView bytes);
// Writes the base64 of `bytes` ((size + 2) / 3 * 4 characters) to `dst`;
// returns the number written.
std::size_t base64_encode_into(ByteView bytes, char* dst);
// Decodes base64, skipping ASCII white space; nullopt on any other bad character
// or bad padding.
std::optional<Bytes> base64_decode(std::string_view text);

// The same decoding fed piece by piece (an armored body, one line at a time),
// appending to `out` without first joining the pieces. feed() and finish()
// return false on the first bad character, data after padding, or a
// truncated last group.
class Base64Decoder {
 public:
  explicit Base64Decoder(Bytes& out) : out_(out) {}
  [[nodiscard]] bool feed(std::string_view text);
  [[nodiscard]] bool finish();

 private:
  bool feed_slow(const char* p, const char* end, std::uint8_t*& o);
  Bytes& out_;
  std::uint32_t acc_ = 0;
  int have_ = 0;  // symbols in acc_
  int pad_ = 0;
};

// z-base-32 as used by WKD (draft-koch-openpgp-webkey-service §3.1).
std::string zbase32_encode(ByteView bytes);
bool is_zbase32(std::string_view text);

}  // namespace keydir
