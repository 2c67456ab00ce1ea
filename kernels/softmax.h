// Softmax family: softmax / log-softmax over the middle axis of [outer, dim, inner], their
// backward, and the fused losses on logits: cross-entropy over classes of [n, classes]
// (class indices or probabilities, optional label smoothing) and elementwise binary
// cross-entropy with logits. Losses return one value per sample/element; the mean is
// taken by the tensor layer so every reduction mode reuses one kernel.
#pragma once
#include <cstdint>

#include "kernels/cost.h"
#include "kernels/dtype.h"
#include "kernels/registry.h"

namespace glia::kernels {

struct SoftmaxParams {
  DType dtype = DType::f32;
  bool log = false;
  int64_t outer = 1, dim = 1, inner = 1;
  const void* x = nullptr;
  void* y = nullptr;
};

// Max, exp, sum and scale: 4 FLOPs per element; x read once, y written once.
inline OpCost cost(const SoftmaxParams& p) {
  const int64_t n = p.outer * p.dim * p.inner;
  return {4.0 * double(n), bytes_of(p.dtype, 2 * n)};
}

// gx from the forward output y: softmax gx = y*(gy - sum(gy*y)); log: gx = gy - exp(y)*sum(gy).
struct SoftmaxBackwardParams {
  DType dtype = DType::f32;
  bool log = false;
  int64_t outer = 1, dim = 1, inner = 1;
  const void* y = nullptr;
  const void* gy = nullptr;
  void* gx = nullptr;
};

inline OpCost cost(const SoftmaxBackwardParams& p) {
  const int64_t n = p.outer * p.dim * p.inner;
  return {3.0 * double(n), bytes_of(p.dtype, 3 * n)};
}

struct CrossEntropyParams {
  DType dtype = DType::f32;
  int64_t n = 0, classes = 0;
  const void* logits = nullptr;           // [n, classes]
  const int64_t* target_index = nullptr;  // [n], or null when target_prob is given
  const void* target_prob = nullptr;      // [n, classes]
  double label_smoothing = 0;
  void* loss = nullptr;                   // [n]
};

// A log-softmax and the target's pick/dot: 5 FLOPs per logit; logits and targets read,
// the per-sample loss written.
inline OpCost cost(const CrossEntropyParams& p) {
  const int64_t nl = p.n * p.classes;
  const double targets = p.target_index != nullptr ? 8.0 * double(p.n) : bytes_of(p.dtype, nl);
  return {5.0 * double(nl), bytes_of(p.dtype, nl + p.n) + targets};
}

struct CrossEntropyBackwardParams {
  CrossEntropyParams forward;
  const void* grad_loss = nullptr;  // [n]
  void* grad_logits = nullptr;      // [n, classes]
};

inline OpCost cost(const CrossEntropyBackwardParams& p) {
  const OpCost f = cost(p.forward);
  return {f.flops, f.bytes + bytes_of(p.forward.dtype, p.forward.n * p.forward.classes)};
}

// loss_i = max(x,0) - x*t + log(1 + exp(-|x|)), stable for any x.
struct BceWithLogitsParams {
  DType dtype = DType::f32;
  int64_t n = 0;
  const void* logits = nullptr;
  const void* target = nullptr;
  void* loss = nullptr;
};

// A stable log-sigmoid and the product with the target: about 6 FLOPs per element;
// logits and target read, loss written.
inline OpCost cost(const BceWithLogitsParams& p) { return {6.0 * double(p.n), bytes_of(p.dtype, 3 * p.n)}; }

struct BceWithLogitsBackwardParams {
  BceWithLogitsParams forward;
  const void* grad_loss = nullptr;  // [n]
  void* grad_logits = nullptr;
};

inline OpCost cost(const BceWithLogitsBackwardParams& p) {
  return {4.0 * double(p.forward.n), bytes_of(p.forward.dtype, 4 * p.forward.n)};
}

namespace cpu {
void softmax(const SoftmaxParams& p);
void softmax_backward(const SoftmaxBackwardParams& p);
void cross_entropy(const CrossEntropyParams& p);
void cross_entropy_backward(const CrossEntropyBackwardParams& p);
void bce_with_logits(const BceWithLogitsParams& p);
void bce_with_logits_backward(const BceWithLogitsBackwardParams& p);
}  // namespace cpu

inline KernelSlot<void(const SoftmaxParams&)> softmax_kernel{"softmax"};
inline KernelSlot<void(const SoftmaxBackwardParams&)> softmax_backward_kernel{"softmax_backward"};
inline KernelSlot<void(const CrossEntropyParams&)> cross_entropy_kernel{"cross_entropy"};
inline KernelSlot<void(const CrossEntropyBackwardParams&)> cross_entropy_backward_kernel{"cross_entropy_backward"};
inline KernelSlot<void(const BceWithLogitsParams&)> bce_with_logits_kernel{"bce_with_logits"};
inline KernelSlot<void(const BceWithLogitsBackwardParams&)> bce_with_logits_backward_kernel{"bce_with_logits_backward"};

}  // namespace glia::kernels
