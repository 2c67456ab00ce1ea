// Optimizer update kernels: one fused pass over a parameter tensor per step, the way
// PyTorch's fused/foreach Adam works, instead of a chain of elementwise ops.
//
// Adam (PyTorch's arithmetic, in this order):
//   g = grad (+ weight_decay * p when !decoupled: PyTorch Adam's L2 form)
//   p *= 1 - lr * weight_decay                      (decoupled: AdamW / Keras)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g^2
//   p -= (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// SGD with momentum (PyTorch): g = grad + wd * p; buf = g on the first step, else
//   buf = momentum * buf + (1 - dampening) * g; g = nesterov ? g + momentum * buf : buf;
//   p -= lr * g.
#pragma once
#include <cstdint>

#include "kernels/cost.h"
#include "kernels/dtype.h"
#include "kernels/registry.h"

namespace glia::kernels {

struct AdamParams {
  DType dtype = DType::f32;
  int64_t n = 0;
  void* param = nullptr;
  const void* grad = nullptr;
  void* exp_avg = nullptr;
  void* exp_avg_sq = nullptr;
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled = false;
  int64_t step = 1;  // 1 on the first update (bias correction)
};

// About 12 FLOPs per element (moments, bias correction, square root, division, decay);
// param, grad, both moments read, param and moments written: 7 values per element.
inline OpCost cost(const AdamParams& p) { return {12.0 * double(p.n), bytes_of(p.dtype, 7 * p.n)}; }

struct SgdParams {
  DType dtype = DType::f32;
  int64_t n = 0;
  void* param = nullptr;
  const void* grad = nullptr;
  void* momentum_buffer = nullptr;  // null when momentum == 0
  double lr = 1e-2, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
  bool first_step = true;
};

// About 4 FLOPs per element; param and grad read, param written (+ the momentum buffer
// read and written).
inline OpCost cost(const SgdParams& p) {
  return {4.0 * double(p.n), bytes_of(p.dtype, p.n * (p.momentum_buffer != nullptr ? 5 : 3))};
}

namespace cpu {
void adam_step(const AdamParams& p);
void sgd_step(const SgdParams& p);
}  // namespace cpu

inline KernelSlot<void(const AdamParams&)> adam_step_kernel{"adam_step"};
inline KernelSlot<void(const SgdParams&)> sgd_step_kernel{"sgd_step"};

}  // namespace glia::kernels
