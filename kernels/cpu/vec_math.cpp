// The array loops of vec_math.h. Each is a plain loop over exp_f32 / sigmoid_pair_f32 so
// the compiler vectorises it in every cloned instruction set.
#include "kernels/cpu/vec_math.h"

namespace glia::kernels::cpu {

GLIA_CPU_CLONES void exp_array_f32(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = exp_f32(x[i]);
}

// The forwards need s alone, which 1 / (1 + e^-x) gives to full relative accuracy on
// both sides (e^-x = inf gives 0, as it should): one exp and one division, no selects.
GLIA_CPU_CLONES void sigmoid_array_f32(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = 1.0f / (1.0f + exp_f32(-x[i]));
}

GLIA_CPU_CLONES void silu_array_f32(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] / (1.0f + exp_f32(-x[i]));
}

GLIA_CPU_CLONES void exp_backward_array_f32(const float* x, const float* gy, float* gx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) gx[i] = gy[i] * exp_f32(x[i]);
}

GLIA_CPU_CLONES void sigmoid_backward_array_f32(const float* x, const float* gy, float* gx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const SigmoidPair p = sigmoid_pair_f32(x[i]);
    gx[i] = gy[i] * (p.s * p.one_minus_s);
  }
}

// d/dx x s(x) = s + x s (1 - s) = s (1 + x (1 - s)).
GLIA_CPU_CLONES void silu_backward_array_f32(const float* x, const float* gy, float* gx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const SigmoidPair p = sigmoid_pair_f32(x[i]);
    gx[i] = gy[i] * (p.s * (1.0f + x[i] * p.one_minus_s));
  }
}

GLIA_CPU_CLONES void silu_backward_affine_f32(const float* x, const float* gy, float scale, float offset, float* gx,
                                              int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float pre = x[i] * scale + offset;
    const SigmoidPair p = sigmoid_pair_f32(pre);
    gx[i] = gy[i] * (p.s * (1.0f + pre * p.one_minus_s));
  }
}

}  // namespace glia::kernels::cpu
