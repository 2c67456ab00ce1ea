// BatchNorm2d op family on NCHW viewed as [N, C, HW]: statistics per channel over N and HW.
// Training forward normalises with the batch mean and biased variance, saves mean and
// 1/sqrt(var + eps) for the backward, and (when running buffers are given) updates
//   running_mean = (1 - momentum) * running_mean + momentum * mean
//   running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1)
// with the unbiased variance, as PyTorch does (M = N * HW). Eval forward reads the running
// statistics. All per-channel buffers have the data's dtype. Gradients are overwritten.
//
// An activation can be fused into the normalising pass (act): y = act(bn(x)) costs one
// read of x and one write of y instead of two of each. Its backward takes the gradient of
// act(bn(x)) and recomputes bn(x) from x (needs beta), so nothing more is saved.
// A residual can be added before a fused ReLU (a residual block's tail,
// relu(bn(x) + r), in one pass instead of three); its backward reads ReLU's mask from
// the output y and also writes the residual's gradient.
#pragma once
#include <cstdint>

#include "kernels/cost.h"
#include "kernels/dtype.h"
#include "kernels/registry.h"

namespace glia::kernels {

enum class NormActivation : uint8_t { identity, relu, silu };
const char* norm_activation_name(NormActivation act);

struct BatchNormParams {
  DType dtype = DType::f32;
  int64_t n = 0, c = 0, hw = 0;
  double eps = 1e-5, momentum = 0.1;
  bool training = true;
  NormActivation act = NormActivation::identity;
  const void* x = nullptr;
  const void* gamma = nullptr;     // [C], or null for 1
  const void* beta = nullptr;      // [C], or null for 0
  const void* residual = nullptr;  // like x, or null; only with act relu
  void* y = nullptr;
  void* running_mean = nullptr;  // [C]; training: updated when non-null; eval: required
  void* running_var = nullptr;
  void* save_mean = nullptr;    // [C]; training: written (required)
  void* save_invstd = nullptr;  // [C]; training: written (required)
};

// Training: statistics (2 FLOPs per element) and the affine normalisation (2), eval the
// normalisation alone; +1 per element for an activation or residual. x (and residual)
// read once, y written once, the per-channel vectors once.
inline OpCost cost(const BatchNormParams& p) {
  const int64_t numel = p.n * p.c * p.hw;
  const double per = (p.training ? 4.0 : 2.0) + (p.act != NormActivation::identity ? 1.0 : 0.0) +
                     (p.residual != nullptr ? 1.0 : 0.0);
  return {per * double(numel), bytes_of(p.dtype, numel * (p.residual != nullptr ? 3 : 2) + 6 * p.c)};
}

// training: statistics from save_mean / save_invstd (the batch's), gradients flow through
// them. eval: the statistics are constants read from running_mean / running_var.
struct BatchNormBackwardParams {
  DType dtype = DType::f32;
  int64_t n = 0, c = 0, hw = 0;
  double eps = 1e-5;  // the forward's eps (the hand kernels read it in eval only; cuDNN's backward always)
  bool training = true;
  NormActivation act = NormActivation::identity;  // gy is then the gradient of act(y)
  bool fused_residual = false;  // the forward added a residual before relu: y is required
  const void* y = nullptr;      // the forward's output (read only with fused_residual)
  void* gresidual = nullptr;    // with fused_residual: the residual's gradient, or null
  const void* x = nullptr;
  const void* gy = nullptr;
  const void* gamma = nullptr;  // or null for 1
  const void* beta = nullptr;   // or null for 0; read only when act is not identity
  const void* save_mean = nullptr;
  const void* save_invstd = nullptr;
  const void* running_mean = nullptr;
  const void* running_var = nullptr;
  void* gx = nullptr;      // or null
  void* ggamma = nullptr;  // or null
  void* gbeta = nullptr;   // or null
};

// Training: the two per-channel sums and the input gradient (6 FLOPs per element), eval
// 2; x and gy read, gx written (y read and gresidual written with a fused residual).
inline OpCost cost(const BatchNormBackwardParams& p) {
  const int64_t numel = p.n * p.c * p.hw;
  const double per = (p.training ? 6.0 : 2.0) + (p.act != NormActivation::identity ? 1.0 : 0.0);
  const int64_t tensors = 3 + (p.fused_residual ? 1 : 0) + (p.gresidual != nullptr ? 1 : 0);
  return {per * double(numel), bytes_of(p.dtype, numel * tensors + 6 * p.c)};
}

namespace cpu {
void batch_norm(const BatchNormParams& p);
void batch_norm_backward(const BatchNormBackwardParams& p);
}  // namespace cpu

inline KernelSlot<void(const BatchNormParams&)> batch_norm_kernel{"batch_norm"};
inline KernelSlot<void(const BatchNormBackwardParams&)> batch_norm_backward_kernel{"batch_norm_backward"};

}  // namespace glia::kernels
