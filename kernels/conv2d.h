// Conv2d op family: NCHW convolution with stride, per-side padding (so TensorFlow "same"
// padding, which is asymmetric, needs no special case), dilation and groups; forward and
// the backward products to input, weight and bias. Weight is [C_out, C_in/groups, KH, KW].
// Every output, gradients included, is overwritten (never accumulated into).
// cpu: im2col + OpenBLAS GEMM (1x1 stride-1 convs are one GEMM, no im2col), a direct
// vectorised kernel for depthwise convs (groups == C_in == C_out), and Winograd
// F(2x2, 3x3) for 3x3 stride-1 pad-1 convs with >= 16 channels (forward and backward to
// the input; GLIA_CONV_WINOGRAD=0 turns it off). All threaded by OpenMP alone
// (kernels/cpu/blas.h). bfloat16/float16 x, w, bias and gy (cpu): float32 accumulation, the
// output in float32 or the inputs' dtype (out_dtype), through kernels/cpu/half_gemm.h.
#pragma once
#include <algorithm>
#include <cstdint>

#include "kernels/cost.h"
#include "kernels/dtype.h"
#include "kernels/registry.h"

namespace glia::kernels {

struct Conv2dShape {
  int64_t n = 0, c_in = 0, h_in = 0, w_in = 0;
  int64_t c_out = 0, kh = 0, kw = 0;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;

  // PyTorch's output size (floor); only meaningful once validate_conv2d has passed.
  int64_t h_out() const { return (h_in + pad_top + pad_bottom - dilation_h * (kh - 1) - 1) / stride_h + 1; }
  int64_t w_out() const { return (w_in + pad_left + pad_right - dilation_w * (kw - 1) - 1) / stride_w + 1; }
  bool is_depthwise() const { return groups == c_in && c_out == c_in && groups > 1; }
};

// TensorFlow "same" padding along one axis: output = ceil(in / stride); the odd pixel of
// the total padding goes after (bottom/right), as TensorFlow and Keras do.
struct SamePadding {
  int64_t before = 0, after = 0;
};
inline SamePadding same_padding(int64_t in, int64_t kernel, int64_t stride, int64_t dilation = 1) {
  int64_t out = (in + stride - 1) / stride;
  int64_t total = std::max<int64_t>((out - 1) * stride + dilation * (kernel - 1) + 1 - in, 0);
  return SamePadding{total / 2, total - total / 2};
}

// Throws glia::Error naming `op` and the offending values when the shape is impossible.
void validate_conv2d(const Conv2dShape& s, const char* op);

struct Conv2dParams {
  DType dtype = DType::f32;
  Conv2dShape shape;
  const void* x = nullptr;     // [N, C_in, H_in, W_in]
  const void* w = nullptr;     // [C_out, C_in/groups, KH, KW]
  const void* bias = nullptr;  // [C_out] or null
  void* y = nullptr;           // [N, C_out, H_out, W_out]
  std::optional<DType> out_dtype{};  // the output's dtype if not `dtype` (16-bit inputs: float32)
};

struct Conv2dBackwardInputParams {
  DType dtype = DType::f32;
  Conv2dShape shape;
  const void* gy = nullptr;  // [N, C_out, H_out, W_out]
  const void* w = nullptr;
  void* gx = nullptr;        // [N, C_in, H_in, W_in]
  std::optional<DType> out_dtype{};  // the output's dtype if not `dtype` (16-bit inputs: float32)
};

struct Conv2dBackwardWeightParams {
  DType dtype = DType::f32;
  Conv2dShape shape;
  const void* x = nullptr;
  const void* gy = nullptr;
  void* gw = nullptr;  // [C_out, C_in/groups, KH, KW]
  std::optional<DType> out_dtype{};  // the output's dtype if not `dtype` (16-bit inputs: float32)
};

// gbias[c] = sum over n, h, w of gy[n, c, h, w]. Shared by conv2d and conv_transpose2d.
struct Conv2dBackwardBiasParams {
  DType dtype = DType::f32;
  int64_t n = 0, c = 0, hw = 0;
  const void* gy = nullptr;  // [N, C, HW]
  void* gbias = nullptr;     // [C]
  std::optional<DType> out_dtype{};  // the output's dtype if not `dtype` (16-bit inputs: float32)
};

// Conv2d's cost per call (forward and both backward products do the same multiply-adds):
// 2 * N * C_out * Ho * Wo * (C_in / groups) * KH * KW FLOPs; x, w, y (and bias) once.
inline OpCost conv2d_cost(const Conv2dShape& s, DType t, bool bias) {
  const double ny = double(s.n) * double(s.c_out) * double(s.h_out()) * double(s.w_out());
  const int64_t nx = s.n * s.c_in * s.h_in * s.w_in, nw = s.c_out * (s.c_in / std::max<int64_t>(s.groups, 1)) * s.kh * s.kw;
  OpCost c;
  c.flops = 2.0 * ny * double((s.c_in / std::max<int64_t>(s.groups, 1)) * s.kh * s.kw);
  c.bytes = bytes_of(t, nx + nw + (bias ? s.c_out : 0)) + double(dtype_size(t)) * ny;
  return c;
}
inline OpCost cost(const Conv2dParams& p) { return conv2d_cost(p.shape, p.dtype, p.bias != nullptr); }
inline OpCost cost(const Conv2dBackwardInputParams& p) { return conv2d_cost(p.shape, p.dtype, false); }
inline OpCost cost(const Conv2dBackwardWeightParams& p) { return conv2d_cost(p.shape, p.dtype, false); }
inline OpCost cost(const Conv2dBackwardBiasParams& p) {
  return {double(p.n) * double(p.c) * double(p.hw), bytes_of(p.dtype, p.n * p.c * p.hw + p.c)};
}

namespace cpu {
void conv2d(const Conv2dParams& p);
void conv2d_backward_input(const Conv2dBackwardInputParams& p);
void conv2d_backward_weight(const Conv2dBackwardWeightParams& p);
void conv2d_backward_bias(const Conv2dBackwardBiasParams& p);
}  // namespace cpu

inline KernelSlot<void(const Conv2dParams&)> conv2d_kernel{"conv2d"};
inline KernelSlot<void(const Conv2dBackwardInputParams&)> conv2d_backward_input_kernel{"conv2d_backward_input"};
inline KernelSlot<void(const Conv2dBackwardWeightParams&)> conv2d_backward_weight_kernel{"conv2d_backward_weight"};
inline KernelSlot<void(const Conv2dBackwardBiasParams&)> conv2d_backward_bias_kernel{"conv2d_backward_bias"};

}  // namespace glia::kernels
