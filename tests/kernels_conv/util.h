// Helpers for the layer-kernel tests: random data, NaN poisoning, typed copies, comparison.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/dtype.h"
#include "tests/support/finite_diff.h"

namespace glia::test {

template <class T>
std::vector<T> cast_to(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

template <class T>
std::vector<T> poisoned(size_t n) {
  return std::vector<T>(n, std::numeric_limits<T>::quiet_NaN());
}

// Elementwise |got - want| <= atol + rtol * |want|; NaN anywhere fails.
template <class T>
::testing::AssertionResult all_close(const std::vector<T>& got, const std::vector<double>& want, double rtol,
                                     double atol) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << " vs expected " << want.size();
  for (size_t i = 0; i < got.size(); ++i) {
    double g = double(got[i]);
    if (!(std::fabs(g - want[i]) <= atol + rtol * std::fabs(want[i])))
      return ::testing::AssertionFailure() << "element " << i << ": got " << g << ", expected " << want[i];
  }
  return ::testing::AssertionSuccess();
}

template <class T>
constexpr DType dtype_v = dtype_of<T>::value;

// Tolerances for a float32 / float64 kernel against a double reference of sums of ~k terms.
template <class T>
double rtol_for() {
  return std::is_same_v<T, float> ? 2e-4 : 1e-10;
}
template <class T>
double atol_for() {
  return std::is_same_v<T, float> ? 2e-4 : 1e-10;
}

}  // namespace glia::test
