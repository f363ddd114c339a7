#include "common/byte_reader.hpp"

namespace keydir {

tl::unexpected<Error> ByteReader::error(std::string_view why) const {
  return fail(ErrorCode::MalformedPacket, std::string(what_) + ": " + std::string(why));
}

Result<std::uint8_t> ByteReader::read_u8() {
  if (remaining() < 1) {
    return error("truncated");
  }
  return data_[pos_++];
}

Result<std::uint16_t> ByteReader::read_u16() {
  if (remaining() < 2) {
    return error("truncated");
  }
  auto v = static_cast<std::uint16_t>(data_[pos_] << 8 | data_[pos_ + 1]);
  pos_ += 2;
  return v;
}

Result<std::uint32_t> ByteReader::read_u32() {
  if (remaining() < 4) {
    return error("truncated");
  }
  std::uint32_t v = std::uint32_t{data_[pos_]} << 24 | std::uint32_t{data_[pos_ + 1]} << 16 |
                    std::uint32_t{data_[pos_ + 2]} << 8 | data_[pos_ + 3];
  pos_ += 4;
  return v;
}

Result<ByteView> ByteReader::read_bytes(std::size_t n) {
  if (remaining() < n) {
    return error("truncated");
  }
  ByteView v = data_.subspan(pos_, n);
  pos_ += n;
  return v;
}

Result<ByteView> ByteReader::read_length_prefixed(std::size_t len_bytes, std::size_t min,
                                                  std::size_t max) {
  std::size_t len = 0;
  if (len_bytes == 1) {
    auto v = read_u8();
    if (!v) {
      return tl::unexpected(v.error());
    }
    len = *v;
  } else if (len_bytes == 2) {
    auto v = read_u16();
    if (!v) {
      return tl::unexpected(v.error());
    }
    len = *v;
  } else {
    auto v = read_u32();
    if (!v) {
      return tl::unexpected(v.error());
    }
    len = *v;
  }
  if (len < min || len > max) {
    return error("length " + std::to_string(len) + " out of range");
  }
  return read_bytes(len);
}

Result<void> ByteReader::expect_end() const {
  if (!at_end()) {
    return error(std::to_string(remaining()) + " trailing bytes");
  }
  return {};
}

}  // namespace keydir
