// Test data helpers shared by every suite: seeded random vectors (non-zero by default, so
// a kernel that ignores an input fails), NaN poisoning of outputs (an element the kernel
// forgot to write stays NaN), and error measures against a double-precision reference.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

namespace glia::test {

// n values uniform in [lo, hi] drawn from std::mt19937(seed); values with |v| < min_abs
// are redrawn (pass min_abs = 0 to allow zeros; the range must contain such values).
std::vector<double> random_doubles(size_t n, uint32_t seed, double lo = -2.0, double hi = 2.0, double min_abs = 0.05);

// n integers uniform in [lo, hi).
std::vector<int64_t> random_ints(size_t n, uint32_t seed, int64_t lo, int64_t hi);

// Elementwise static_cast of a vector (e.g. random doubles to float, float data to double
// for a reference computed in double).
template <class To, class From>
std::vector<To> cast_vector(const std::vector<From>& v) {
  std::vector<To> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<To>(v[i]);
  return out;
}

template <class T>
std::vector<T> random_vector(size_t n, uint32_t seed, double lo = -2.0, double hi = 2.0, double min_abs = 0.05) {
  return cast_vector<T>(random_doubles(n, seed, lo, hi, min_abs));
}

// A buffer of n NaNs (or, for integer types, the type's max) to be overwritten by a kernel.
template <class T>
std::vector<T> poisoned(size_t n) {
  if constexpr (std::numeric_limits<T>::has_quiet_NaN) return std::vector<T>(n, std::numeric_limits<T>::quiet_NaN());
  else return std::vector<T>(n, std::numeric_limits<T>::max());
}

template <class T>
void poison(std::vector<T>& v) {
  v = poisoned<T>(v.size());
}

// max_i |got_i - ref_i| / max(|ref_i|, floor). A floor of ~1 turns it into an absolute
// error for small values (use when cancellation makes tiny references meaningless).
// NaN in one but not the other, or a size mismatch, gives +infinity; NaN in both is 0.
template <class T>
double max_rel_error(const std::vector<T>& got, const std::vector<double>& ref, double floor = 1e-6) {
  if (got.size() != ref.size()) return std::numeric_limits<double>::infinity();
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = static_cast<double>(got[i]), r = ref[i];
    if (std::isnan(g) || std::isnan(r)) {
      if (std::isnan(g) != std::isnan(r)) return std::numeric_limits<double>::infinity();
      continue;
    }
    if (std::isinf(g) || std::isinf(r)) {
      if (g != r) return std::numeric_limits<double>::infinity();
      continue;
    }
    const double e = std::abs(g - r) / std::max(std::abs(r), floor);
    worst = e > worst ? e : worst;
  }
  return worst;
}

// Default comparison tolerance for a kernel computed in T against a double reference.
template <class T>
constexpr double tolerance() {
  return std::is_same_v<T, float> ? 1e-5 : 1e-12;
}

// Contiguous (row-major) strides of a shape, in elements.
std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& sizes);

// Product of sizes (1 for a 0-d shape).
int64_t shape_numel(const std::vector<int64_t>& sizes);

// Element offset of the linear_index-th element (row-major order over sizes) in a
// buffer laid out with `strides`.
int64_t strided_offset(const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides, int64_t linear_index);

}  // namespace glia::test
