// Optimizer updates (kernels/optim.h): one thread per parameter element, grid-stride
// loop. Adam reads p, g, m, v and writes p, m, v: 28 bytes and ~12 FLOPs per float
// element, so it is bandwidth-bound; fusing the whole update into one pass is the point.
// The arithmetic follows the CPU kernel line for line so both backends agree to rounding.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels.cuh"
#include "kernels/optim.h"

namespace glia::kernels::GLIA_CUDA_NS {
namespace {

constexpr int kOptimThreads = 256;

template <class T>
struct AdamScalars {
  T lr, beta1, beta2, eps, weight_decay, step_size, bias2_sqrt;
  bool decoupled;
};

template <class T>
__global__ void adam_elements(int64_t n, AdamScalars<T> s, T* w, const T* g, T* m, T* v) {
  for (int64_t i : grid_stride(n)) {
    T grad = g[i];
    if (s.decoupled) {
      w[i] *= 1 - s.lr * s.weight_decay;
    } else {
      grad += s.weight_decay * w[i];
    }
    m[i] = s.beta1 * m[i] + (1 - s.beta1) * grad;
    v[i] = s.beta2 * v[i] + (1 - s.beta2) * grad * grad;
    w[i] -= s.step_size * m[i] / (dev_sqrt(v[i]) / s.bias2_sqrt + s.eps);
  }
}

template <class T>
struct SgdScalars {
  T lr, momentum, dampening, weight_decay;
  bool nesterov, first_step;
};

template <class T>
__global__ void sgd_elements(int64_t n, SgdScalars<T> s, T* w, const T* g, T* buf) {
  for (int64_t i : grid_stride(n)) {
    T grad = g[i] + s.weight_decay * w[i];
    if (s.momentum != 0) {
      buf[i] = s.first_step ? grad : s.momentum * buf[i] + (1 - s.dampening) * grad;
      grad = s.nesterov ? grad + s.momentum * buf[i] : buf[i];
    }
    w[i] -= s.lr * grad;
  }
}

}  // namespace

void adam_step(const AdamParams& p) {
  GLIA_CHECK(p.step >= 1, "adam_step: step " << p.step << " must be >= 1");
  if (p.n == 0) return;
  dispatch_floating(p.dtype, "adam_step", [&](auto zero) {
    using T = decltype(zero);
    AdamScalars<T> s;
    s.lr = static_cast<T>(p.lr);
    s.beta1 = static_cast<T>(p.beta1);
    s.beta2 = static_cast<T>(p.beta2);
    s.eps = static_cast<T>(p.eps);
    s.weight_decay = static_cast<T>(p.weight_decay);
    s.step_size = static_cast<T>(p.lr / (1 - std::pow(p.beta1, static_cast<double>(p.step))));
    s.bias2_sqrt = static_cast<T>(std::sqrt(1 - std::pow(p.beta2, static_cast<double>(p.step))));
    s.decoupled = p.decoupled;
    GLIA_LAUNCH(adam_elements<T>, blocks_for(p.n, kOptimThreads, kOneWaveBlocks), kOptimThreads, 0, p.n, s,
                static_cast<T*>(p.param), static_cast<const T*>(p.grad), static_cast<T*>(p.exp_avg),
                static_cast<T*>(p.exp_avg_sq));
  });
}

void sgd_step(const SgdParams& p) {
  GLIA_CHECK(p.momentum == 0 || p.momentum_buffer != nullptr, "sgd_step: momentum " << p.momentum << " needs a buffer");
  if (p.n == 0) return;
  dispatch_floating(p.dtype, "sgd_step", [&](auto zero) {
    using T = decltype(zero);
    SgdScalars<T> s{static_cast<T>(p.lr), static_cast<T>(p.momentum), static_cast<T>(p.dampening),
                    static_cast<T>(p.weight_decay), p.nesterov, p.first_step};
    GLIA_LAUNCH(sgd_elements<T>, blocks_for(p.n, kOptimThreads, kOneWaveBlocks), kOptimThreads, 0, p.n, s,
                static_cast<T*>(p.param), static_cast<const T*>(p.grad), static_cast<T*>(p.momentum_buffer));
  });
}

}  // namespace glia::kernels::GLIA_CUDA_NS
