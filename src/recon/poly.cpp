#include "recon/poly.hpp"

#include <algorithm>
#include <utility>

namespace keydir::recon {

Poly::Poly(std::vector<Zp> coeffs) : c_(std::move(coeffs)) {
  trim();
}

void Poly::trim() {
  while (!c_.empty() && c_.back().is_zero()) {
    c_.pop_back();
  }
}

Zp Poly::eval(const Zp& x) const {
  Zp acc;
  for (auto it = c_.rbegin(); it != c_.rend(); ++it) {
    acc = acc * x + *it;
  }
  return acc;
}

Poly Poly::monic() const {
  if (c_.empty()) {
    return {};
  }
  Zp inv = c_.back().inverse();
  std::vector<Zp> out(c_.size());
  for (std::size_t i = 0; i < c_.size(); ++i) {
    out[i] = c_[i] * inv;
  }
  return Poly(std::move(out));
}

Poly operator+(const Poly& a, const Poly& b) {
  std::vector<Zp> out(std::max(a.c_.size(), b.c_.size()));
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i < a.c_.size()) {
      out[i] = out[i] + a.c_[i];
    }
    if (i < b.c_.size()) {
      out[i] = out[i] + b.c_[i];
    }
  }
  return Poly(std::move(out));
}

Poly operator-(const Poly& a, const Poly& b) {
  std::vector<Zp> out(std::max(a.c_.size(), b.c_.size()));
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i < a.c_.size()) {
      out[i] = out[i] + a.c_[i];
    }
    if (i < b.c_.size()) {
      out[i] = out[i] - b.c_[i];
    }
  }
  return Poly(std::move(out));
}

Poly operator*(const Poly& a, const Poly& b) {
  if (a.c_.empty() || b.c_.empty()) {
    return {};
  }
  std::vector<Zp> out(a.c_.size() + b.c_.size() - 1);
  for (std::size_t i = 0; i < a.c_.size(); ++i) {
    for (std::size_t j = 0; j < b.c_.size(); ++j) {
      out[i + j] = out[i + j] + a.c_[i] * b.c_[j];
    }
  }
  return Poly(std::move(out));
}

std::pair<Poly, Poly> Poly::divmod(const Poly& a, const Poly& b) {
  std::vector<Zp> rem = a.c_;
  const std::size_t db = b.c_.size();
  if (rem.size() < db) {
    return {Poly(), a};
  }
  std::vector<Zp> quo(rem.size() - db + 1);
  // Most divisors here are monic (x^p mod f, the factor search): no inverse.
  static const Zp kOne = Zp::of_int(1);
  const Zp lead_inv = b.c_.back() == kOne ? kOne : b.c_.back().inverse();
  for (std::size_t k = quo.size(); k-- > 0;) {
    Zp q = rem[k + db - 1] * lead_inv;
    quo[k] = q;
    if (q.is_zero()) {
      continue;
    }
    for (std::size_t j = 0; j < db; ++j) {
      rem[k + j] = rem[k + j] - q * b.c_[j];
    }
  }
  rem.resize(db - 1);
  return {Poly(std::move(quo)), Poly(std::move(rem))};
}

Poly Poly::gcd(Poly a, Poly b) {
  while (!b.is_zero()) {
    Poly r = divmod(a, b).second;
    a = std::move(b);
    b = std::move(r);
  }
  return a.monic();
}

namespace {

// f^e mod g, e given as three little-endian limbs.
Poly pow_mod(Poly f, const std::array<std::uint64_t, 3>& e, const Poly& g) {
  Poly result = Poly::constant(Zp::of_int(1));
  f = Poly::divmod(f, g).second;
  for (int i = 2; i >= 0; --i) {
    for (int bit = 63; bit >= 0; --bit) {
      result = Poly::divmod(result * result, g).second;
      if ((e[i] >> bit) & 1) {
        result = Poly::divmod(result * f, g).second;
      }
    }
  }
  return result;
}

// True when x^p = x mod f: f is a product of distinct linear factors
// (f squarefree is implied for the monic f we get from reconcile).
bool splits(const Poly& f) {
  if (f.degree() <= 1) {
    return true;
  }
  Poly x({Zp(), Zp::of_int(1)});
  Poly xp = pow_mod(x, Zp::modulus(), f);
  return Poly::divmod(xp - x, f).second.is_zero();
}

// Equal-degree (1) factorisation of a monic f that splits.
bool find_roots(const Poly& f, std::mt19937_64& rng, std::vector<Zp>& out, int depth) {
  if (f.degree() <= 0) {
    return true;
  }
  if (f.degree() == 1) {
    // x + c: root -c.
    out.push_back(-f.coeffs()[0]);
    return true;
  }
  if (depth > 200) {
    return false;
  }
  for (int attempt = 0; attempt < 64; ++attempt) {
    // gcd((x + r)^((p-1)/2) - 1, f) splits off about half of the roots.
    Poly xr({random_element(rng), Zp::of_int(1)});
    Poly h = pow_mod(xr, Zp::half_order(), f) - Poly::constant(Zp::of_int(1));
    Poly g = Poly::gcd(f, h);
    if (g.degree() > 0 && g.degree() < f.degree()) {
      Poly q = Poly::divmod(f, g).first.monic();
      return find_roots(g, rng, out, depth + 1) && find_roots(q, rng, out, depth + 1);
    }
  }
  return false;
}

// One solution of the linear system `m` (rows of n unknowns, then the
// right-hand side) by Gauss–Jordan elimination, free unknowns set to zero:
// when the true difference is smaller than the degrees tried, A and B share
// a free common factor, which the gcd removes afterwards. nullopt when the
// system is inconsistent.
std::optional<std::vector<Zp>> solve(std::vector<std::vector<Zp>> m, std::size_t n) {
  std::vector<std::size_t> pivot_col;
  std::size_t row = 0;
  for (std::size_t col = 0; col < n && row < m.size(); ++col) {
    std::size_t p = row;
    while (p < m.size() && m[p][col].is_zero()) {
      ++p;
    }
    if (p == m.size()) {
      continue;  // a free unknown
    }
    std::swap(m[p], m[row]);
    Zp inv = m[row][col].inverse();
    for (auto& v : m[row]) {
      v = v * inv;
    }
    for (std::size_t r = 0; r < m.size(); ++r) {
      if (r != row && !m[r][col].is_zero()) {
        Zp f = m[r][col];
        for (std::size_t k = col; k <= n; ++k) {
          m[r][k] = m[r][k] - f * m[row][k];
        }
      }
    }
    pivot_col.push_back(col);
    ++row;
  }
  for (std::size_t r = row; r < m.size(); ++r) {
    if (!m[r][n].is_zero()) {
      return std::nullopt;
    }
  }
  std::vector<Zp> x(n);
  for (std::size_t r = 0; r < pivot_col.size(); ++r) {
    x[pivot_col[r]] = m[r][n];
  }
  return x;
}

}  // namespace

Zp random_element(std::mt19937_64& rng) {
  std::uint8_t b[16];
  for (int i = 0; i < 16; i += 8) {
    std::uint64_t v = rng();
    for (int j = 0; j < 8; ++j) {
      b[i + j] = static_cast<std::uint8_t>(v >> (8 * j));
    }
  }
  return Zp::from_le(ByteView(b, 16));
}

std::vector<Zp> sample_points(std::size_t n) {
  std::vector<Zp> pts;
  for (std::size_t i = 0; i < n; ++i) {
    auto half = static_cast<std::int64_t>((i + 1) / 2);
    pts.push_back(Zp::of_int(i % 2 == 0 ? half : -half));
  }
  return pts;
}

std::optional<std::vector<Zp>> roots(const Poly& f, std::mt19937_64& rng) {
  Poly m = f.monic();
  if (!splits(m)) {
    return std::nullopt;
  }
  std::vector<Zp> out;
  if (!find_roots(m, rng, out, 0)) {
    return std::nullopt;
  }
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) {
    return std::nullopt;  // a repeated root: not a set difference
  }
  return out;
}

std::optional<Difference> reconcile(const std::vector<Zp>& values, const std::vector<Zp>& points,
                                    int size_diff, std::mt19937_64& rng) {
  if (values.size() != points.size() || values.size() < 2) {
    return std::nullopt;
  }
  // Interpolate on all but the last sample; the last one checks.
  int mbar = static_cast<int>(values.size()) - 1;
  if (std::abs(size_diff) > mbar) {
    return std::nullopt;
  }
  if ((mbar + size_diff) % 2 != 0) {
    --mbar;
  }
  const int ma = (mbar + size_diff) / 2;  // degree of the remote-only polynomial
  const int mb = (mbar - size_diff) / 2;  // degree of the local-only one
  // Unknowns a_0..a_{ma-1}, b_0..b_{mb-1} of monic A and B with
  // A(k) = f(k) B(k) at each point k:
  //   sum a_i k^i - f sum b_i k^i = f k^mb - k^ma.
  std::vector<std::vector<Zp>> m;
  for (int j = 0; j < mbar; ++j) {
    const Zp& k = points[static_cast<std::size_t>(j)];
    const Zp& f = values[static_cast<std::size_t>(j)];
    std::vector<Zp> row(static_cast<std::size_t>(mbar + 1));
    Zp kp = Zp::of_int(1);
    for (int i = 0; i < std::max(ma, mb); ++i) {
      if (i < ma) {
        row[static_cast<std::size_t>(i)] = kp;
      }
      if (i < mb) {
        row[static_cast<std::size_t>(ma + i)] = -(f * kp);
      }
      kp = kp * k;
    }
    Zp k_ma = Zp::of_int(1);
    for (int i = 0; i < ma; ++i) {
      k_ma = k_ma * k;
    }
    Zp k_mb = Zp::of_int(1);
    for (int i = 0; i < mb; ++i) {
      k_mb = k_mb * k;
    }
    row[static_cast<std::size_t>(mbar)] = f * k_mb - k_ma;
    m.push_back(std::move(row));
  }
  std::vector<Zp> sol;
  if (mbar > 0) {
    auto s = solve(std::move(m), static_cast<std::size_t>(mbar));
    if (!s) {
      return std::nullopt;
    }
    sol = std::move(*s);
  }
  std::vector<Zp> ac(sol.begin(), sol.begin() + ma);
  ac.push_back(Zp::of_int(1));
  std::vector<Zp> bc(sol.begin() + ma, sol.end());
  bc.push_back(Zp::of_int(1));
  Poly a(std::move(ac));
  Poly b(std::move(bc));
  Poly g = Poly::gcd(a, b);
  a = Poly::divmod(a, g).first;
  b = Poly::divmod(b, g).first;
  // Check at the last point.
  const Zp& k = points.back();
  Zp bk = b.eval(k);
  if (bk.is_zero() || a.eval(k) / bk != values.back()) {
    return std::nullopt;
  }
  auto ra = roots(a, rng);
  auto rb = roots(b, rng);
  if (!ra || !rb) {
    return std::nullopt;
  }
  return Difference{std::move(*ra), std::move(*rb)};
}

}  // namespace keydir::recon
