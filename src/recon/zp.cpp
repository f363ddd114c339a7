#include "recon/zp.hpp"

#include <algorithm>

namespace keydir::recon {
namespace {

using u64 = std::uint64_t;
__extension__ typedef unsigned __int128 u128;
using Limbs = std::array<u64, 3>;

// p = 530512889551602322505127520352579437339
constexpr Limbs kP{0xc91f85d930a5431bULL, 0x8f1d10e4878b1fdfULL, 0x1ULL};

bool geq(Limbs a, Limbs b) {
  for (int i = 2; i >= 0; --i) {
    if (a[i] != b[i]) {
      return a[i] > b[i];
    }
  }
  return true;
}

// a - b, assuming a >= b.
Limbs sub(Limbs a, Limbs b) {
  Limbs r{};
  u64 borrow = 0;
  for (int i = 0; i < 3; ++i) {
    u128 d = static_cast<u128>(a[i]) - b[i] - borrow;
    r[i] = static_cast<u64>(d);
    borrow = static_cast<u64>(d >> 64) & 1;
  }
  return r;
}

// a + b (no overflow: both < p < 2^129).
Limbs add(Limbs a, Limbs b) {
  Limbs r{};
  u64 carry = 0;
  for (int i = 0; i < 3; ++i) {
    u128 s = static_cast<u128>(a[i]) + b[i] + carry;
    r[i] = static_cast<u64>(s);
    carry = static_cast<u64>(s >> 64);
  }
  return r;
}

Limbs add_mod(Limbs a, Limbs b) {
  Limbs r = add(a, b);
  return geq(r, kP) ? sub(r, kP) : r;
}

// -p^-1 mod 2^64 by Newton's iteration.
u64 neg_inverse(u64 p0) {
  u64 x = 1;
  for (int i = 0; i < 7; ++i) {
    x *= 2 - p0 * x;
  }
  return ~x + 1;
}

const u64 kPInv = neg_inverse(kP[0]);

// Montgomery multiplication (CIOS): a * b / 2^192 mod p.
Limbs mont_mul(Limbs a, Limbs b) {
  u64 t[5] = {0, 0, 0, 0, 0};
  for (int i = 0; i < 3; ++i) {
    u64 c = 0;
    for (int j = 0; j < 3; ++j) {
      u128 s = static_cast<u128>(a[j]) * b[i] + t[j] + c;
      t[j] = static_cast<u64>(s);
      c = static_cast<u64>(s >> 64);
    }
    u128 s = static_cast<u128>(t[3]) + c;
    t[3] = static_cast<u64>(s);
    t[4] = static_cast<u64>(s >> 64);
    u64 m = t[0] * kPInv;
    s = static_cast<u128>(m) * kP[0] + t[0];
    c = static_cast<u64>(s >> 64);
    for (int j = 1; j < 3; ++j) {
      s = static_cast<u128>(m) * kP[j] + t[j] + c;
      t[j - 1] = static_cast<u64>(s);
      c = static_cast<u64>(s >> 64);
    }
    s = static_cast<u128>(t[3]) + c;
    t[2] = static_cast<u64>(s);
    t[3] = t[4] + static_cast<u64>(s >> 64);
  }
  Limbs r{t[0], t[1], t[2]};
  if (t[3] != 0 || geq(r, kP)) {
    r = sub(r, kP);
  }
  return r;
}

// 2^k mod p by doubling.
Limbs pow2_mod(int k) {
  Limbs r{1, 0, 0};
  for (int i = 0; i < k; ++i) {
    r = add_mod(r, r);
  }
  return r;
}

const Limbs kR2 = pow2_mod(384);   // R^2 mod p, R = 2^192
const Limbs kOne = pow2_mod(192);  // R mod p: 1 in Montgomery form

// Any a < 2^192 (not only a < p): the CIOS result (a * R^2 + m p) / R stays
// below 2p, and one subtraction reduces it.
Limbs to_mont(Limbs a) {
  return mont_mul(a, kR2);
}
Limbs from_mont(Limbs a) {
  return mont_mul(a, Limbs{1, 0, 0});
}

const Limbs kHalf = [] {
  Limbs h = sub(kP, Limbs{1, 0, 0});
  h[0] = (h[0] >> 1) | (h[1] << 63);
  h[1] = (h[1] >> 1) | (h[2] << 63);
  h[2] >>= 1;
  return h;
}();

}  // namespace

const std::array<std::uint64_t, 3>& Zp::modulus() {
  return kP;
}
const std::array<std::uint64_t, 3>& Zp::half_order() {
  return kHalf;
}

Zp Zp::of_int(std::int64_t v) {
  Zp z;
  u64 mag = v < 0 ? static_cast<u64>(0) - static_cast<u64>(v) : static_cast<u64>(v);
  z.m_ = to_mont(Limbs{mag, 0, 0});
  return v < 0 ? -z : z;
}

Zp Zp::from_le(ByteView le) {
  Limbs a{};
  std::size_t n = std::min<std::size_t>(le.size(), 24);
  for (std::size_t i = 0; i < n; ++i) {
    a[i / 8] |= static_cast<u64>(le[i]) << (8 * (i % 8));
  }
  Zp z;
  z.m_ = to_mont(a);
  return z;
}

Bytes Zp::to_le(std::size_t width) const {
  Limbs a = from_mont(m_);
  Bytes out(std::max<std::size_t>(width, 1), 0);
  for (std::size_t i = 0; i < out.size() && i < 24; ++i) {
    out[i] = static_cast<std::uint8_t>(a[i / 8] >> (8 * (i % 8)));
  }
  return out;
}

std::string Zp::to_string() const {
  Limbs a = from_mont(m_);
  char buf[64];
  std::size_t pos = sizeof buf;
  do {
    u128 rem = 0;
    for (int i = 2; i >= 0; --i) {
      u128 cur = (rem << 64) | a[i];
      a[i] = static_cast<u64>(cur / 10);
      rem = cur % 10;
    }
    buf[--pos] = static_cast<char>('0' + static_cast<int>(rem));
  } while (a[0] != 0 || a[1] != 0 || a[2] != 0);
  return std::string(buf + pos, sizeof buf - pos);
}

Zp Zp::from_decimal(std::string_view text) {
  Zp z;
  const Zp ten = of_int(10);
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      z = z * ten + of_int(c - '0');
    }
  }
  return z;
}

Zp operator+(Zp a, Zp b) {
  Zp r;
  r.m_ = add_mod(a.m_, b.m_);
  return r;
}

Zp operator-(Zp a, Zp b) {
  Zp r;
  r.m_ = geq(a.m_, b.m_) ? sub(a.m_, b.m_) : sub(add(a.m_, kP), b.m_);
  return r;
}

Zp operator*(Zp a, Zp b) {
  Zp r;
  r.m_ = mont_mul(a.m_, b.m_);
  return r;
}

Zp Zp::pow(const std::array<std::uint64_t, 3>& e) const {
  const Zp base = *this;
  Zp result;
  result.m_ = kOne;
  bool started = false;  // squaring 1 is a waste: skip the leading zeros
  for (int i = 2; i >= 0; --i) {
    for (int bit = 63; bit >= 0; --bit) {
      if (started) {
        result = result * result;
      }
      if ((e[i] >> bit) & 1) {
        result = result * base;
        started = true;
      }
    }
  }
  return result;
}

namespace {

bool is_one(const Limbs& a) {
  return a[0] == 1 && a[1] == 0 && a[2] == 0;
}

void shr1(Limbs& a) {
  a[0] = (a[0] >> 1) | (a[1] << 63);
  a[1] = (a[1] >> 1) | (a[2] << 63);
  a[2] >>= 1;
}

// x / 2 mod p for x < p.
void half_mod(Limbs& x) {
  if (x[0] & 1) {
    x = add(x, kP);  // < 2^130: fits
  }
  shr1(x);
}

Limbs sub_mod(Limbs a, Limbs b) {
  return geq(a, b) ? sub(a, b) : sub(add(a, kP), b);
}

}  // namespace

Zp Zp::inverse() const {
  // Binary extended Euclid on the plain value (about 4x faster than
  // Fermat's a^(p-2) here), back to Montgomery form.
  Limbs a = from_mont(m_);
  if (a[0] == 0 && a[1] == 0 && a[2] == 0) {
    return Zp();
  }
  Limbs u = a, v = kP, x1{1, 0, 0}, x2{0, 0, 0};
  while (!is_one(u) && !is_one(v)) {
    while ((u[0] & 1) == 0) {
      shr1(u);
      half_mod(x1);
    }
    while ((v[0] & 1) == 0) {
      shr1(v);
      half_mod(x2);
    }
    if (geq(u, v)) {
      u = sub(u, v);
      x1 = sub_mod(x1, x2);
    } else {
      v = sub(v, u);
      x2 = sub_mod(x2, x1);
    }
  }
  Zp r;
  r.m_ = to_mont(is_one(u) ? x1 : x2);
  return r;
}

}  // namespace keydir::recon
