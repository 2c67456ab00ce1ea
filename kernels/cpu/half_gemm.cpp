// GEMM on bfloat16/float16 operands with float32 accumulation (kernels/cpu/half_gemm.h):
// the choice between the AVX512-BF16 path and the plain one (operands widened to float32,
// then OpenBLAS), and the conversions both use.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cpu/blas.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/half_gemm.h"

namespace glia::kernels::cpu {
namespace {

// Off unless GLIA_CPU_BF16=avx512: on the Xeon this was measured on (2026-12-06), VDPBF16PS
// delivers half the float32 FMA's FLOP rate, and the widened operands through OpenBLAS ran
// the benchmark GEMMs 1.2-1.7x faster than the AVX512-BF16 kernel (bench/gemm.cpp bf16_*).
bool& avx512_bf16_flag() {
  static bool on = [] {
    return avx512_bf16_requested(std::getenv("GLIA_CPU_BF16"), cpu_has_avx512_bf16());
  }();
  return on;
}

// float16 -> float32 for every pattern, built once from the tested scalar conversion.
const float* f16_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t b = 0; b < 65536; ++b) t[b] = f16_bits_to_float(uint16_t(b));
    return t;
  }();
  return table.data();
}

// Row-major op(X) (rows x cols after op) widened into a contiguous float32 copy stored the
// same way (so the transpose flag still applies), leading dimension = stored row length.
const float* widened(DType in, bool trans, int64_t rows, int64_t cols, const void* x, int64_t ld, int which) {
  const int64_t stored_rows = trans ? cols : rows, stored_cols = trans ? rows : cols;
  thread_local std::vector<float> buffers[2];
  std::vector<float>& buf = buffers[which];
  buf.resize(size_t(stored_rows * stored_cols));
  const auto* bytes = static_cast<const uint16_t*>(x);
  for (int64_t r = 0; r < stored_rows; ++r) widen(in, bytes + r * ld, buf.data() + r * stored_cols, stored_cols);
  return buf.data();
}

}  // namespace

bool avx512_bf16_requested(const char* value, bool cpu_has) {
  const std::string v = value == nullptr ? "" : value;
  GLIA_CHECK(v.empty() || v == "plain" || v == "avx512", "GLIA_CPU_BF16='" << v << "': expected avx512 or plain");
  GLIA_CHECK(v != "avx512" || cpu_has, "GLIA_CPU_BF16=avx512: this CPU (or build) has no AVX512-BF16");
  return v == "avx512";
}

bool avx512_bf16_supported() { return cpu_has_avx512_bf16(); }
bool avx512_bf16_enabled() { return avx512_bf16_flag(); }
bool use_avx512_bf16(bool on) {
  const bool old = avx512_bf16_flag();
  avx512_bf16_flag() = on && cpu_has_avx512_bf16();
  return old;
}

void widen(DType in, const void* src, float* dst, int64_t n) {
  const auto* s = static_cast<const uint16_t*>(src);
  if (in == DType::bf16) {
    for (int64_t i = 0; i < n; ++i) dst[i] = float_from_bits(uint32_t(s[i]) << 16);
  } else {
    GLIA_CHECK(in == DType::f16, "widen: dtype " << dtype_name(in) << " is not a 16-bit float");
    const float* table = f16_table();
    for (int64_t i = 0; i < n; ++i) dst[i] = table[s[i]];
  }
}

void narrow(DType out, const float* src, void* dst, int64_t n) {
  auto* d = static_cast<uint16_t*>(dst);
  if (out == DType::bf16) {
    for (int64_t i = 0; i < n; ++i) d[i] = float_to_bf16_bits(src[i]);
  } else {
    GLIA_CHECK(out == DType::f16, "narrow: dtype " << dtype_name(out) << " is not a 16-bit float");
    for (int64_t i = 0; i < n; ++i) d[i] = float_to_f16_bits(src[i]);
  }
}

void gemm_16bit(DType in, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const void* a,
                int64_t lda, const void* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // C = beta * C; beta == 0 overwrites (C may hold NaN)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < n; ++j) c[r * ldc + j] = beta == 0 ? 0.0f : beta * c[r * ldc + j];
    return;
  }
  if (in == DType::bf16 && avx512_bf16_enabled()) {
    gemm_bf16_avx512(trans_a, trans_b, m, n, k, alpha, static_cast<const bfloat16*>(a), lda,
                     static_cast<const bfloat16*>(b), ldb, beta, c, ldc);
    return;
  }
  const float* a32 = widened(in, trans_a, m, k, a, lda, 0);
  const float* b32 = widened(in, trans_b, k, n, b, ldb, 1);
  blas_gemm<float>(trans_a, trans_b, m, n, k, alpha, a32, trans_a ? m : k, b32, trans_b ? k : n, beta, c, ldc);
}

}  // namespace glia::kernels::cpu
