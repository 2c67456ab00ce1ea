// ConvTranspose2d op family (U-Net decoder upsampling), groups = 1. Weight is
// [C_in, C_out, KH, KW] as in PyTorch. The forward is conv2d's backward-to-input and the
// backward-to-input is conv2d's forward, so every backend can reuse its conv machinery.
// Output size as PyTorch:
//   H_out = (H_in - 1) * stride - 2 * padding + dilation * (KH - 1) + output_padding + 1.
// Gradient outputs are overwritten. The bias gradient is conv2d_backward_bias on gy.
// bfloat16/float16 (cpu): as conv2d's, float32 accumulation, output in float32 or the
// inputs' dtype (out_dtype).
#pragma once
#include <cstdint>

#include "kernels/conv2d.h"

namespace glia::kernels {

struct ConvTranspose2dShape {
  int64_t n = 0, c_in = 0, h_in = 0, w_in = 0;
  int64_t c_out = 0, kh = 0, kw = 0;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t output_pad_h = 0, output_pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;

  int64_t h_out() const { return (h_in - 1) * stride_h - 2 * pad_h + dilation_h * (kh - 1) + output_pad_h + 1; }
  int64_t w_out() const { return (w_in - 1) * stride_w - 2 * pad_w + dilation_w * (kw - 1) + output_pad_w + 1; }
};

// Throws glia::Error naming `op` for impossible parameters (output_padding must be
// smaller than stride; PyTorch also allows "or dilation", glia does not).
void validate_conv_transpose2d(const ConvTranspose2dShape& s, const char* op);

// The conv2d whose backward-to-input this transposed conv is: its input is the transposed
// conv's output (C_out channels), its output the transposed conv's input (C_in channels).
Conv2dShape conv_transpose2d_as_conv(const ConvTranspose2dShape& s);

struct ConvTranspose2dParams {
  DType dtype = DType::f32;
  ConvTranspose2dShape shape;
  const void* x = nullptr;     // [N, C_in, H_in, W_in]
  const void* w = nullptr;     // [C_in, C_out, KH, KW]
  const void* bias = nullptr;  // [C_out] or null
  void* y = nullptr;           // [N, C_out, H_out, W_out]
  std::optional<DType> out_dtype{};  // the output's dtype if not `dtype` (16-bit inputs: float32)
};

struct ConvTranspose2dBackwardInputParams {
  DType dtype = DType::f32;
  ConvTranspose2dShape shape;
  const void* gy = nullptr;
  const void* w = nullptr;
  void* gx = nullptr;
  std::optional<DType> out_dtype{};  // the output's dtype if not `dtype` (16-bit inputs: float32)
};

struct ConvTranspose2dBackwardWeightParams {
  DType dtype = DType::f32;
  ConvTranspose2dShape shape;
  const void* x = nullptr;
  const void* gy = nullptr;
  void* gw = nullptr;  // [C_in, C_out, KH, KW]
  std::optional<DType> out_dtype{};  // the output's dtype if not `dtype` (16-bit inputs: float32)
};

// ConvTranspose2d's cost per call (all three products): 2 * N * C_in * H_in * W_in *
// C_out * KH * KW FLOPs; x, w, y (and bias) once.
inline OpCost conv_transpose2d_cost(const ConvTranspose2dShape& s, DType t, bool bias) {
  const double nx = double(s.n) * double(s.c_in) * double(s.h_in) * double(s.w_in);
  const int64_t ny = s.n * s.c_out * s.h_out() * s.w_out(), nw = s.c_in * s.c_out * s.kh * s.kw;
  OpCost c;
  c.flops = 2.0 * nx * double(s.c_out * s.kh * s.kw);
  c.bytes = double(dtype_size(t)) * nx + bytes_of(t, ny + nw + (bias ? s.c_out : 0));
  return c;
}
inline OpCost cost(const ConvTranspose2dParams& p) { return conv_transpose2d_cost(p.shape, p.dtype, p.bias != nullptr); }
inline OpCost cost(const ConvTranspose2dBackwardInputParams& p) { return conv_transpose2d_cost(p.shape, p.dtype, false); }
inline OpCost cost(const ConvTranspose2dBackwardWeightParams& p) {
  return conv_transpose2d_cost(p.shape, p.dtype, false);
}

namespace cpu {
void conv_transpose2d(const ConvTranspose2dParams& p);
void conv_transpose2d_backward_input(const ConvTranspose2dBackwardInputParams& p);
void conv_transpose2d_backward_weight(const ConvTranspose2dBackwardWeightParams& p);
}  // namespace cpu

inline KernelSlot<void(const ConvTranspose2dParams&)> conv_transpose2d_kernel{"conv_transpose2d"};
inline KernelSlot<void(const ConvTranspose2dBackwardInputParams&)> conv_transpose2d_backward_input_kernel{
    "conv_transpose2d_backward_input"};
inline KernelSlot<void(const ConvTranspose2dBackwardWeightParams&)> conv_transpose2d_backward_weight_kernel{
    "conv_transpose2d_backward_weight"};

}  // namespace glia::kernels
