// GEMM (kernels/gemm.h) on every backend against a double triple loop: the cases of
// cases.h (every transpose, padded rows, batches with gaps, alpha/beta, beta = 0 with NaN
// in C, empty and k = 0, and on cpu/GPU the sizes above the threaded split's threshold).
// GEMM has no backward slot: the tensor layer's matmul backward is two more GEMMs, and
// the transposed cases are exactly those.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <vector>

#include "kernels/gemm.h"
#include "tests/kernels_ops/harness.h"

namespace glia::test::ops {
namespace {

class GemmOps : public OpTest {};

template <class T>
void check_gemm(Backend backend, const GemmCase& c) {
  const int64_t a_rows = c.trans_a ? c.k : c.m, a_cols = c.trans_a ? c.m : c.k;
  const int64_t b_rows = c.trans_b ? c.n : c.k, b_cols = c.trans_b ? c.k : c.n;
  const int64_t lda = a_cols + c.pad, ldb = b_cols + c.pad, ldc = c.n + c.pad;
  const int64_t stride_a = a_rows * lda + 3, stride_b = b_rows * ldb + 3, stride_c = c.m * ldc + 3;
  const std::vector<T> a = random_vector<T>(size_t(stride_a * c.batch), 81);
  const std::vector<T> b = random_vector<T>(size_t(stride_b * c.batch), 82);
  const std::vector<T> c0 = c.beta != 0 ? random_vector<T>(size_t(stride_c * c.batch), 83)
                                        : poisoned<T>(size_t(stride_c * c.batch));
  // Elements outside the m x n blocks (padding, gaps) must come back unchanged.
  std::vector<double> ref = cast_vector<double>(c0), bound(c0.size(), 1.0);
  for (int64_t item = 0; item < c.batch; ++item)
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t j = 0; j < c.n; ++j) {
        double acc = 0, abs_acc = 0;
        for (int64_t l = 0; l < c.k; ++l) {
          const double av = a[size_t(item * stride_a + (c.trans_a ? l * lda + i : i * lda + l))];
          const double bv = b[size_t(item * stride_b + (c.trans_b ? j * ldb + l : l * ldb + j))];
          acc += av * bv;
          abs_acc += std::fabs(av * bv);
        }
        const size_t at = size_t(item * stride_c + i * ldc + j);
        const double old = c.beta != 0 ? double(c0[at]) : 0.0;
        ref[at] = c.alpha * acc + c.beta * old;
        bound[at] = std::fabs(c.alpha) * abs_acc + std::fabs(c.beta * old) + 1e-300;
      }

  DeviceBuffer<T> da(backend, a), db(backend, b), dc(backend, c0);
  kernels::GemmParams p;
  p.dtype = dtype_of<T>::value;
  p.trans_a = c.trans_a, p.trans_b = c.trans_b;
  p.m = c.m, p.n = c.n, p.k = c.k;
  p.alpha = c.alpha, p.beta = c.beta;
  p.a = da.data(), p.lda = lda, p.b = db.data(), p.ldb = ldb, p.c = dc.data(), p.ldc = ldc;
  p.batch = c.batch, p.stride_a = stride_a, p.stride_b = stride_b, p.stride_c = stride_c;
  const int saved_threads = omp_get_max_threads();
  if (backend == Backend::cpu && c.cpu_threads > 0) omp_set_num_threads(c.cpu_threads);
  kernels::gemm_kernel.get(backend)(p);
  omp_set_num_threads(saved_threads);
  // Error relative to sum |alpha a b| + |beta c|; padding exact.
  EXPECT_TRUE(close_to(dc.download(), ref, bound, 8 * unit_roundoff<T>()))
      << what<T>(c.name, backend) << " trans_a=" << c.trans_a << " trans_b=" << c.trans_b;
}

TEST_P(GemmOps, EveryCaseMatchesTheDoubleReference) {
  if (!runs(kernels::gemm_kernel)) GTEST_SKIP() << "no library variant";
  int ran = 0;
  for (const GemmCase& c : gemm_cases()) {
    if (!fits(c.work())) continue;
    for_float_types([&](auto t) { check_gemm<decltype(t)>(backend(), c); });
    ++ran;
  }
  EXPECT_GT(ran, 10);
}

INSTANTIATE_TEST_SUITE_P(Backends, GemmOps, ::testing::ValuesIn(harness_backends(/*with_library=*/true)), backend_param_name);

}  // namespace
}  // namespace glia::test::ops
