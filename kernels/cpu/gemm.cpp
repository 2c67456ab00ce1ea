// CPU GEMM through OpenBLAS (row-major cblas), one call per batch item. OpenBLAS threads
// each call itself, so the batch loop stays serial.
#include <cblas.h>

#include <climits>

#include "kernels/cpu/dispatch.h"
#include "kernels/gemm.h"

namespace glia::kernels::cpu {
namespace {

void check_gemm(const GemmParams& p) {
  GLIA_CHECK(p.m >= 0 && p.n >= 0 && p.k >= 0 && p.batch >= 0,
             "cpu kernel 'gemm': negative size m=" << p.m << " n=" << p.n << " k=" << p.k << " batch=" << p.batch);
  GLIA_CHECK(p.m <= INT_MAX && p.n <= INT_MAX && p.k <= INT_MAX,
             "cpu kernel 'gemm': size m=" << p.m << " n=" << p.n << " k=" << p.k << " exceeds the BLAS int range");
  // Row-major: each leading dimension is at least the stored row length (BLAS is only
  // called when every row length is >= 1, so its ld >= 1 rule follows).
  const int64_t a_row = p.trans_a ? p.m : p.k, b_row = p.trans_b ? p.k : p.n;
  GLIA_CHECK(p.lda >= a_row && p.lda <= INT_MAX,
             "cpu kernel 'gemm': lda=" << p.lda << " but A is stored with rows of " << a_row << " (trans_a="
                                       << p.trans_a << ", m=" << p.m << ", k=" << p.k << ")");
  GLIA_CHECK(p.ldb >= b_row && p.ldb <= INT_MAX,
             "cpu kernel 'gemm': ldb=" << p.ldb << " but B is stored with rows of " << b_row << " (trans_b="
                                       << p.trans_b << ", k=" << p.k << ", n=" << p.n << ")");
  GLIA_CHECK(p.ldc >= p.n && p.ldc <= INT_MAX,
             "cpu kernel 'gemm': ldc=" << p.ldc << " but C has rows of n=" << p.n);
  const bool empty = p.m == 0 || p.n == 0 || p.batch == 0;
  GLIA_CHECK(empty || (p.c != nullptr && (p.k == 0 || (p.a != nullptr && p.b != nullptr))),
             "cpu kernel 'gemm': null pointer (a=" << p.a << ", b=" << p.b << ", c=" << p.c << ")");
}

template <class T>
void gemm_typed(const GemmParams& p) {
  const T* a = static_cast<const T*>(p.a);
  const T* b = static_cast<const T*>(p.b);
  T* c = static_cast<T*>(p.c);
  const T alpha = static_cast<T>(p.alpha), beta = static_cast<T>(p.beta);
  const auto ta = p.trans_a ? CblasTrans : CblasNoTrans, tb = p.trans_b ? CblasTrans : CblasNoTrans;
  const int m = static_cast<int>(p.m), n = static_cast<int>(p.n), k = static_cast<int>(p.k);
  const int lda = static_cast<int>(p.lda), ldb = static_cast<int>(p.ldb), ldc = static_cast<int>(p.ldc);
  for (int64_t i = 0; i < p.batch; ++i) {
    T* ci = c + i * p.stride_c;
    if (k == 0) {  // C = beta*C; beta == 0 overwrites (BLAS never reads C then)
      for (int r = 0; r < m; ++r)
        for (int col = 0; col < n; ++col) ci[r * p.ldc + col] = beta == T(0) ? T(0) : beta * ci[r * p.ldc + col];
      continue;
    }
    const T* ai = a + i * p.stride_a;
    const T* bi = b + i * p.stride_b;
    if constexpr (std::is_same_v<T, float>)
      cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, ai, lda, bi, ldb, beta, ci, ldc);
    else
      cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, ai, lda, bi, ldb, beta, ci, ldc);
  }
}

}  // namespace

void gemm(const GemmParams& p) {
  dispatch_float(p.dtype, "gemm", [&](auto tag) {
    check_gemm(p);
    if (p.m == 0 || p.n == 0 || p.batch == 0) return;
    gemm_typed<typename decltype(tag)::type>(p);
  });
}

}  // namespace glia::kernels::cpu
