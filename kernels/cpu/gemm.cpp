// CPU GEMM through OpenBLAS (row-major cblas), one call per batch item, each split across
// the OpenMP threads by kernels/cpu/blas.h. bfloat16/float16 operands go through
// kernels/cpu/half_gemm.h (float32 accumulation, AVX512-BF16 where present).
#include <climits>
#include <vector>

#include "kernels/cpu/blas.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/half_gemm.h"
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

// 16-bit A and B: each batch item accumulates in float32, straight into a float32 C or into
// a float32 tile rounded once into a 16-bit C (read first when beta != 0).
void gemm_16bit_params(const GemmParams& p) {
  const DType out = output_dtype(p);
  const auto* a = static_cast<const uint16_t*>(p.a);
  const auto* b = static_cast<const uint16_t*>(p.b);
  const float alpha = float(p.alpha), beta = float(p.beta);
  for (int64_t i = 0; i < p.batch; ++i) {
    const uint16_t* ai = a + i * p.stride_a;
    const uint16_t* bi = b + i * p.stride_b;
    if (out == DType::f32) {
      gemm_16bit(p.dtype, p.trans_a, p.trans_b, p.m, p.n, p.k, alpha, ai, p.lda, bi, p.ldb, beta,
                 static_cast<float*>(p.c) + i * p.stride_c, p.ldc);
      continue;
    }
    uint16_t* ci = static_cast<uint16_t*>(p.c) + i * p.stride_c;
    std::vector<float> tile(size_t(p.m * p.n));
    if (beta != 0)
      for (int64_t r = 0; r < p.m; ++r) widen(out, ci + r * p.ldc, tile.data() + r * p.n, p.n);
    gemm_16bit(p.dtype, p.trans_a, p.trans_b, p.m, p.n, p.k, alpha, ai, p.lda, bi, p.ldb, beta, tile.data(), p.n);
    for (int64_t r = 0; r < p.m; ++r) narrow(out, tile.data() + r * p.n, ci + r * p.ldc, p.n);
  }
}

}  // namespace

void gemm(const GemmParams& p) {
  const DType out = output_dtype(p);
  if (is_16bit_float(p.dtype)) {
    GLIA_CHECK(out == p.dtype || out == DType::f32, "cpu kernel 'gemm': " << dtype_name(p.dtype)
                                                                           << " inputs write float32 or "
                                                                           << dtype_name(p.dtype) << ", not "
                                                                           << dtype_name(out));
    check_gemm(p);
    if (p.m == 0 || p.n == 0 || p.batch == 0) return;
    gemm_16bit_params(p);
    return;
  }
  GLIA_CHECK(!is_floating(p.dtype) || out == p.dtype, "cpu kernel 'gemm': " << dtype_name(p.dtype)
                                                                              << " inputs write " << dtype_name(p.dtype)
                                                                              << ", not " << dtype_name(out));
  GLIA_CHECK(is_floating(p.dtype), "cpu kernel 'gemm': unsupported dtype "
                                       << dtype_name(p.dtype) << " (supported: float32, float64, bfloat16, float16)");
  dispatch_float(p.dtype, "gemm", [&](auto tag) {
    check_gemm(p);
    if (p.m == 0 || p.n == 0 || p.batch == 0) return;
    gemm_typed<typename decltype(tag)::type>(p);
  });
}

}  // namespace glia::kernels::cpu
