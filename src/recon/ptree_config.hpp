// The parameters and node names of the SKS prefix tree, shared by every
// tree (in memory or stored) and by the sessions.
#pragma once

#include <cstdint>
#include <string>

#include "common/bytes.hpp"
#include "recon/zp.hpp"

namespace keydir::recon {

struct TreeConfig {
  int bit_quantum = 2;
  int mbar = 5;
  int thresh_mult = 10;
  [[nodiscard]] int split_threshold() const { return thresh_mult * mbar; }
  [[nodiscard]] int join_threshold() const { return split_threshold() / 2; }
  [[nodiscard]] int num_samples() const { return mbar + 1; }
};

// Bits numbered from the most significant bit of the first octet (conflux
// Bitstring).
class Bitstring {
 public:
  Bitstring() = default;
  explicit Bitstring(int bits) : bits_(bits), buf_((static_cast<std::size_t>(bits) + 7) / 8) {}
  // The first `bits` bits of `bytes` (the rest of the last octet cleared).
  static Bitstring of(ByteView bytes, int bits);
  // An element's bits: its 17 little-endian octets, 129 bits.
  static Bitstring of(const Zp& z);

  [[nodiscard]] int size() const { return bits_; }
  [[nodiscard]] const Bytes& bytes() const { return buf_; }
  [[nodiscard]] int get(int i) const {
    return (buf_[static_cast<std::size_t>(i / 8)] >> (7 - i % 8)) & 1;
  }
  void set(int i, int v);
  [[nodiscard]] std::string to_string() const;  // "0110..."
  friend bool operator==(const Bitstring&, const Bitstring&) = default;

 private:
  int bits_ = 0;
  Bytes buf_;
};

// The child of a node at `depth` that the element or prefix `bits` goes
// to: bit_quantum bits, the first one the least significant (conflux).
int child_index(const Bitstring& bits, int depth, int bit_quantum);

}  // namespace keydir::recon
