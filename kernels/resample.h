// Resample op family: integer-factor upsampling of NCHW (the U-Net decoder uses 2x).
// nearest: y[i, j] = x[i / s, j / s]. bilinear: PyTorch's align_corners=false mapping,
// src = max((dst + 0.5) / s - 0.5, 0), neighbours clamped at the last row/column.
// Channel concat/split are strided copies (kernels/copy.h). Gradients are overwritten.
#pragma once
#include <cstdint>

#include "kernels/cost.h"
#include "kernels/dtype.h"
#include "kernels/registry.h"

namespace glia::kernels {

enum class UpsampleMode { nearest, bilinear };

struct Upsample2dParams {
  DType dtype = DType::f32;
  UpsampleMode mode = UpsampleMode::nearest;
  int64_t n = 0, c = 0, h_in = 0, w_in = 0;
  int64_t scale = 2;
  const void* x = nullptr;  // [N, C, H_in, W_in]
  void* y = nullptr;        // [N, C, H_in * scale, W_in * scale]
};

// nearest moves data only; bilinear blends 4 neighbours (6 FLOPs per output). x read
// once, y written once.
inline OpCost cost(const Upsample2dParams& p) {
  const int64_t nx = p.n * p.c * p.h_in * p.w_in, ny = nx * p.scale * p.scale;
  return {p.mode == UpsampleMode::bilinear ? 6.0 * double(ny) : 0.0, bytes_of(p.dtype, nx + ny)};
}

struct Upsample2dBackwardParams {
  DType dtype = DType::f32;
  UpsampleMode mode = UpsampleMode::nearest;
  int64_t n = 0, c = 0, h_in = 0, w_in = 0;
  int64_t scale = 2;
  const void* gy = nullptr;
  void* gx = nullptr;
};

// Sums gy into gx: 1 FLOP per gy element (nearest), 8 (bilinear).
inline OpCost cost(const Upsample2dBackwardParams& p) {
  const int64_t nx = p.n * p.c * p.h_in * p.w_in, ny = nx * p.scale * p.scale;
  return {(p.mode == UpsampleMode::bilinear ? 8.0 : 1.0) * double(ny), bytes_of(p.dtype, nx + ny)};
}

namespace cpu {
void upsample2d(const Upsample2dParams& p);
void upsample2d_backward(const Upsample2dBackwardParams& p);
}  // namespace cpu

inline KernelSlot<void(const Upsample2dParams&)> upsample2d_kernel{"upsample2d"};
inline KernelSlot<void(const Upsample2dBackwardParams&)> upsample2d_backward_kernel{"upsample2d_backward"};

}  // namespace glia::kernels
