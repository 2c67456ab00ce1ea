#include <cmath>

#include "kernels/cpu/dispatch.h"
#include "kernels/optim.h"

namespace glia::kernels::cpu {

void adam_step(const AdamParams& p) {
  GLIA_CHECK(p.step >= 1, "adam_step: step " << p.step << " must be >= 1");
  dispatch_float(p.dtype, "adam_step", [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto* w = static_cast<T*>(p.param);
    auto* g = static_cast<const T*>(p.grad);
    auto* m = static_cast<T*>(p.exp_avg);
    auto* v = static_cast<T*>(p.exp_avg_sq);
    const T lr = static_cast<T>(p.lr), b1 = static_cast<T>(p.beta1), b2 = static_cast<T>(p.beta2);
    const T eps = static_cast<T>(p.eps), wd = static_cast<T>(p.weight_decay);
    const T step_size = static_cast<T>(p.lr / (1 - std::pow(p.beta1, static_cast<double>(p.step))));
    const T bias2_sqrt = static_cast<T>(std::sqrt(1 - std::pow(p.beta2, static_cast<double>(p.step))));
    const T decay = 1 - lr * wd;
    const bool decoupled = p.decoupled;
#pragma omp parallel for schedule(static) if (p.n >= kParallelMin)
    for (int64_t i = 0; i < p.n; ++i) {
      T grad = g[i];
      if (decoupled) {
        w[i] *= decay;
      } else {
        grad += wd * w[i];
      }
      m[i] = b1 * m[i] + (1 - b1) * grad;
      v[i] = b2 * v[i] + (1 - b2) * grad * grad;
      w[i] -= step_size * m[i] / (std::sqrt(v[i]) / bias2_sqrt + eps);
    }
  });
}

// One tensor after another: the same arithmetic as adam_step, hence the same bits. (On a
// CPU a launch costs nothing; the multi-tensor form exists for the GPU.)
void adam_multi_step(const AdamMultiParams& p) {
  for (size_t i = 0; i < p.tensors.size(); ++i)
    GLIA_CHECK(p.tensors[i].step >= 1 && p.tensors[i].n >= 0,
               "adam_multi_step: tensor " << i << " has step " << p.tensors[i].step << " and " << p.tensors[i].n
                                          << " elements (step must be >= 1, elements >= 0)");
  for (size_t i = 0; i < p.tensors.size(); ++i)
    if (p.tensors[i].n > 0) adam_step(adam_params_of(p, i));
}

void sgd_step(const SgdParams& p) {
  GLIA_CHECK(p.momentum == 0 || p.momentum_buffer != nullptr, "sgd_step: momentum " << p.momentum << " needs a buffer");
  dispatch_float(p.dtype, "sgd_step", [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto* w = static_cast<T*>(p.param);
    auto* g = static_cast<const T*>(p.grad);
    auto* buf = static_cast<T*>(p.momentum_buffer);
    const T lr = static_cast<T>(p.lr), mom = static_cast<T>(p.momentum), damp = static_cast<T>(p.dampening);
    const T wd = static_cast<T>(p.weight_decay);
#pragma omp parallel for schedule(static) if (p.n >= kParallelMin)
    for (int64_t i = 0; i < p.n; ++i) {
      T grad = g[i] + wd * w[i];
      if (mom != 0) {
        buf[i] = p.first_step ? grad : mom * buf[i] + (1 - damp) * grad;
        grad = p.nesterov ? grad + mom * buf[i] : buf[i];
      }
      w[i] -= lr * grad;
    }
  });
}

}  // namespace glia::kernels::cpu
