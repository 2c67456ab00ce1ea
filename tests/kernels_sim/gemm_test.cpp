// Hand-written GEMM (kernels/cuda/gemm.cu) on sim, and on cuda and cuBLAS (cudnn) when a
// GPU is present, against a double reference: odd sizes with every transpose combination,
// padded leading dimensions, batch 2, alpha/beta (beta = 0 must not read C, which starts
// as NaN); a size with 16-byte aligned rows and more than one 128-wide tile (the float4
// paths); float64.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/gemm.h"
#include "tests/kernels_sim/backends.h"
#include "tests/support/random_data.h"

namespace glia::test {
namespace {

class GemmSim : public KernelTest {
 protected:
  void SetUp() override {
    KernelTest::SetUp();
    if (!kernels::gemm_kernel.has(GetParam())) GTEST_SKIP() << "no gemm kernel on backend " << backend_name(GetParam());
  }
};

struct Case {
  int64_t m, n, k;
  bool trans_a, trans_b;
  int64_t pad;  // extra elements at the end of every stored row (lda = cols + pad, ...)
  int64_t batch;
  double alpha, beta;
};

template <class T>
void check_gemm(Backend backend, const Case& c) {
  const int64_t a_rows = c.trans_a ? c.k : c.m, a_cols = c.trans_a ? c.m : c.k;
  const int64_t b_rows = c.trans_b ? c.n : c.k, b_cols = c.trans_b ? c.k : c.n;
  const int64_t lda = a_cols + c.pad, ldb = b_cols + c.pad, ldc = c.n + c.pad;
  const int64_t stride_a = a_rows * lda, stride_b = b_rows * ldb, stride_c = c.m * ldc;
  std::vector<T> a = random_vector<T>(stride_a * c.batch, 81), b = random_vector<T>(stride_b * c.batch, 82);
  // beta == 0: C starts as NaN (also in padding), which must not leak into the result.
  std::vector<T> c0 = c.beta != 0 ? random_vector<T>(stride_c * c.batch, 83) : poisoned<T>(stride_c * c.batch);

  std::vector<double> ref(c0.begin(), c0.end()), bound(c0.size(), 0.0);
  for (int64_t item = 0; item < c.batch; ++item)
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t j = 0; j < c.n; ++j) {
        double acc = 0, abs_acc = 0;
        for (int64_t l = 0; l < c.k; ++l) {
          double av = a[item * stride_a + (c.trans_a ? l * lda + i : i * lda + l)];
          double bv = b[item * stride_b + (c.trans_b ? j * ldb + l : l * ldb + j)];
          acc += av * bv;
          abs_acc += std::fabs(av * bv);
        }
        int64_t at = item * stride_c + i * ldc + j;
        double old = c.beta != 0 ? double(c0[at]) : 0.0;
        ref[at] = c.alpha * acc + c.beta * old;
        bound[at] = std::fabs(c.alpha) * abs_acc + std::fabs(c.beta * old);
      }

  DeviceBuffer<T> da(backend, a), db(backend, b), dc(backend, c0);
  kernels::GemmParams p;
  p.dtype = dtype_of<T>::value;
  p.trans_a = c.trans_a;
  p.trans_b = c.trans_b;
  p.m = c.m;
  p.n = c.n;
  p.k = c.k;
  p.alpha = c.alpha;
  p.beta = c.beta;
  p.a = da.data();
  p.lda = lda;
  p.b = db.data();
  p.ldb = ldb;
  p.c = dc.data();
  p.ldc = ldc;
  p.batch = c.batch;
  p.stride_a = stride_a;
  p.stride_b = stride_b;
  p.stride_c = stride_c;
  kernels::gemm_kernel.get(backend)(p);
  std::vector<T> got = dc.download();

  for (int64_t item = 0; item < c.batch; ++item)
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t j = 0; j < ldc; ++j) {
        int64_t at = item * stride_c + i * ldc + j;
        if (j >= c.n) {  // padding: untouched (NaN stays NaN)
          if (std::isnan(double(c0[at]))) ASSERT_TRUE(std::isnan(double(got[at]))) << "padding at " << at;
          else ASSERT_EQ(got[at], c0[at]) << "padding at " << at;
          continue;
        }
        // Error relative to sum |alpha*a*b| + |beta*c|: what float rounding can reach.
        ASSERT_NEAR(double(got[at]), ref[at], tolerance<T>() * bound[at])
            << "C[" << item << "][" << i << "][" << j << "] trans_a=" << c.trans_a << " trans_b=" << c.trans_b
            << " m=" << c.m << " n=" << c.n << " k=" << c.k;
      }
}

TEST_P(GemmSim, OddSizesEveryTransposeBatchAlphaBeta) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      check_gemm<float>(GetParam(), {37, 53, 29, ta, tb, 3, 2, 1.5, 0.5});
      check_gemm<float>(GetParam(), {37, 53, 29, ta, tb, 1, 1, -0.75, 0.0});
    }
}

TEST_P(GemmSim, AlignedRowsSeveralTilesFloat4Paths) {
  // 132 and 136 cross the 128-wide tile edge; ld a multiple of 4 takes the float4 loads
  // and stores; k = 44 is not a multiple of the 8-deep slice.
  for (bool ta : {false, true})
    for (bool tb : {false, true}) check_gemm<float>(GetParam(), {132, 136, 44, ta, tb, 4, 1, 1.0, 1.0});
}

TEST_P(GemmSim, DegenerateSizes) {
  check_gemm<float>(GetParam(), {1, 1, 1, false, false, 0, 1, 2.0, 0.0});
  check_gemm<float>(GetParam(), {5, 3, 0, false, true, 1, 2, 1.0, 0.5});  // k = 0: C = beta*C
}

TEST_P(GemmSim, DoublePrecision) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) check_gemm<double>(GetParam(), {19, 23, 37, ta, tb, 2, 2, 0.5, -1.0});
}

INSTANTIATE_TEST_SUITE_P(Backends, GemmSim, ::testing::ValuesIn(gpu_backends(/*with_cudnn=*/true)), backend_param_name);

}  // namespace
}  // namespace glia::test
