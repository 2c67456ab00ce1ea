// CPU conv2d: im2col + OpenBLAS GEMM for general and 1x1 convs (1x1 convs of several images
// on small planes as one GEMM, conv2d_pointwise.cpp), the depthwise kernel
// (conv2d_depthwise.cpp) when groups == C_in == C_out, Winograd F(2x2, 3x3)
// (conv2d_winograd.cpp) for 3x3 stride-1 pad-1 convs with >= 16 channels and enough 2x2
// tiles to pay for the weight transform (conv2d_internal.h), forward and
// backward to the input.
//
// Threads: one pool, OpenMP's (kernels/cpu/blas.h). The forward's chunks of output pixels
// run in parallel, each thread with its own column scratch; where chunks accumulate into
// the same memory (col2im, the weight gradient) the chunks stay serial and each GEMM is
// split across the threads instead. The column matrix is built for a chunk of output
// pixels at a time so scratch stays a few MiB even at 256x256 (a full im2col of a 3x3
// 64-channel conv there would be 150 MB).
#include <algorithm>
#include <cstring>

#include "kernels/cpu/blas.h"
#include "kernels/cpu/conv2d_internal.h"
#include "kernels/error.h"

namespace glia::kernels::cpu {
namespace conv_detail {

template <>
void gemm<float>(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  blas_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
template <>
void gemm<double>(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
                  const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  blas_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

namespace {
// Column-matrix elements per chunk: 1 MiB of f32 stays in L2 between im2col and GEMM
// (measured best for the U-Net 3x3 convs), but a GEMM needs >= 256 columns to run well.
int64_t col_budget = int64_t(1) << 18;
}  // namespace

bool is_pointwise(const Conv2dShape& s) {
  return s.kh == 1 && s.kw == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 && s.pad_bottom == 0 &&
         s.pad_left == 0 && s.pad_right == 0;
}

int64_t chunk_pixels(int64_t rows, int64_t pixels) {
  const int64_t min_len = std::min<int64_t>(256, std::max<int64_t>(col_budget / 8, 1));
  int64_t len = std::max<int64_t>(col_budget / std::max<int64_t>(rows, 1), min_len);
  return std::min(len, pixels);
}

// Calls fn(oh, ow0, ow1, dst_offset) for the output rows pieces covering pixels [p0, p1).
template <class Fn>
void for_row_pieces(int64_t p0, int64_t p1, int64_t wo, Fn&& fn) {
  for (int64_t p = p0; p < p1;) {
    int64_t oh = p / wo, ow0 = p % wo, ow1 = std::min(wo, ow0 + (p1 - p));
    fn(oh, ow0, ow1, p - p0);
    p += ow1 - ow0;
  }
}

// col[r, 0:len) for rows r = (c, ki, kj) of one group's input planes, pixels [p0, p0+len).
template <class T>
void im2col_chunk(const Conv2dShape& s, const T* x, int64_t channels, int64_t p0, int64_t len, T* col) {
  const int64_t H = s.h_in, W = s.w_in, wo = s.w_out(), kk = s.kh * s.kw, rows = channels * kk;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t c = r / kk, ki = (r / s.kw) % s.kh, kj = r % s.kw;
    const T* xc = x + c * H * W;
    T* dst = col + r * len;
    int64_t lo, hi;
    valid_range(kj * s.dilation_w - s.pad_left, s.stride_w, W, wo, lo, hi);
    const int64_t off = kj * s.dilation_w - s.pad_left;
    for_row_pieces(p0, p0 + len, wo, [&](int64_t oh, int64_t ow0, int64_t ow1, int64_t at) {
      T* d = dst + at - ow0;  // d[ow] is this piece's element for output column ow
      int64_t ih = oh * s.stride_h - s.pad_top + ki * s.dilation_h;
      if (ih < 0 || ih >= H) {
        for (int64_t ow = ow0; ow < ow1; ++ow) d[ow] = T(0);
        return;
      }
      const T* row = xc + ih * W;
      int64_t a = std::max(ow0, lo), b = std::max(a, std::min(ow1, hi));
      for (int64_t ow = ow0; ow < a; ++ow) d[ow] = T(0);
      if (s.stride_w == 1) {
        std::memcpy(d + a, row + a + off, sizeof(T) * (b - a));
      } else {
        for (int64_t ow = a; ow < b; ++ow) d[ow] = row[ow * s.stride_w + off];
      }
      for (int64_t ow = b; ow < ow1; ++ow) d[ow] = T(0);
    });
  }
}

// gx planes += col2im(col): the inverse scatter of im2col_chunk. Parallel over channels,
// since the rows of one channel only touch that channel's plane.
template <class T>
void col2im_chunk(const Conv2dShape& s, const T* col, int64_t channels, int64_t p0, int64_t len, T* gx) {
  const int64_t H = s.h_in, W = s.w_in, wo = s.w_out();
  for (int64_t c = 0; c < channels; ++c) {
    T* gc = gx + c * H * W;
    for (int64_t ki = 0; ki < s.kh; ++ki) {
      for (int64_t kj = 0; kj < s.kw; ++kj) {
        const T* src = col + ((c * s.kh + ki) * s.kw + kj) * len;
        const int64_t off = kj * s.dilation_w - s.pad_left;
        int64_t lo, hi;
        valid_range(off, s.stride_w, W, wo, lo, hi);
        for_row_pieces(p0, p0 + len, wo, [&](int64_t oh, int64_t ow0, int64_t ow1, int64_t at) {
          int64_t ih = oh * s.stride_h - s.pad_top + ki * s.dilation_h;
          if (ih < 0 || ih >= H) return;
          T* row = gc + ih * W;
          const T* in = src + at - ow0;
          int64_t a = std::max(ow0, lo), b = std::max(a, std::min(ow1, hi));
          if (s.stride_w == 1) {
#pragma omp simd
            for (int64_t ow = a; ow < b; ++ow) row[ow + off] += in[ow];
          } else {
            for (int64_t ow = a; ow < b; ++ow) row[ow * s.stride_w + off] += in[ow];
          }
        });
      }
    }
  }
}

template void im2col_chunk<uint16_t>(const Conv2dShape&, const uint16_t*, int64_t, int64_t, int64_t, uint16_t*);
template void col2im_chunk<float>(const Conv2dShape&, const float*, int64_t, int64_t, int64_t, float*);

int64_t set_col_budget(int64_t elements) {
  int64_t old = col_budget;
  col_budget = elements;
  return old;
}

template <class T>
void add_bias(int64_t n, int64_t c, int64_t hw, const T* bias, T* y) {
  if (bias == nullptr) return;
#pragma omp parallel for schedule(static) if (n * c * hw > 32768)
  for (int64_t i = 0; i < n * c; ++i) {
    const T b = bias[i % c];
    T* row = y + i * hw;
#pragma omp simd
    for (int64_t j = 0; j < hw; ++j) row[j] += b;
  }
}

template <class T>
void im2col_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const int64_t G = s.groups, cg = s.c_in / G, og = s.c_out / G, kg = cg * s.kh * s.kw;
  const int64_t P = s.h_out() * s.w_out(), HW = s.h_in * s.w_in;
  const bool pointwise = is_pointwise(s);
  const int64_t len_max = chunk_pixels(kg, P);
  if (pointwise) {
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t g = 0; g < G; ++g)
        gemm<T>(false, false, og, P, cg, T(1), w + g * og * kg, kg, x + (n * s.c_in + g * cg) * HW, P, T(0),
                y + (n * s.c_out + g * og) * P, P);
  } else {
    // Every (image, group, pixel chunk) writes its own columns of y: one task each.
    const int64_t chunks = (P + len_max - 1) / len_max, tasks = s.n * G * chunks;
#pragma omp parallel for schedule(dynamic) if (tasks > 1)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t n = t / (G * chunks), g = (t / chunks) % G, p0 = (t % chunks) * len_max;
      const int64_t len = std::min(len_max, P - p0);
      T* col = scratch<T>(size_t(kg * len_max));
      im2col_chunk(s, x + (n * s.c_in + g * cg) * HW, cg, p0, len, col);
      gemm<T>(false, false, og, len, kg, T(1), w + g * og * kg, kg, col, len, T(0),
              y + (n * s.c_out + g * og) * P + p0, P);
    }
  }
  add_bias(s.n, s.c_out, P, bias, y);
}

template <class T>
void im2col_backward_input(const Conv2dShape& s, const T* gy, const T* w, T* gx) {
  const int64_t G = s.groups, cg = s.c_in / G, og = s.c_out / G, kg = cg * s.kh * s.kw;
  const int64_t P = s.h_out() * s.w_out(), HW = s.h_in * s.w_in;
  const bool pointwise = is_pointwise(s);
  const int64_t len_max = chunk_pixels(kg, P);
  T* col = pointwise ? nullptr : scratch<T>(size_t(kg * len_max));
  if (!pointwise) std::fill(gx, gx + s.n * s.c_in * HW, T(0));
  for (int64_t n = 0; n < s.n; ++n) {
    for (int64_t g = 0; g < G; ++g) {
      T* gxg = gx + (n * s.c_in + g * cg) * HW;
      const T* wg = w + g * og * kg;
      const T* gyg = gy + (n * s.c_out + g * og) * P;
      if (pointwise) {
        gemm<T>(true, false, cg, P, og, T(1), wg, kg, gyg, P, T(0), gxg, P);
        continue;
      }
      for (int64_t p0 = 0; p0 < P; p0 += len_max) {
        int64_t len = std::min(len_max, P - p0);
        gemm<T>(true, false, kg, len, og, T(1), wg, kg, gyg + p0, P, T(0), col, len);
        col2im_chunk(s, col, cg, p0, len, gxg);
      }
    }
  }
}

template <class T>
void im2col_backward_weight(const Conv2dShape& s, const T* x, const T* gy, T* gw) {
  const int64_t G = s.groups, cg = s.c_in / G, og = s.c_out / G, kg = cg * s.kh * s.kw;
  const int64_t P = s.h_out() * s.w_out(), HW = s.h_in * s.w_in;
  const bool pointwise = is_pointwise(s);
  const int64_t len_max = chunk_pixels(kg, P);
  T* col = pointwise ? nullptr : scratch<T>(size_t(kg * len_max));
  if (s.n == 0) std::fill(gw, gw + s.c_out * kg, T(0));
  for (int64_t n = 0; n < s.n; ++n) {
    for (int64_t g = 0; g < G; ++g) {
      const T* xg = x + (n * s.c_in + g * cg) * HW;
      const T* gyg = gy + (n * s.c_out + g * og) * P;
      T* gwg = gw + g * og * kg;
      if (pointwise) {
        gemm<T>(false, true, og, kg, P, T(1), gyg, P, xg, P, n == 0 ? T(0) : T(1), gwg, kg);
        continue;
      }
      for (int64_t p0 = 0; p0 < P; p0 += len_max) {
        int64_t len = std::min(len_max, P - p0);
        im2col_chunk(s, xg, cg, p0, len, col);
        T beta = (n == 0 && p0 == 0) ? T(0) : T(1);
        gemm<T>(false, true, og, kg, len, T(1), gyg + p0, P, col, len, beta, gwg, kg);
      }
    }
  }
}

#define GLIA_CONV_INSTANTIATE(T)                                                                 \
  template void add_bias<T>(int64_t, int64_t, int64_t, const T*, T*);                           \
  template void im2col_forward<T>(const Conv2dShape&, const T*, const T*, const T*, T*);       \
  template void im2col_backward_input<T>(const Conv2dShape&, const T*, const T*, T*);          \
  template void im2col_backward_weight<T>(const Conv2dShape&, const T*, const T*, T*);
GLIA_CONV_INSTANTIATE(float)
GLIA_CONV_INSTANTIATE(double)
#undef GLIA_CONV_INSTANTIATE

}  // namespace conv_detail

using namespace conv_detail;

namespace {

// float32/float64 here; bfloat16/float16 in conv2d_half.cpp.
template <class Params>
void check_float_dtype(const Params& p, const char* op) {
  GLIA_CHECK(p.dtype == DType::f32 || p.dtype == DType::f64,
             op << ": dtype " << dtype_name(p.dtype) << " is not supported on cpu (float32, float64, bfloat16, float16)");
  GLIA_CHECK(output_dtype(p) == p.dtype, op << ": " << dtype_name(p.dtype) << " inputs write "
                                            << dtype_name(p.dtype) << " on cpu, not " << dtype_name(output_dtype(p)));
}

template <class T>
void conv2d_typed(const Conv2dParams& p) {
  auto x = static_cast<const T*>(p.x);
  auto w = static_cast<const T*>(p.w);
  auto b = static_cast<const T*>(p.bias);
  auto y = static_cast<T*>(p.y);
  if (p.shape.is_depthwise()) depthwise_forward(p.shape, x, w, b, y);
  else if (winograd_applies(p.shape)) winograd_forward(p.shape, x, w, b, y);
  else if (pointwise_batch_applies(p.shape)) pointwise_batched_forward(p.shape, x, w, b, y);
  else im2col_forward(p.shape, x, w, b, y);
}

template <class T>
void backward_input_typed(const Conv2dBackwardInputParams& p) {
  auto gy = static_cast<const T*>(p.gy);
  auto w = static_cast<const T*>(p.w);
  auto gx = static_cast<T*>(p.gx);
  if (p.shape.is_depthwise()) depthwise_backward_input(p.shape, gy, w, gx);
  else if (winograd_applies(p.shape)) winograd_backward_input(p.shape, gy, w, gx);
  else if (pointwise_batch_applies(p.shape)) pointwise_batched_backward_input(p.shape, gy, w, gx);
  else im2col_backward_input(p.shape, gy, w, gx);
}

template <class T>
void backward_weight_typed(const Conv2dBackwardWeightParams& p) {
  auto x = static_cast<const T*>(p.x);
  auto gy = static_cast<const T*>(p.gy);
  auto gw = static_cast<T*>(p.gw);
  if (p.shape.is_depthwise()) depthwise_backward_weight(p.shape, x, gy, gw);
  else if (pointwise_batch_applies(p.shape)) pointwise_batched_backward_weight(p.shape, x, gy, gw);
  else im2col_backward_weight(p.shape, x, gy, gw);
}

template <class T>
void backward_bias_typed(const Conv2dBackwardBiasParams& p) {
  auto gy = static_cast<const T*>(p.gy);
  auto gb = static_cast<T*>(p.gbias);
#pragma omp parallel for schedule(static) if (p.n * p.c * p.hw > 32768)
  for (int64_t c = 0; c < p.c; ++c) {
    double acc = 0;
    for (int64_t n = 0; n < p.n; ++n) {
      const T* row = gy + (n * p.c + c) * p.hw;
      T part = 0;
#pragma omp simd reduction(+ : part)
      for (int64_t j = 0; j < p.hw; ++j) part += row[j];
      acc += part;
    }
    gb[c] = T(acc);
  }
}

}  // namespace

void conv2d(const Conv2dParams& p) {
  if (is_16bit_float(p.dtype)) return conv2d_16bit(p);
  check_float_dtype(p, "conv2d");
  validate_conv2d(p.shape, "conv2d");
  if (p.dtype == DType::f32) conv2d_typed<float>(p);
  else conv2d_typed<double>(p);
}

void conv2d_backward_input(const Conv2dBackwardInputParams& p) {
  if (is_16bit_float(p.dtype)) return conv2d_backward_input_16bit(p);
  check_float_dtype(p, "conv2d_backward_input");
  validate_conv2d(p.shape, "conv2d_backward_input");
  if (p.dtype == DType::f32) backward_input_typed<float>(p);
  else backward_input_typed<double>(p);
}

void conv2d_backward_weight(const Conv2dBackwardWeightParams& p) {
  if (is_16bit_float(p.dtype)) return conv2d_backward_weight_16bit(p);
  check_float_dtype(p, "conv2d_backward_weight");
  validate_conv2d(p.shape, "conv2d_backward_weight");
  if (p.dtype == DType::f32) backward_weight_typed<float>(p);
  else backward_weight_typed<double>(p);
}

void conv2d_backward_bias(const Conv2dBackwardBiasParams& p) {
  if (is_16bit_float(p.dtype)) return conv2d_backward_bias_16bit(p);
  check_float_dtype(p, "conv2d_backward_bias");
  GLIA_CHECK(p.n >= 0 && p.c >= 0 && p.hw >= 0,
             "conv2d_backward_bias: negative size n=" << p.n << " c=" << p.c << " hw=" << p.hw);
  if (p.dtype == DType::f32) backward_bias_typed<float>(p);
  else backward_bias_typed<double>(p);
}

}  // namespace glia::kernels::cpu
