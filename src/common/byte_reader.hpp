// ByteReader: the only way keydir reads attacker-controlled bytes.
//
// Security considerations: every read checks the remaining length first and
// fails with ErrorCode::MalformedPacket naming the structure being read
// (`what`), so a truncated or lying length field can never read out of bounds.
// Views returned by read_bytes() borrow the underlying buffer.
#pragma once

#include <cstdint>
#include <string>

#include "common/bytes.hpp"
#include "common/result.hpp"

namespace keydir {

class ByteReader {
 public:
  ByteReader(ByteView data, std::string_view what) : data_(data), what_(what) {}

  [[nodiscard]] std::size_t remaining() const { return data_.size() - pos_; }
  [[nodiscard]] std::size_t position() const { return pos_; }
  [[nodiscard]] bool at_end() const { return pos_ == data_.size(); }
  [[nodiscard]] ByteView rest() const { return data_.subspan(pos_); }
  [[nodiscard]] ByteView consumed() const { return data_.first(pos_); }

  [[nodiscard]] Result<std::uint8_t> read_u8();
  [[nodiscard]] Result<std::uint16_t> read_u16();
  [[nodiscard]] Result<std::uint32_t> read_u32();
  [[nodiscard]] Result<ByteView> read_bytes(std::size_t n);
  // A length of `len_bytes` (1, 2 or 4) big-endian octets, checked to lie in
  // [min, max], followed by that many bytes.
  [[nodiscard]] Result<ByteView> read_length_prefixed(std::size_t len_bytes, std::size_t min,
                                                      std::size_t max);
  // Fails unless every byte was consumed.
  [[nodiscard]] Result<void> expect_end() const;

  [[nodiscard]] tl::unexpected<Error> error(std::string_view why) const;

 private:
  ByteView data_;
  std::size_t pos_ = 0;
  std::string_view what_;
};

}  // namespace keydir
