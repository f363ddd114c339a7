// Polynomials over Z(p) and the decoding step of Minsky–Trachtenberg set
// reconciliation: from the ratio of two sets' characteristic polynomials,
// sampled at a few points, recover the elements each side lacks.
#pragma once

#include <cstddef>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "recon/zp.hpp"

namespace keydir::recon {

// Coefficients from the constant term up; no trailing zero coefficient
// (the zero polynomial is empty).
class Poly {
 public:
  Poly() = default;
  explicit Poly(std::vector<Zp> coeffs);
  static Poly constant(const Zp& c) { return Poly({c}); }

  [[nodiscard]] int degree() const { return static_cast<int>(c_.size()) - 1; }  // -1 for 0
  [[nodiscard]] bool is_zero() const { return c_.empty(); }
  [[nodiscard]] const std::vector<Zp>& coeffs() const { return c_; }
  [[nodiscard]] Zp eval(const Zp& x) const;
  [[nodiscard]] Poly monic() const;

  friend Poly operator+(const Poly& a, const Poly& b);
  friend Poly operator-(const Poly& a, const Poly& b);
  friend Poly operator*(const Poly& a, const Poly& b);
  friend bool operator==(const Poly&, const Poly&) = default;

  // Quotient and remainder; `b` must not be zero.
  static std::pair<Poly, Poly> divmod(const Poly& a, const Poly& b);
  static Poly gcd(Poly a, Poly b);  // monic

 private:
  void trim();
  std::vector<Zp> c_;
};

// A uniformly random 128-bit element (an SKS key hash's range).
Zp random_element(std::mt19937_64& rng);

// The SKS sample points for `n` samples: 0, -1, 1, -2, 2, ... (conflux Zpoints).
std::vector<Zp> sample_points(std::size_t n);

// The distinct roots of `f` if it splits into distinct linear factors over
// Z(p); nullopt otherwise. Cantor–Zassenhaus with the given random source.
std::optional<std::vector<Zp>> roots(const Poly& f, std::mt19937_64& rng);

struct Difference {
  std::vector<Zp> remote_only;  // the peer has them, we do not
  std::vector<Zp> local_only;   // we have them, the peer does not
};

// values[i] = remote characteristic value / local one at points[i];
// size_diff = remote set size - local set size. The last point checks the
// answer. nullopt when the difference is larger than the samples can
// resolve ("low mbar"): the caller splits the problem further.
std::optional<Difference> reconcile(const std::vector<Zp>& values, const std::vector<Zp>& points,
                                    int size_diff, std::mt19937_64& rng);

}  // namespace keydir::recon
