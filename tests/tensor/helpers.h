// Test helpers for tests/tensor: random non-zero data from a generator independent of
// glia's, host-side double references with broadcasting, and closeness checks.
#pragma once
#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/copy.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/reduce.h"
#include "kernels/softmax.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"
#include "tests/support/devices.h"

namespace glia::test {

// Values in ±[0.1, 1] * scale, never zero (zeros hide unwritten outputs and dead branches).
inline std::vector<double> random_values(int64_t n, uint64_t seed, double scale = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> mag(0.1, 1.0);
  std::vector<double> v(static_cast<size_t>(n));
  for (auto& x : v) x = scale * mag(rng) * ((rng() & 1) ? 1 : -1);
  return v;
}

inline Tensor random_tensor(const Shape& shape, DType dtype, Device device, uint64_t seed, double scale = 1) {
  return from_vector(random_values(shape_numel(shape), seed, scale), shape, dtype, device);
}

// Values rounded to what dtype holds, so a reference in double starts from the same inputs.
inline std::vector<double> values_of(const Tensor& t) { return t.to_vector<double>(); }

inline double tolerance(DType dtype) { return dtype == DType::f32 ? 2e-5 : 1e-11; }

inline void expect_close(const std::vector<double>& got, const std::vector<double>& want, DType dtype,
                         const std::string& what, double scale_tol = 1) {
  ASSERT_EQ(got.size(), want.size()) << what;
  const double tol = tolerance(dtype) * scale_tol;
  int reported = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(got[i] - want[i]);
    if (!(err <= tol * (1 + std::fabs(want[i])))) {
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", reference " << want[i];
      if (++reported > 5) return;
    }
  }
}

// Row-major multi-index helpers for references.
inline std::vector<int64_t> unravel(int64_t flat, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return idx;
}

// Flat index into a tensor of `shape` for an output index of a broadcast shape.
inline int64_t broadcast_index(const std::vector<int64_t>& out_idx, const Shape& shape) {
  int64_t flat = 0;
  const size_t lead = out_idx.size() - shape.size();
  for (size_t d = 0; d < shape.size(); ++d) {
    const int64_t i = shape[d] == 1 ? 0 : out_idx[lead + d];
    flat = flat * shape[d] + i;
  }
  return flat;
}

// numpy broadcasting, written independently of the library's.
inline Shape broadcast(Shape a, Shape b) {
  while (a.size() < b.size()) a.insert(a.begin(), 1);
  while (b.size() < a.size()) b.insert(b.begin(), 1);
  Shape out(a.size());
  for (size_t i = 0; i < a.size(); ++i) out[i] = a[i] == 1 ? b[i] : a[i];
  return out;
}

inline std::vector<double> ref_binary(const std::vector<double>& a, const Shape& sa, const std::vector<double>& b,
                                      const Shape& sb, const Shape& out, const std::function<double(double, double)>& f) {
  std::vector<double> r(static_cast<size_t>(shape_numel(out)));
  for (int64_t i = 0; i < shape_numel(out); ++i) {
    auto idx = unravel(i, out);
    r[static_cast<size_t>(i)] = f(a[static_cast<size_t>(broadcast_index(idx, sa))],
                                  b[static_cast<size_t>(broadcast_index(idx, sb))]);
  }
  return r;
}

inline const std::vector<DType>& float_dtypes() {
  static const std::vector<DType> d{DType::f32, DType::f64};
  return d;
}

}  // namespace glia::test
