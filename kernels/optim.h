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
#include <vector>

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

// Adam over many tensors in one kernel launch (PyTorch's fused multi-tensor Adam): one
// entry per tensor (its own step count, so its own bias correction), shared
// hyper-parameters. Every element gets exactly the arithmetic of adam_step, so results
// are bit-identical to one adam_step call per tensor; the point is one launch per
// optimizer step instead of one per parameter tensor (hundreds in an EfficientNet, each
// a few microseconds of launch overhead for a few kilobytes of work).
struct AdamTensor {
  void* param = nullptr;
  const void* grad = nullptr;
  void* exp_avg = nullptr;
  void* exp_avg_sq = nullptr;
  int64_t n = 0;
  int64_t step = 1;  // this tensor's step, 1 on its first update
};

struct AdamMultiParams {
  DType dtype = DType::f32;
  std::vector<AdamTensor> tensors;  // all on one device, all of `dtype`
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled = false;
};

// Tensor i of a multi-tensor call as a single-tensor call (the cpu kernel, and tests).
inline AdamParams adam_params_of(const AdamMultiParams& p, size_t i) {
  const AdamTensor& t = p.tensors[i];
  AdamParams a;
  a.dtype = p.dtype, a.n = t.n, a.param = t.param, a.grad = t.grad, a.exp_avg = t.exp_avg;
  a.exp_avg_sq = t.exp_avg_sq, a.lr = p.lr, a.beta1 = p.beta1, a.beta2 = p.beta2, a.eps = p.eps;
  a.weight_decay = p.weight_decay, a.decoupled = p.decoupled, a.step = t.step;
  return a;
}

inline OpCost cost(const AdamMultiParams& p) {
  OpCost c;
  for (size_t i = 0; i < p.tensors.size(); ++i) {
    const OpCost one = cost(adam_params_of(p, i));
    c.flops += one.flops;
    c.bytes += one.bytes;
  }
  return c;
}

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
void adam_multi_step(const AdamMultiParams& p);
void sgd_step(const SgdParams& p);
}  // namespace cpu

inline KernelSlot<void(const AdamParams&)> adam_step_kernel{"adam_step"};
inline KernelSlot<void(const AdamMultiParams&)> adam_multi_step_kernel{"adam_multi_step"};
inline KernelSlot<void(const SgdParams&)> sgd_step_kernel{"sgd_step"};

}  // namespace glia::kernels
