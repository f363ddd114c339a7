// The finite field Z(p) of SKS set reconciliation, p the prime
// 530512889551602322505127520352579437339 (129 bits), which holds every
// 128-bit SKS key hash. SKS, Hockeypuck (conflux) and keydir must all use
// this p: sample values cross the wire between peers.
//
// A fixed-width Montgomery representation (three 64-bit limbs, R = 2^192):
// a prefix-tree insert does dozens of multiplications, and a general
// big-integer library allocates on each. Checked against Crypto++'s Integer
// in tests/unit/recon.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>

#include "common/bytes.hpp"

namespace keydir::recon {

// Octets of an element on the wire (conflux SksZpNbytes): 129 bits → 17.
inline constexpr std::size_t kZpBytes = 17;

class Zp {
 public:
  constexpr Zp() = default;  // zero
  static Zp of_int(std::int64_t v);
  // Little-endian octets (an SKS key hash as it is, or a wire element),
  // reduced mod p. At most 24 octets.
  static Zp from_le(ByteView le);
  // The canonical value, little-endian, padded with zeros to `width` octets.
  [[nodiscard]] Bytes to_le(std::size_t width = kZpBytes) const;
  // Decimal, for logs and test vectors.
  [[nodiscard]] std::string to_string() const;
  static Zp from_decimal(std::string_view digits);

  [[nodiscard]] bool is_zero() const { return m_[0] == 0 && m_[1] == 0 && m_[2] == 0; }
  friend Zp operator+(Zp a, Zp b);
  friend Zp operator-(Zp a, Zp b);
  friend Zp operator*(Zp a, Zp b);
  Zp operator-() const { return Zp() - *this; }
  // Multiplicative inverse; the inverse of zero is zero (callers check).
  [[nodiscard]] Zp inverse() const;
  friend Zp operator/(Zp a, Zp b) { return a * b.inverse(); }
  // this^e for a little-endian exponent of three limbs.
  [[nodiscard]] Zp pow(const std::array<std::uint64_t, 3>& e) const;

  // Operands are taken by value throughout: g++ 12 at -O1 and above
  // miscompiled `x = f(x, x)` with reference parameters here (the result
  // written into x before x was read; tests/unit/recon caught it).
  // Montgomery form is unique per value: comparison is on it (an order,
  // not the numeric one).
  friend bool operator==(const Zp&, const Zp&) = default;
  friend auto operator<=>(const Zp&, const Zp&) = default;

  // p itself and (p - 1) / 2, as exponents.
  static const std::array<std::uint64_t, 3>& modulus();
  static const std::array<std::uint64_t, 3>& half_order();

 private:
  std::array<std::uint64_t, 3> m_{};  // Montgomery form, < p
};

}  // namespace keydir::recon
