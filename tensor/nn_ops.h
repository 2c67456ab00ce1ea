// Differentiable layer ops over the convolution-family kernels: convolution, transposed
// convolution, batch normalisation, pooling, dropout, stochastic depth and up-sampling.
// Like tensor/ops.h, each op checks its inputs (errors name the op and the shapes),
// runs the kernel of the input's device through the registry (kernels::select, with
// the family's switch GLIA_CONV / GLIA_BN / GLIA_POOL on cuda) and records an autograd node.
//
//   conv2d, conv_transpose2d     tensor/nn_conv.cpp     kernels/conv2d.h, conv_transpose2d.h
//   batch_norm                   tensor/nn_norm.cpp     kernels/batch_norm.h
//   pooling                      tensor/nn_pool.cpp     kernels/pool.h
//   dropout, stochastic_depth    tensor/nn_dropout.cpp  kernels/dropout.h
//   upsample                     tensor/nn_resample.cpp kernels/resample.h (integer factors)
//
// Where a case has no kernel (up-sampling to a non-multiple size, or a device lacking a
// kernel), the op is composed from the differentiable ops of tensor/ops.h on the same
// device; the file says which.
#pragma once
#include <cstdint>

#include "kernels/batch_norm.h"  // NormActivation
#include "tensor/tensor.h"

namespace glia {

class Generator;

// Per-side padding, so TensorFlow "same" padding (asymmetric) needs no special case.
struct Padding2d {
  int64_t top = 0, bottom = 0, left = 0, right = 0;
  static Padding2d symmetric(int64_t ph, int64_t pw) { return Padding2d{ph, ph, pw, pw}; }
  static Padding2d symmetric(int64_t p) { return Padding2d{p, p, p, p}; }
};

struct Conv2dArgs {
  int64_t stride_h = 1, stride_w = 1;
  Padding2d padding;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
};
// Square kernel shorthands: stride s, symmetric padding p.
Conv2dArgs conv_args(int64_t stride = 1, int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1);

// TensorFlow/Keras "same" padding for an input of h x w (output = ceil(in / stride); the
// odd pixel goes bottom/right).
Padding2d same_padding_2d(int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t stride_h, int64_t stride_w,
                          int64_t dilation_h = 1, int64_t dilation_w = 1);

// x [N, C_in, H, W], weight [C_out, C_in/groups, KH, KW], bias [C_out] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dArgs& args);

struct ConvTranspose2dArgs {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t output_pad_h = 0, output_pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
};
// x [N, C_in, H, W], weight [C_in, C_out, KH, KW] (PyTorch layout), bias [C_out] or undefined.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvTranspose2dArgs& args);

// Batch normalisation over N, H, W of x [N, C, H, W] (or [N, C]).
// training: normalise with the batch statistics and, when running_mean/running_var are
//   defined, update them in place (no autograd) as PyTorch does:
//   running = (1 - momentum) * running + momentum * batch, with the unbiased batch variance.
//   With a CrossReplicaReducer installed on the thread (tensor/cross_replica.h), "batch"
//   is the union of every data-parallel replica's batch (synchronised batch norm).
// eval: normalise with running_mean / running_var.
// weight / bias [C] may be undefined (no affine).
// act: an activation applied to the result in the same kernel pass (relu(batch_norm(...))
// with one read and one write of the data instead of two; the backward is fused too).
// residual (like x, act relu only): relu(batch_norm(x) + residual), a residual block's
// tail in one pass.
using kernels::NormActivation;
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps,
                  NormActivation act = NormActivation::identity, const Tensor& residual = Tensor());

// Pooling over the last two dims of x [N, C, H, W]; padding is symmetric. Max pooling
// pads with -infinity; average pooling counts the padding (count_include_pad) or not.
Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding = 0);
Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding = 0,
                  bool count_include_pad = true);
// PyTorch's adaptive windows: output cell i covers [floor(i*H/oh), ceil((i+1)*H/oh)).
Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w);
Tensor global_avg_pool2d(const Tensor& x);  // [N, C, H, W] -> [N, C, 1, 1]

// Inverted dropout: zero with probability p, scale the rest by 1/(1-p). The mask is
// drawn from `gen` (default generator when null) and is identical on every device.
// Identity when !training or p == 0.
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);
// Stochastic depth ("row" mode, torchvision.ops.stochastic_depth): drops a whole
// sample's residual branch with probability p, scales survivors by 1/(1-p).
Tensor stochastic_depth(const Tensor& x, double p, bool training, Generator* gen = nullptr);

// Up-sampling of x [N, C, H, W] to [N, C, out_h, out_w].
// nearest: PyTorch's 'nearest' (source index floor(i * in / out)).
Tensor upsample_nearest2d(const Tensor& x, int64_t out_h, int64_t out_w);
// bilinear: PyTorch's 'bilinear' with align_corners as given.
Tensor upsample_bilinear2d(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners = false);

}  // namespace glia
