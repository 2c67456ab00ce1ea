// Dropout op family: elementwise dropout and stochastic depth (drop a whole sample's
// residual branch). Masks come from the counter-based Philox stream (kernels/philox.h), so
// (seed, offset) gives the same mask on every backend and thread count, and the backward
// recomputes the mask instead of storing it. Element i of the stream (seed, offset) is kept
// when dropout_keep() says so; kept values are scaled by 1 / (1 - p), dropped ones are 0.
// A caller drawing n elements should advance its offset by (n + 3) / 4 (4 numbers per
// Philox counter), which is what tensor's Generator::reserve(n) does.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/cost.h"
#include "kernels/dtype.h"
#include "kernels/hd.h"
#include "kernels/philox.h"
#include "kernels/registry.h"

namespace glia::kernels {

// The one keep rule every backend uses, and the one tensor's bernoulli(1 - p) draws:
// element i is kept when its uniform u = (bits >> 8) / 2^24 is below 1 - p (in double).
// u is a multiple of 2^-24, so u < q exactly when (bits >> 8) < ceil(q * 2^24): the host
// computes that integer threshold once and every device compares integers (no float
// rounding of p, no doubles on the GPU).
inline uint32_t dropout_threshold(double p) {
  return static_cast<uint32_t>(std::ceil((1.0 - p) * 16777216.0));
}
GLIA_HD inline bool dropout_keep_bits(uint32_t bits, uint32_t threshold) { return (bits >> 8) < threshold; }
GLIA_HD inline bool dropout_keep(uint64_t seed, uint64_t offset, uint64_t i, uint32_t threshold) {
  return dropout_keep_bits(philox_bits(seed, offset, i), threshold);
}

struct DropoutParams {
  DType dtype = DType::f32;
  int64_t n = 0;
  double p = 0.5;  // drop probability, in [0, 1]
  uint64_t seed = 0, offset = 0;
  const void* x = nullptr;
  void* y = nullptr;
  uint8_t* mask = nullptr;  // optional: 1 kept, 0 dropped
};

// One comparison and one multiply per element; x read, y (and the byte mask) written.
inline OpCost cost(const DropoutParams& p) {
  return {2.0 * double(p.n), bytes_of(p.dtype, 2 * p.n) + (p.mask != nullptr ? double(p.n) : 0.0)};
}

// gx = gy * keep(i) / (1 - p), the mask recomputed from (seed, offset).
struct DropoutBackwardParams {
  DType dtype = DType::f32;
  int64_t n = 0;
  double p = 0.5;
  uint64_t seed = 0, offset = 0;
  const void* gy = nullptr;
  void* gx = nullptr;
};

inline OpCost cost(const DropoutBackwardParams& p) { return {2.0 * double(p.n), bytes_of(p.dtype, 2 * p.n)}; }

// Sample b of a [batch, per_sample] buffer is kept when dropout_keep(seed, offset, b, t):
// one draw per sample, kept samples scaled by 1 / (1 - p), dropped ones zeroed. The
// backward is the same op applied to gy.
struct StochasticDepthParams {
  DType dtype = DType::f32;
  int64_t batch = 0, per_sample = 0;
  double p = 0.0;
  uint64_t seed = 0, offset = 0;
  const void* x = nullptr;
  void* y = nullptr;
};

inline OpCost cost(const StochasticDepthParams& p) {
  return {double(p.batch * p.per_sample), bytes_of(p.dtype, 2 * p.batch * p.per_sample)};
}

namespace cpu {
void dropout(const DropoutParams& p);
void dropout_backward(const DropoutBackwardParams& p);
void stochastic_depth(const StochasticDepthParams& p);
}  // namespace cpu

inline KernelSlot<void(const DropoutParams&)> dropout_kernel{"dropout"};
inline KernelSlot<void(const DropoutBackwardParams&)> dropout_backward_kernel{"dropout_backward"};
inline KernelSlot<void(const StochasticDepthParams&)> stochastic_depth_kernel{"stochastic_depth"};

}  // namespace glia::kernels
