// Dropout and stochastic depth (kernels/dropout.h). The keep decision of element i is
// dropout_keep(seed, offset, i, threshold) from kernels/dropout.h, the same rule the CPU uses,
// so the mask is bit-for-bit the CPU's on every device and launch size.
//
// Decomposition: one thread per group of 4 elements (one Philox call gives the 4 draws of
// counter offset + i/4), grid-stride loop, blocks of 256. Stochastic depth: one thread per
// element, one Philox draw per sample (recomputed per element: ~100 integer ops, cheaper
// than a second launch at these sizes).
//
// Cost: ~10 Philox rounds per 4 elements plus 1 multiply per element; bytes: read n, write
// n (+ n mask bytes). Memory-bound on a GPU.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels.cuh"
#include "kernels/dropout.h"

namespace glia::kernels::GLIA_CUDA_NS {
namespace {

constexpr int kThreads = 256;

template <class T>
__global__ void apply_mask(int64_t n, uint32_t threshold, T scale, uint64_t seed, uint64_t offset, const T* in, T* out,
                           uint8_t* mask) {
  int64_t quads = (n + 3) / 4;
  for (int64_t q : grid_stride(quads)) {
    Philox4 r = philox4x32(seed, offset, static_cast<uint64_t>(q));
    for (int k = 0; k < 4; ++k) {
      int64_t i = 4 * q + k;
      if (i >= n) break;
      bool keep = dropout_keep_bits(r.v[k], threshold);
      out[i] = keep ? in[i] * scale : T(0);
      if (mask != nullptr) mask[i] = keep ? 1 : 0;
    }
  }
}

template <class T>
__global__ void sample_mask(int64_t batch, int64_t per_sample, uint32_t threshold, T scale, uint64_t seed,
                            uint64_t offset, const T* x, T* y) {
  for (int64_t i : grid_stride(int64_t{batch * per_sample})) {
    bool keep = dropout_keep(seed, offset, static_cast<uint64_t>(i / per_sample), threshold);
    y[i] = keep && scale != T(0) ? x[i] * scale : T(0);
  }
}

void check_p(double p, const char* op) {
  GLIA_CHECK(p >= 0 && p <= 1, op << ": drop probability p=" << p << " must be in [0, 1]");
}

template <class T>
T keep_scale(double p) {
  return p < 1 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
}

template <class T>
void launch_mask(int64_t n, double p, uint64_t seed, uint64_t offset, const void* in, void* out, uint8_t* mask) {
  if (n == 0) return;
  GLIA_LAUNCH(apply_mask<T>, blocks_for((n + 3) / 4, kThreads), kThreads, 0, n, dropout_threshold(p),
              keep_scale<T>(p), seed, offset, static_cast<const T*>(in), static_cast<T*>(out), mask);
}

}  // namespace

void dropout(const DropoutParams& p) {
  check_p(p.p, "dropout");
  GLIA_CHECK(p.n >= 0, "dropout: negative size " << p.n);
  dispatch_floating(p.dtype, "dropout", [&](auto tag) {
    launch_mask<decltype(tag)>(p.n, p.p, p.seed, p.offset, p.x, p.y, p.mask);
  });
}

void dropout_backward(const DropoutBackwardParams& p) {
  check_p(p.p, "dropout_backward");
  GLIA_CHECK(p.n >= 0, "dropout_backward: negative size " << p.n);
  dispatch_floating(p.dtype, "dropout_backward", [&](auto tag) {
    launch_mask<decltype(tag)>(p.n, p.p, p.seed, p.offset, p.gy, p.gx, nullptr);
  });
}

void stochastic_depth(const StochasticDepthParams& p) {
  check_p(p.p, "stochastic_depth");
  GLIA_CHECK(p.batch >= 0 && p.per_sample >= 0,
             "stochastic_depth: negative size batch=" << p.batch << " per_sample=" << p.per_sample);
  int64_t total = p.batch * p.per_sample;
  if (total == 0) return;
  dispatch_floating(p.dtype, "stochastic_depth", [&](auto tag) {
    using T = decltype(tag);
    GLIA_LAUNCH(sample_mask<T>, blocks_for(total, kThreads), kThreads, 0, p.batch, p.per_sample,
                dropout_threshold(p.p), keep_scale<T>(p.p), p.seed, p.offset, static_cast<const T*>(p.x),
                static_cast<T*>(p.y));
  });
}

}  // namespace glia::kernels::GLIA_CUDA_NS
