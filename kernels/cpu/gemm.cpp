// CPU GEMM through OpenBLAS (row-major cblas), one call per batch item, each split across
// the OpenMP threads by kernels/cpu/blas.h.
#include <climits>

#include "kernels/cpu/blas.h"
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
  for (int64_t i = 0; i < p.batch; ++i) {
    T* ci = c + i * p.stride_c;
    if (p.k == 0) {  // C = beta*C; beta == 0 overwrites (BLAS never reads C then)
      for (int64_t r = 0; r < p.m; ++r)
        for (int64_t col = 0; col < p.n; ++col)
          ci[r * p.ldc + col] = beta == T(0) ? T(0) : beta * ci[r * p.ldc + col];
      continue;
    }
    blas_gemm(p.trans_a, p.trans_b, p.m, p.n, p.k, alpha, a + i * p.stride_a, p.lda, b + i * p.stride_b, p.ldb, beta,
              ci, p.ldc);
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
