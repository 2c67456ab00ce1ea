// CPU GEMM (OpenBLAS) against a naive triple loop in double.
#include <gtest/gtest.h>
#include <omp.h>

#include "kernels/gemm.h"
#include "tests/support/random_data.h"

namespace glia::kernels {
namespace {

struct GemmCase {
  bool trans_a, trans_b;
  int64_t m, n, k, batch;
  double alpha, beta;
  int64_t pad;  // extra elements per row of A, B and C (leading dimension > row length)
  // Small integers in A, B and C and dyadic alpha/beta: every product and partial sum is
  // an exact float (|sums| < 2^24), so any summation order gives the reference exactly.
  bool exact = false;
};

template <class T>
std::vector<T> gemm_data(size_t n, uint32_t seed, bool exact) {
  if (!exact) return test::random_vector<T>(n, seed);
  return test::cast_vector<T>(test::random_ints(n, seed, -8, 9));
}

template <class T>
void check_gemm(const GemmCase& g, uint32_t seed) {
  const int64_t a_rows = g.trans_a ? g.k : g.m, a_cols = g.trans_a ? g.m : g.k;
  const int64_t b_rows = g.trans_b ? g.n : g.k, b_cols = g.trans_b ? g.k : g.n;
  GemmParams p;
  p.dtype = dtype_of<T>::value;
  p.trans_a = g.trans_a;
  p.trans_b = g.trans_b;
  p.m = g.m;
  p.n = g.n;
  p.k = g.k;
  p.alpha = g.alpha;
  p.beta = g.beta;
  p.lda = a_cols + g.pad;
  p.ldb = b_cols + g.pad;
  p.ldc = g.n + g.pad;
  p.batch = g.batch;
  p.stride_a = a_rows * p.lda + 3;  // batch items need not be packed
  p.stride_b = b_rows * p.ldb + 1;
  p.stride_c = g.m * p.ldc + 2;
  const auto a = gemm_data<T>(static_cast<size_t>(p.stride_a * g.batch), seed, g.exact);
  const auto b = gemm_data<T>(static_cast<size_t>(p.stride_b * g.batch), seed + 1, g.exact);
  // beta == 0 must not read C, so C starts as NaN then; otherwise random
  auto c = g.beta == 0 ? test::poisoned<T>(static_cast<size_t>(p.stride_c * g.batch))
                       : gemm_data<T>(static_cast<size_t>(p.stride_c * g.batch), seed + 2, g.exact);
  std::vector<double> expected = test::cast_vector<double>(c);
  for (int64_t bi = 0; bi < g.batch; ++bi)
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t j = 0; j < g.n; ++j) {
        double acc = 0;
        for (int64_t l = 0; l < g.k; ++l) {
          const double av = g.trans_a ? a[bi * p.stride_a + l * p.lda + i] : a[bi * p.stride_a + i * p.lda + l];
          const double bv = g.trans_b ? b[bi * p.stride_b + j * p.ldb + l] : b[bi * p.stride_b + l * p.ldb + j];
          acc += av * bv;
        }
        double& e = expected[bi * p.stride_c + i * p.ldc + j];
        e = g.alpha * acc + (g.beta == 0 ? 0.0 : g.beta * e);
      }
  p.a = a.data();
  p.b = b.data();
  p.c = c.data();
  cpu::gemm(p);
  // Padding elements (NaN when beta == 0) must be left as they were: compared too.
  // Errors are measured against max(|C|, 1): dot products of random signs cancel.
  EXPECT_LE(test::max_rel_error(c, expected, 1.0), g.exact ? 0.0 : test::tolerance<T>())
      << "trans_a=" << g.trans_a << " trans_b=" << g.trans_b << " m=" << g.m << " n=" << g.n << " k=" << g.k
      << " batch=" << g.batch << " alpha=" << g.alpha << " beta=" << g.beta;
}

template <class T>
class GemmTest : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(GemmTest, FloatTypes);

TYPED_TEST(GemmTest, MatchesNaiveLoopForTransposesBatchesAlphaBeta) {
  uint32_t seed = 1;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      check_gemm<TypeParam>({ta, tb, 5, 7, 3, 1, 1.0, 0.0, 0}, seed += 3);
      check_gemm<TypeParam>({ta, tb, 13, 11, 17, 3, 0.7, 0.0, 2}, seed += 3);
      check_gemm<TypeParam>({ta, tb, 13, 11, 17, 2, -1.3, 0.4, 1}, seed += 3);
      check_gemm<TypeParam>({ta, tb, 1, 1, 1, 1, 2.0, 1.0, 0}, seed += 3);
    }
  check_gemm<TypeParam>({false, false, 67, 129, 95, 2, 1.0, 0.0, 0}, 99);  // big enough for OpenBLAS threads
}

// Above 2^20 multiply-adds (and 32 rows or columns) kernels/cpu/blas.cpp splits C over the
// OpenMP threads: by columns when n >= m, else by rows, in slices of whole 16s, so the
// last slice is partial and, with 4 threads over 40, one thread gets nothing. Each
// transpose combination reads op(A) and op(B) through different offsets there. Run with
// 3 and 4 threads whatever OMP_NUM_THREADS says (tests otherwise often run with 1).
// Integer data: the result must be exact, whatever order each slice sums in.
TYPED_TEST(GemmTest, ThreadedSplitMatchesForAllTransposes) {
  const int saved = omp_get_max_threads();
  uint32_t seed = 500;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      omp_set_num_threads(3);
      check_gemm<TypeParam>({ta, tb, 37, 150, 200, 1, 1.0, 0.0, 0, true}, seed += 3);   // columns: 64 + 64 + 22
      check_gemm<TypeParam>({ta, tb, 150, 37, 200, 2, -0.5, 0.25, 3, true}, seed += 3);  // rows, batched, padded
      omp_set_num_threads(4);
      check_gemm<TypeParam>({ta, tb, 40, 40, 700, 1, 2.0, 0.0, 1, true}, seed += 3);    // 16 + 16 + 8 + nothing
    }
  omp_set_num_threads(saved);
  static_assert(37 * 150 * 200 > (1 << 20) && 40 * 40 * 700 > (1 << 20), "cases must exceed the split threshold");
}

TYPED_TEST(GemmTest, ZeroKScalesCAndEmptyOutputIsANoOp) {
  check_gemm<TypeParam>({false, false, 3, 4, 0, 2, 1.0, 0.0, 0}, 5);  // C = 0
  check_gemm<TypeParam>({false, true, 3, 4, 0, 2, 1.0, 0.5, 1}, 6);   // C = 0.5*C
  check_gemm<TypeParam>({true, false, 0, 4, 5, 2, 1.0, 0.0, 0}, 7);
}

std::string gemm_error(GemmParams p) {
  float buf[64] = {};
  p.a = p.b = buf;
  p.c = buf;
  try {
    cpu::gemm(p);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(GemmErrors, BadSizesLeadingDimensionsAndDtypeNameTheProblem) {
  GemmParams p;
  p.m = 2;
  p.n = 3;
  p.k = 4;
  p.lda = 4;
  p.ldb = 3;
  p.ldc = 3;
  EXPECT_EQ(gemm_error(p), "(no error)");

  GemmParams bad = p;
  bad.m = -1;
  std::string msg = gemm_error(bad);
  EXPECT_NE(msg.find("m=-1"), std::string::npos) << msg;

  bad = p;
  bad.lda = 3;  // A is 2x4, rows of 4
  msg = gemm_error(bad);
  EXPECT_NE(msg.find("lda=3"), std::string::npos) << msg;

  bad = p;
  bad.trans_b = true;  // B stored as 3x4, so ldb=3 is too small
  msg = gemm_error(bad);
  EXPECT_NE(msg.find("ldb=3"), std::string::npos) << msg;

  bad = p;
  bad.ldc = 2;
  msg = gemm_error(bad);
  EXPECT_NE(msg.find("ldc=2"), std::string::npos) << msg;

  bad = p;
  bad.dtype = DType::i32;
  msg = gemm_error(bad);
  EXPECT_NE(msg.find("gemm"), std::string::npos) << msg;
  EXPECT_NE(msg.find("int32"), std::string::npos) << msg;
}

}  // namespace
}  // namespace glia::kernels
