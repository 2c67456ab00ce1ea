// Finite-difference gradient checks on raw double buffers, for any kernel family.
//
// For f: R^n -> R^m, a random direction v (input side) and cotangent u (output side):
//   numeric  = u . (f(x + eps v) - f(x - eps v)) / (2 eps)      (central difference)
//   analytic = (J^T u) . v                                       (what a backward computes)
// Agreement for random u, v checks the whole backward at the cost of two forwards.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

namespace glia::test {

inline std::vector<double> random_doubles(size_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(n);
  for (double& e : v) e = dist(rng);
  return v;
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) s += a[i] * b[i];
  return s;
}

using BufferFn = std::function<void(const double* in, double* out)>;

// u . (f(x + eps v) - f(x - eps v)) / (2 eps); f writes out_size outputs.
inline double fd_directional(const BufferFn& f, const std::vector<double>& x, size_t out_size,
                             const std::vector<double>& v, const std::vector<double>& u, double eps = 1e-6) {
  std::vector<double> xp(x), xm(x), yp(out_size), ym(out_size);
  for (size_t i = 0; i < x.size(); ++i) {
    xp[i] += eps * v[i];
    xm[i] -= eps * v[i];
  }
  f(xp.data(), yp.data());
  f(xm.data(), ym.data());
  double s = 0;
  for (size_t i = 0; i < out_size; ++i) s += u[i] * (yp[i] - ym[i]);
  return s / (2 * eps);
}

// |numeric - analytic| <= atol + rtol * max(|numeric|, |analytic|)
inline ::testing::AssertionResult directional_close(double numeric, double analytic, double rtol = 1e-6,
                                                    double atol = 1e-8) {
  double tol = atol + rtol * std::max(std::fabs(numeric), std::fabs(analytic));
  if (std::fabs(numeric - analytic) <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "finite difference " << numeric << " vs analytic " << analytic
                                       << " (difference " << numeric - analytic << ", tolerance " << tol << ")";
}

// Checks one input of f against its backward. `backward(u, gx)` must write J^T u into gx
// (x.size() elements) for the current x.
inline ::testing::AssertionResult check_gradient(const BufferFn& f, const std::vector<double>& x, size_t out_size,
                                                 const std::function<void(const double* u, double* gx)>& backward,
                                                 uint64_t seed, double eps = 1e-6, double rtol = 1e-6,
                                                 double atol = 1e-8) {
  std::vector<double> v = random_doubles(x.size(), seed);
  std::vector<double> u = random_doubles(out_size, seed + 1);
  std::vector<double> gx(x.size(), std::nan(""));
  backward(u.data(), gx.data());
  return directional_close(fd_directional(f, x, out_size, v, u, eps), dot(gx, v), rtol, atol);
}

}  // namespace glia::test
