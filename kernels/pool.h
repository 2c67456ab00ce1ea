// Pooling op family on NCHW: max_pool2d (saves argmax for the backward), avg_pool2d
// (count_include_pad as PyTorch), adaptive average pooling and global average pooling
// (NCHW -> NC). Output size floor((H + 2 * pad - k) / stride) + 1 (no ceil_mode); padding
// is at most half the kernel, as in PyTorch. Gradients are overwritten.
#pragma once
#include <cstdint>

#include "kernels/cost.h"
#include "kernels/dtype.h"
#include "kernels/registry.h"

namespace glia::kernels {

struct Pool2dShape {
  int64_t n = 0, c = 0, h_in = 0, w_in = 0;
  int64_t kh = 0, kw = 0;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;

  int64_t h_out() const { return (h_in + 2 * pad_h - kh) / stride_h + 1; }
  int64_t w_out() const { return (w_in + 2 * pad_w - kw) / stride_w + 1; }
};

// Throws glia::Error naming `op` and the values for impossible pooling parameters.
void validate_pool2d(const Pool2dShape& s, const char* op);

// Padding counts as -inf; NaN propagates (a NaN in the window is the max), as in PyTorch.
struct MaxPool2dParams {
  DType dtype = DType::f32;
  Pool2dShape shape;
  const void* x = nullptr;
  void* y = nullptr;
  int64_t* indices = nullptr;  // [N, C, H_out, W_out]: ih * W_in + iw of the max in its plane
};

// Pooling: one FLOP (compare or add) per window element per output; x read once, y
// written once (+ the int64 argmax indices for max pooling).
inline OpCost cost(const MaxPool2dParams& p) {
  const auto& s = p.shape;
  const int64_t ny = s.n * s.c * s.h_out() * s.w_out(), nx = s.n * s.c * s.h_in * s.w_in;
  return {double(ny) * double(s.kh * s.kw), bytes_of(p.dtype, nx + ny) + (p.indices != nullptr ? 8.0 * double(ny) : 0.0)};
}

struct MaxPool2dBackwardParams {
  DType dtype = DType::f32;
  Pool2dShape shape;
  const void* gy = nullptr;
  const int64_t* indices = nullptr;
  void* gx = nullptr;
};

inline OpCost cost(const MaxPool2dBackwardParams& p) {
  const auto& s = p.shape;
  const int64_t ny = s.n * s.c * s.h_out() * s.w_out(), nx = s.n * s.c * s.h_in * s.w_in;
  return {double(ny), bytes_of(p.dtype, nx + ny) + 8.0 * double(ny)};
}

struct AvgPool2dParams {
  DType dtype = DType::f32;
  Pool2dShape shape;
  bool count_include_pad = true;  // divide by k*k (true) or by the in-image count (false)
  const void* x = nullptr;
  void* y = nullptr;
};

inline OpCost cost(const AvgPool2dParams& p) {
  const auto& s = p.shape;
  const int64_t ny = s.n * s.c * s.h_out() * s.w_out(), nx = s.n * s.c * s.h_in * s.w_in;
  return {double(ny) * double(s.kh * s.kw), bytes_of(p.dtype, nx + ny)};
}

struct AvgPool2dBackwardParams {
  DType dtype = DType::f32;
  Pool2dShape shape;
  bool count_include_pad = true;
  const void* gy = nullptr;
  void* gx = nullptr;
};

inline OpCost cost(const AvgPool2dBackwardParams& p) {
  const auto& s = p.shape;
  const int64_t ny = s.n * s.c * s.h_out() * s.w_out(), nx = s.n * s.c * s.h_in * s.w_in;
  return {double(ny) * double(s.kh * s.kw), bytes_of(p.dtype, nx + ny)};
}

// Output cell (i, j) averages rows [floor(i*H/Ho), ceil((i+1)*H/Ho)) and likewise columns.
struct AdaptiveAvgPool2dParams {
  DType dtype = DType::f32;
  int64_t n = 0, c = 0, h_in = 0, w_in = 0, h_out = 0, w_out = 0;
  const void* x = nullptr;  // forward: x -> y
  void* y = nullptr;
};

inline OpCost cost(const AdaptiveAvgPool2dParams& p) {
  const int64_t nx = p.n * p.c * p.h_in * p.w_in, ny = p.n * p.c * p.h_out * p.w_out;
  return {double(nx), bytes_of(p.dtype, nx + ny)};
}

struct AdaptiveAvgPool2dBackwardParams {
  DType dtype = DType::f32;
  int64_t n = 0, c = 0, h_in = 0, w_in = 0, h_out = 0, w_out = 0;
  const void* gy = nullptr;
  void* gx = nullptr;
};

inline OpCost cost(const AdaptiveAvgPool2dBackwardParams& p) {
  const int64_t nx = p.n * p.c * p.h_in * p.w_in, ny = p.n * p.c * p.h_out * p.w_out;
  return {double(nx), bytes_of(p.dtype, nx + ny)};
}

// y[n, c] = mean over hw of x[n, c, hw]; the backward spreads gy / hw.
struct GlobalAvgPoolParams {
  DType dtype = DType::f32;
  int64_t n = 0, c = 0, hw = 0;
  const void* x = nullptr;
  void* y = nullptr;  // [N, C]
};

inline OpCost cost(const GlobalAvgPoolParams& p) {
  return {double(p.n * p.c * p.hw), bytes_of(p.dtype, p.n * p.c * (p.hw + 1))};
}

struct GlobalAvgPoolBackwardParams {
  DType dtype = DType::f32;
  int64_t n = 0, c = 0, hw = 0;
  const void* gy = nullptr;  // [N, C]
  void* gx = nullptr;
};

inline OpCost cost(const GlobalAvgPoolBackwardParams& p) {
  return {double(p.n * p.c * p.hw), bytes_of(p.dtype, p.n * p.c * (p.hw + 1))};
}

namespace cpu {
void max_pool2d(const MaxPool2dParams& p);
void max_pool2d_backward(const MaxPool2dBackwardParams& p);
void avg_pool2d(const AvgPool2dParams& p);
void avg_pool2d_backward(const AvgPool2dBackwardParams& p);
void adaptive_avg_pool2d(const AdaptiveAvgPool2dParams& p);
void adaptive_avg_pool2d_backward(const AdaptiveAvgPool2dBackwardParams& p);
void global_avg_pool(const GlobalAvgPoolParams& p);
void global_avg_pool_backward(const GlobalAvgPoolBackwardParams& p);
}  // namespace cpu

inline KernelSlot<void(const MaxPool2dParams&)> max_pool2d_kernel{"max_pool2d"};
inline KernelSlot<void(const MaxPool2dBackwardParams&)> max_pool2d_backward_kernel{"max_pool2d_backward"};
inline KernelSlot<void(const AvgPool2dParams&)> avg_pool2d_kernel{"avg_pool2d"};
inline KernelSlot<void(const AvgPool2dBackwardParams&)> avg_pool2d_backward_kernel{"avg_pool2d_backward"};
inline KernelSlot<void(const AdaptiveAvgPool2dParams&)> adaptive_avg_pool2d_kernel{"adaptive_avg_pool2d"};
inline KernelSlot<void(const AdaptiveAvgPool2dBackwardParams&)> adaptive_avg_pool2d_backward_kernel{
    "adaptive_avg_pool2d_backward"};
inline KernelSlot<void(const GlobalAvgPoolParams&)> global_avg_pool_kernel{"global_avg_pool"};
inline KernelSlot<void(const GlobalAvgPoolBackwardParams&)> global_avg_pool_backward_kernel{
    "global_avg_pool_backward"};

}  // namespace glia::kernels
