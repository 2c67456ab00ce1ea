// GEMM on 16-bit inputs for the CPU kernels (gemm.cpp, conv2d_half.cpp): A and B in
// bfloat16 or float16, products and sums in float32, C in float32. Not part of the kernel API.
//
// Two paths compute the same thing up to the order of the float32 additions (every product
// of two bfloat16 or two float16 values is exact in float32):
//   plain:  the operands widened to float32, then OpenBLAS's SGEMM (kernels/cpu/blas.h);
//   avx512: bfloat16 only, on CPUs with AVX512-BF16 (VDPBF16PS, checked at run time): packed
//           panels and a register-blocked kernel (half_gemm_avx512.cpp). VDPBF16PS treats
//           subnormal inputs and results as zero (inputs below 2^-126 ~ 1e-38 in magnitude).
// The plain path is the default: on this project's Xeon (AVX512-BF16 and AMX), VDPBF16PS
// runs at half the float32 FMA's FLOP rate, so OpenBLAS on widened operands was faster.
// GLIA_CPU_BF16=avx512 (read once) or use_avx512_bf16(true) selects the AVX512-BF16 path.
#pragma once
#include <cstdint>

#include "kernels/dtype.h"

namespace glia::kernels::cpu {

// Whether this CPU and build have the AVX512-BF16 path, and whether it is used.
bool avx512_bf16_supported();
bool avx512_bf16_enabled();
// Turns the fast path on or off (tests, benchmarks); returns the previous setting. Turning
// it on where unsupported leaves it off.
bool use_avx512_bf16(bool on);
// GLIA_CPU_BF16's value (null: unset) -> whether it asks for the AVX512-BF16 path: unset,
// "" or "plain" no, "avx512" yes where the CPU has it; anything else, or avx512 on a CPU
// without it, is an Error naming the variable (a typo must not silently pick a path).
bool avx512_bf16_requested(const char* value, bool cpu_has);

// Row-major C = alpha * op(A) * op(B) + beta * C with A, B of dtype `in` (f16 or bf16) and C
// float32; beta == 0 never reads C.
void gemm_16bit(DType in, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const void* a,
                int64_t lda, const void* b, int64_t ldb, float beta, float* c, int64_t ldc);

// The AVX512-BF16 path itself (half_gemm_avx512.cpp); only call when avx512_bf16_supported().
void gemm_bf16_avx512(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const bfloat16* a,
                      int64_t lda, const bfloat16* b, int64_t ldb, float beta, float* c, int64_t ldc);
bool cpu_has_avx512_bf16();  // compiled in and reported by cpuid

// Widens n 16-bit values to float32 / rounds n float32 values to 16 bits (RNE).
void widen(DType in, const void* src, float* dst, int64_t n);
void narrow(DType out, const float* src, void* dst, int64_t n);

}  // namespace glia::kernels::cpu
