// bfloat16 GEMM with AVX512-BF16 (VDPBF16PS: 16 float32 lanes each += a[2i]*b[2i] +
// a[2i+1]*b[2i+1] over bfloat16 pairs). Compiled with a target attribute so the rest of
// glia needs no -mavx512bf16; called only when cpuid reports the instructions.
//
// Layout: K is taken in pairs. op(A) is packed once into blocks of kMr rows, each k-pair of
// a row one 32-bit word (low half k even, high half k odd); op(B) into panels of kNr = 32
// columns, each k-pair one zmm pair. The kernel keeps a kMr x 32 tile of C in 16 zmm
// accumulators over the whole of K, then writes alpha * acc + beta * C once. An odd K is
// padded with a zero. Panels of B are split across the OpenMP threads (one thread inside a
// parallel region, where the conv kernels call it per chunk).
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/half_gemm.h"
#include "kernels/error.h"

#if defined(__x86_64__) && (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 10))
#define GLIA_HAVE_AVX512_BF16_CODE 1
#include <immintrin.h>
#endif

namespace glia::kernels::cpu {

#ifdef GLIA_HAVE_AVX512_BF16_CODE

#define GLIA_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

namespace {

constexpr int64_t kMr = 8, kNr = 32;

// Element (row i, column j) of op(X) for a row-major X with leading dimension ld.
inline uint16_t at(const bfloat16* x, bool trans, int64_t ld, int64_t i, int64_t j) {
  return (trans ? x[j * ld + i] : x[i * ld + j]).bits;
}

inline uint32_t pair(uint16_t lo, uint16_t hi) { return uint32_t(lo) | (uint32_t(hi) << 16); }

// op(A) rows [0, m) into ceil(m / kMr) blocks of k2 x kMr words (rows past m are zero).
void pack_a(const bfloat16* a, bool trans, int64_t lda, int64_t m, int64_t k, uint32_t* out) {
  const int64_t k2 = (k + 1) / 2, blocks = (m + kMr - 1) / kMr;
#pragma omp parallel for schedule(static) if (m * k > (1 << 16) && !omp_in_parallel())
  for (int64_t blk = 0; blk < blocks; ++blk) {
    uint32_t* dst = out + blk * k2 * kMr;
    for (int64_t r = 0; r < kMr; ++r) {
      const int64_t i = blk * kMr + r;
      for (int64_t p = 0; p < k2; ++p) {
        uint32_t v = 0;
        if (i < m) v = pair(at(a, trans, lda, i, 2 * p), 2 * p + 1 < k ? at(a, trans, lda, i, 2 * p + 1) : 0);
        dst[p * kMr + r] = v;
      }
    }
  }
}

// op(B) columns [j0, j0 + kNr) into k2 x kNr words (columns past n are zero).
void pack_b_panel(const bfloat16* b, bool trans, int64_t ldb, int64_t k, int64_t n, int64_t j0, uint32_t* out) {
  const int64_t k2 = (k + 1) / 2, cols = std::min(kNr, n - j0);
  for (int64_t p = 0; p < k2; ++p) {
    uint32_t* dst = out + p * kNr;
    const bool odd_ok = 2 * p + 1 < k;
    if (!trans) {  // rows 2p and 2p+1 of B are contiguous runs of columns
      const bfloat16* r0 = b + 2 * p * ldb + j0;
      const bfloat16* r1 = r0 + ldb;
      for (int64_t j = 0; j < cols; ++j) dst[j] = pair(r0[j].bits, odd_ok ? r1[j].bits : 0);
    } else {
      for (int64_t j = 0; j < cols; ++j) {
        const bfloat16* col = b + (j0 + j) * ldb + 2 * p;
        dst[j] = pair(col[0].bits, odd_ok ? col[1].bits : 0);
      }
    }
    for (int64_t j = cols; j < kNr; ++j) dst[j] = 0;
  }
}

GLIA_AVX512_BF16 inline void store_row(float* c, __m512 acc, __mmask16 mask, __m512 alpha, float beta) {
  __m512 v = _mm512_mul_ps(acc, alpha);
  if (beta != 0) v = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(mask, c), v);
  _mm512_mask_storeu_ps(c, mask, v);
}

// C[rows, 32 columns] from a packed A block and B panel over k2 pairs.
GLIA_AVX512_BF16 void kernel_8x32(const uint32_t* ap, const uint32_t* bp, int64_t k2, int64_t rows, int64_t cols,
                                  float alpha, float beta, float* c, int64_t ldc) {
  __m512 acc[kMr][2];
  for (int r = 0; r < kMr; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < k2; ++p) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp + p * kNr);
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(bp + p * kNr + 16);
    const uint32_t* a = ap + p * kMr;
#pragma GCC unroll 8
    for (int r = 0; r < kMr; ++r) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32(int(a[r]));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha);
  const __mmask16 m0 = cols >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << cols) - 1);
  const __mmask16 m1 = cols >= 32 ? __mmask16(0xFFFF) : cols <= 16 ? __mmask16(0) : __mmask16((1u << (cols - 16)) - 1);
  for (int64_t r = 0; r < rows; ++r) {
    store_row(c + r * ldc, acc[r][0], m0, va, beta);
    if (m1) store_row(c + r * ldc + 16, acc[r][1], m1, va, beta);
  }
}

}  // namespace

bool cpu_has_avx512_bf16() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
  }();
  return has;
}

void gemm_bf16_avx512(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const bfloat16* a,
                      int64_t lda, const bfloat16* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const int64_t k2 = (k + 1) / 2, blocks = (m + kMr - 1) / kMr, panels = (n + kNr - 1) / kNr;
  thread_local std::vector<uint32_t> packed_a;
  packed_a.resize(size_t(blocks * k2 * kMr));
  uint32_t* ap = packed_a.data();
  pack_a(a, trans_a, lda, m, k, ap);
  const bool parallel = !omp_in_parallel() && panels > 1 && double(m) * double(n) * double(k) >= double(1 << 20);
#pragma omp parallel for schedule(dynamic) if (parallel)
  for (int64_t panel = 0; panel < panels; ++panel) {
    thread_local std::vector<uint32_t> packed_b;
    packed_b.resize(size_t(k2 * kNr));
    const int64_t j0 = panel * kNr, cols = std::min(kNr, n - j0);
    pack_b_panel(b, trans_b, ldb, k, n, j0, packed_b.data());
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t i0 = blk * kMr;
      kernel_8x32(ap + blk * k2 * kMr, packed_b.data(), k2, std::min(kMr, m - i0), cols, alpha, beta,
                  c + i0 * ldc + j0, ldc);
    }
  }
}

#else  // no AVX512-BF16 code in this build (not x86-64, or an old compiler)

bool cpu_has_avx512_bf16() { return false; }

void gemm_bf16_avx512(bool, bool, int64_t, int64_t, int64_t, float, const bfloat16*, int64_t, const bfloat16*, int64_t,
                      float, float*, int64_t) {
  GLIA_FAIL("gemm_bf16_avx512: this build has no AVX512-BF16 code");
}

#endif

}  // namespace glia::kernels::cpu
