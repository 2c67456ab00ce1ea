// Vectorisable float math for the CPU kernels. libm's expf is a call per element with
// branches, so loops calling it stay scalar: SiLU and sigmoid were half of EfficientNet's
// inference time. exp_f32 is branch-free straight-line code (range reduction to
// [-ln2/2, ln2/2], a degree-6 polynomial, scaling by 2^n through the exponent bits) that
// the compiler turns into AVX-512/AVX2 code inside the cloned array loops below.
#pragma once
#include <cstdint>

// Compiles a function for AVX-512, AVX2 and baseline x86-64, picked at load time (the
// build itself targets baseline x86-64). Not under ASan or TSan, whose instrumentation
// does not mix with the ifunc resolvers (they run at load, before the sanitizer's runtime
// is set up: a TSan build crashed there).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__)
#define GLIA_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define GLIA_CPU_CLONES
#endif

namespace glia::kernels::cpu {

// e^x with at most a few ulp of error; +inf above ~88.72, 0 below ~-103.9 (subnormals in
// between, as expf), NaN for NaN.
inline float exp_f32(float x) {
  // Comparisons are false for NaN, so NaN passes the clamps and poisons the polynomial.
  x = x < -104.0f ? -104.0f : x;
  x = x > 89.0f ? 89.0f : x;
  // n = round(x / ln2) by the 1.5 * 2^23 trick: adding it leaves n in the low mantissa bits.
  const float shifter = 12582912.0f;
  const float t = x * 1.44269504088896341f + shifter;
  const float n = t - shifter;
  const int32_t ni = __builtin_bit_cast(int32_t, t) - __builtin_bit_cast(int32_t, shifter);
  // r = x - n * ln2, with ln2 split in two so n * hi is exact (Cody-Waite).
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  // Cephes' expf polynomial on [-ln2/2, ln2/2].
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // 2^n in two factors, so n in [-150, 129] never overflows one exponent field.
  const int32_t n1 = ni >> 1, n2 = ni - n1;
  const float s1 = __builtin_bit_cast(float, static_cast<uint32_t>(n1 + 127) << 23);
  const float s2 = __builtin_bit_cast(float, static_cast<uint32_t>(n2 + 127) << 23);
  return p * s1 * s2;
}

// Logistic function and 1 - logistic from one exp of -|x|: no overflow, and 1 - s keeps
// its relative accuracy where s is close to 1 (the gradient there is tiny, not zero).
struct SigmoidPair {
  float s, one_minus_s;
};
inline SigmoidPair sigmoid_pair_f32(float x) {
  const float e = exp_f32(x < 0.0f ? x : -x);
  const float d = 1.0f / (1.0f + e);
  const float ed = e * d;
  return x < 0.0f ? SigmoidPair{ed, d} : SigmoidPair{d, ed};
}

// Array forms, cloned per instruction set (kernels/cpu/vec_math.cpp). y may alias x.
void exp_array_f32(const float* x, float* y, int64_t n);
void sigmoid_array_f32(const float* x, float* y, int64_t n);
void silu_array_f32(const float* x, float* y, int64_t n);
// gx = gy * f'(x); gx may alias gy.
void exp_backward_array_f32(const float* x, const float* gy, float* gx, int64_t n);
void sigmoid_backward_array_f32(const float* x, const float* gy, float* gx, int64_t n);
void silu_backward_array_f32(const float* x, const float* gy, float* gx, int64_t n);
// gx = gy * silu'(x * scale + offset): SiLU fused behind a per-channel affine map (batch norm).
void silu_backward_affine_f32(const float* x, const float* gy, float scale, float offset, float* gx, int64_t n);

}  // namespace glia::kernels::cpu
