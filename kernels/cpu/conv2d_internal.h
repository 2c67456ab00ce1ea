// Typed building blocks of the CPU conv kernels, shared by conv2d.cpp,
// conv2d_depthwise.cpp and conv_transpose2d.cpp. Not part of the kernel API.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/conv2d.h"

namespace glia::kernels::cpu::conv_detail {

// Per-thread scratch that only grows, so steady-state calls allocate nothing.
// `which` separates buffers needed at the same time.
template <class T>
T* scratch(size_t n, int which = 0) {
  thread_local std::vector<T> buffers[3];
  std::vector<T>& b = buffers[which];
  if (b.size() < n) b.resize(n);
  return b.data();
}

// [lo, hi): the outputs o in [0, count) with 0 <= o * stride + offset < size.
inline void valid_range(int64_t offset, int64_t stride, int64_t size, int64_t count, int64_t& lo, int64_t& hi) {
  lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  hi = size - 1 - offset < 0 ? 0 : (size - 1 - offset) / stride + 1;
  if (lo > count) lo = count;
  if (hi > count) hi = count;
  if (hi < lo) hi = lo;
}

// im2col building blocks (conv2d.cpp; instantiated for float, double, and uint16_t bits of
// the 16-bit formats in im2col_chunk, float in col2im_chunk).
bool is_pointwise(const Conv2dShape& s);  // 1x1, stride 1, unpadded: a plain GEMM
int64_t chunk_pixels(int64_t rows, int64_t pixels);  // output pixels per column chunk
// col[r, 0:len) for rows r = (c, ki, kj) of `channels` input planes, output pixels [p0, p0+len).
template <class T>
void im2col_chunk(const Conv2dShape& s, const T* x, int64_t channels, int64_t p0, int64_t len, T* col);
// gx planes += the inverse scatter of im2col_chunk.
template <class T>
void col2im_chunk(const Conv2dShape& s, const T* col, int64_t channels, int64_t p0, int64_t len, T* gx);

// Row-major C = alpha * op(A) * op(B) + beta * C through cblas.
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// General path (any groups): im2col + GEMM, with 1x1 stride-1 unpadded convs as a GEMM.
template <class T>
void im2col_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);
template <class T>
void im2col_backward_input(const Conv2dShape& s, const T* gy, const T* w, T* gx);
template <class T>
void im2col_backward_weight(const Conv2dShape& s, const T* x, const T* gy, T* gw);

// Pointwise convs (is_pointwise, one group, several images) on planes under 512 pixels
// (conv2d_pointwise.cpp): a chunk of images gathered side by side into one GEMM, instead
// of a GEMM per image with a few dozen columns.
bool pointwise_batch_applies(const Conv2dShape& s);
template <class T>
void pointwise_batched_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);
template <class T>
void pointwise_batched_backward_input(const Conv2dShape& s, const T* gy, const T* w, T* gx);
template <class T>
void pointwise_batched_backward_weight(const Conv2dShape& s, const T* x, const T* gy, T* gw);
// Tests: the elements of the larger gathered matrix per chunk of images; returns the old
// value. Not thread-safe.
int64_t set_pointwise_batch_budget(int64_t elements);

// Depthwise path (groups == C_in == C_out): direct loops over one plane per task.
template <class T>
void depthwise_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);
template <class T>
void depthwise_backward_input(const Conv2dShape& s, const T* gy, const T* w, T* gx);
template <class T>
void depthwise_backward_weight(const Conv2dShape& s, const T* x, const T* gy, T* gw);

// Winograd F(2x2, 3x3) path (conv2d_winograd.cpp) for 3x3, stride-1, dilation-1, ungrouped
// convs with every pad 1, C_in, C_out >= 16 and at least max(C_in, C_out) / 2 output tiles
// (2x2) over the batch; float32 and float64. Backward to the weight stays on im2col.
// GLIA_CONV_WINOGRAD (read once): 0 never, 2 whatever the tile count, else the default.
bool winograd_applies(const Conv2dShape& s);
template <class T>
void winograd_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);
template <class T>
void winograd_backward_input(const Conv2dShape& s, const T* gy, const T* w, T* gx);
// Tests: Winograd off (0), on (1), on for every fitting shape whatever its tile count (2),
// back to GLIA_CONV_WINOGRAD (-1); and the V + M elements per tile chunk. Each returns the
// old value. Not thread-safe.
int set_winograd_enabled(int enabled);
int64_t set_winograd_budget(int64_t elements);

// Sets the column-matrix budget per im2col chunk (elements), returns the old one. Tests
// shrink it to exercise the chunking; not thread-safe, not for production use.
int64_t set_col_budget(int64_t elements);

// y[n, c, :] += bias[c]
template <class T>
void add_bias(int64_t n, int64_t c, int64_t hw, const T* bias, T* y);

}  // namespace glia::kernels::cpu::conv_detail

namespace glia::kernels::cpu {
// bfloat16/float16 convs (conv2d_half.cpp), called by the entry points in conv2d.cpp.
void conv2d_16bit(const Conv2dParams& p);
void conv2d_backward_input_16bit(const Conv2dBackwardInputParams& p);
void conv2d_backward_weight_16bit(const Conv2dBackwardWeightParams& p);
void conv2d_backward_bias_16bit(const Conv2dBackwardBiasParams& p);
}  // namespace glia::kernels::cpu
