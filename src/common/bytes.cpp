#include "common/bytes.hpp"

#include <array>

namespace keydir {

void append_be(Bytes& out, std::uint64_t value, std::size_t width) {
  for (std::size_t i = width; i-- > 0;) {
    out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
  }
}

void append_be(std::string& out, std::uint64_t value, std::size_t width) {
  for (std::size_t i = width; i-- > 0;) {
    out.push_back(static_cast<char>(value >> (8 * i)));
  }
}

std::string to_hex(ByteView bytes) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

constexpr std::string_view kB64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> make_b64_table() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) {
    v = -1;
  }
  for (std::size_t i = 0; i < kB64.size(); ++i) {
    t[static_cast<std::uint8_t>(kB64[i])] = static_cast<std::int8_t>(i);
  }
  return t;
}
constexpr auto kB64Table = make_b64_table();

constexpr std::string_view kZb32 = "ybndrfg8ejkmcpqxot1uwisza345h769";
}  // namespace

std::optional<Bytes> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return std::nullopt;
  }
  Bytes out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = hex_value(hex[i]);
    int lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
  }
  return out;
}

std::size_t base64_encode_into(ByteView bytes, char* dst) {
  char* o = dst;
  const std::uint8_t* p = bytes.data();
  std::size_t n = bytes.size();
  for (; n >= 3; n -= 3, p += 3) {
    std::uint32_t v = std::uint32_t{p[0]} << 16 | std::uint32_t{p[1]} << 8 | p[2];
    o[0] = kB64[v >> 18 & 63];
    o[1] = kB64[v >> 12 & 63];
    o[2] = kB64[v >> 6 & 63];
    o[3] = kB64[v & 63];
    o += 4;
  }
  if (n > 0) {
    std::uint32_t v = std::uint32_t{p[0]} << 16;
    if (n == 2) {
      v |= std::uint32_t{p[1]} << 8;
    }
    o[0] = kB64[v >> 18 & 63];
    o[1] = kB64[v >> 12 & 63];
    o[2] = n == 2 ? kB64[v >> 6 & 63] : '=';
    o[3] = '=';
    o += 4;
  }
  return static_cast<std::size_t>(o - dst);
}

std::string base64_encode(ByteView bytes) {
  std::string out((bytes.size() + 2) / 3 * 4, '\0');
  base64_encode_into(bytes, out.data());
  return out;
}

std::optional<Bytes> base64_decode(std::string_view text) {
  Bytes out;
  out.reserve(text.size() / 4 * 3 + 3);
  Base64Decoder decoder(out);
  if (!decoder.feed(text) || !decoder.finish()) {
    return std::nullopt;
  }
  return out;
}

bool Base64Decoder::feed(std::string_view text) {
  const std::size_t old = out_.size();
  out_.resize(old + text.size() / 4 * 3 + 3);
  std::uint8_t* o = out_.data() + old;
  const char* p = text.data();
  const char* end = p + text.size();
  bool ok = true;
  while (p < end) {
    // Fast path: four symbols at a group boundary, no padding seen.
    if (have_ == 0 && pad_ == 0 && end - p >= 4) {
      std::int8_t a = kB64Table[static_cast<std::uint8_t>(p[0])];
      std::int8_t b = kB64Table[static_cast<std::uint8_t>(p[1])];
      std::int8_t c = kB64Table[static_cast<std::uint8_t>(p[2])];
      std::int8_t d = kB64Table[static_cast<std::uint8_t>(p[3])];
      if ((a | b | c | d) >= 0) {
        std::uint32_t v = static_cast<std::uint32_t>(a) << 18 |
                          static_cast<std::uint32_t>(b) << 12 | static_cast<std::uint32_t>(c) << 6 |
                          static_cast<std::uint32_t>(d);
        o[0] = static_cast<std::uint8_t>(v >> 16);
        o[1] = static_cast<std::uint8_t>(v >> 8);
        o[2] = static_cast<std::uint8_t>(v);
        o += 3;
        p += 4;
        continue;
      }
    }
    // Slow path: one symbol (white space, padding, a group split by a line end).
    const char* stop = p + 1;
    if (!feed_slow(p, stop, o)) {
      ok = false;
      break;
    }
    p = stop;
  }
  out_.resize(static_cast<std::size_t>(o - out_.data()));
  return ok;
}

bool Base64Decoder::feed_slow(const char* p, const char* end, std::uint8_t*& o) {
  for (; p < end; ++p) {
    char c = *p;
    std::int8_t v = kB64Table[static_cast<std::uint8_t>(c)];
    if (v >= 0) {
      if (pad_ > 0) {
        return false;  // data after padding
      }
      acc_ = acc_ << 6 | static_cast<std::uint32_t>(v);
      if (++have_ == 4) {
        o[0] = static_cast<std::uint8_t>(acc_ >> 16);
        o[1] = static_cast<std::uint8_t>(acc_ >> 8);
        o[2] = static_cast<std::uint8_t>(acc_);
        o += 3;
        acc_ = 0;
        have_ = 0;
      }
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      continue;
    }
    if (c != '=') {
      return false;
    }
    ++pad_;
  }
  return true;
}

bool Base64Decoder::finish() {
  // Padding completes the last group: "xx==" (one octet) or "xxx=" (two).
  if (pad_ > 2 || (have_ + pad_) % 4 != 0 || (pad_ > 0 && have_ < 2)) {
    return false;
  }
  if (have_ == 2) {
    out_.push_back(static_cast<std::uint8_t>(acc_ >> 4));
  } else if (have_ == 3) {
    out_.push_back(static_cast<std::uint8_t>(acc_ >> 10));
    out_.push_back(static_cast<std::uint8_t>(acc_ >> 2));
  }
  have_ = 0;
  acc_ = 0;
  return true;
}

std::string zbase32_encode(ByteView bytes) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::uint8_t b : bytes) {
    acc = acc << 8 | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kZb32[acc >> bits & 31]);
    }
  }
  if (bits > 0) {
    out.push_back(kZb32[acc << (5 - bits) & 31]);
  }
  return out;
}

bool is_zbase32(std::string_view text) {
  for (char c : text) {
    if (kZb32.find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

}  // namespace keydir
