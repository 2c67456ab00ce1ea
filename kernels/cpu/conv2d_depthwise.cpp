// Depthwise conv2d (groups == C_in == C_out), the bulk of EfficientNet's work: a direct
// kernel, one (sample, channel) plane per OpenMP task. For each output row and kernel tap
// the valid output columns are computed once, so the inner loop has no bounds branches
// and vectorises (contiguous at stride 1).
#include <algorithm>

#include "kernels/cpu/conv2d_internal.h"

namespace glia::kernels::cpu::conv_detail {

template <class T>
void depthwise_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const int64_t H = s.h_in, W = s.w_in, ho = s.h_out(), wo = s.w_out(), C = s.c_in, kk = s.kh * s.kw;
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < s.n * C; ++plane) {
    const int64_t c = plane % C;
    const T* xp = x + plane * H * W;
    const T* wp = w + c * kk;
    T* yp = y + plane * ho * wo;
    const T b = bias ? bias[c] : T(0);
    for (int64_t oh = 0; oh < ho; ++oh) {
      T* __restrict yrow = yp + oh * wo;
      for (int64_t ow = 0; ow < wo; ++ow) yrow[ow] = b;
      for (int64_t ki = 0; ki < s.kh; ++ki) {
        const int64_t ih = oh * s.stride_h - s.pad_top + ki * s.dilation_h;
        if (ih < 0 || ih >= H) continue;
        const T* __restrict xrow = xp + ih * W;
        for (int64_t kj = 0; kj < s.kw; ++kj) {
          const T wv = wp[ki * s.kw + kj];
          const int64_t off = kj * s.dilation_w - s.pad_left;
          int64_t lo, hi;
          valid_range(off, s.stride_w, W, wo, lo, hi);
          if (s.stride_w == 1) {
#pragma omp simd
            for (int64_t ow = lo; ow < hi; ++ow) yrow[ow] += wv * xrow[ow + off];
          } else if (s.stride_w == 2) {
#pragma omp simd
            for (int64_t ow = lo; ow < hi; ++ow) yrow[ow] += wv * xrow[2 * ow + off];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) yrow[ow] += wv * xrow[ow * s.stride_w + off];
          }
        }
      }
    }
  }
}

template <class T>
void depthwise_backward_input(const Conv2dShape& s, const T* gy, const T* w, T* gx) {
  const int64_t H = s.h_in, W = s.w_in, ho = s.h_out(), wo = s.w_out(), C = s.c_in, kk = s.kh * s.kw;
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < s.n * C; ++plane) {
    const int64_t c = plane % C;
    const T* gyp = gy + plane * ho * wo;
    const T* wp = w + c * kk;
    T* gxp = gx + plane * H * W;
    std::fill(gxp, gxp + H * W, T(0));
    for (int64_t oh = 0; oh < ho; ++oh) {
      const T* __restrict gyrow = gyp + oh * wo;
      for (int64_t ki = 0; ki < s.kh; ++ki) {
        const int64_t ih = oh * s.stride_h - s.pad_top + ki * s.dilation_h;
        if (ih < 0 || ih >= H) continue;
        T* __restrict gxrow = gxp + ih * W;
        for (int64_t kj = 0; kj < s.kw; ++kj) {
          const T wv = wp[ki * s.kw + kj];
          const int64_t off = kj * s.dilation_w - s.pad_left;
          int64_t lo, hi;
          valid_range(off, s.stride_w, W, wo, lo, hi);
          if (s.stride_w == 1) {
#pragma omp simd
            for (int64_t ow = lo; ow < hi; ++ow) gxrow[ow + off] += wv * gyrow[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) gxrow[ow * s.stride_w + off] += wv * gyrow[ow];
          }
        }
      }
    }
  }
}

// gw[c, ki, kj] = sum over samples and outputs of gy * x; one channel per task, partial
// row sums in T, the running total in double.
template <class T>
void depthwise_backward_weight(const Conv2dShape& s, const T* x, const T* gy, T* gw) {
  const int64_t H = s.h_in, W = s.w_in, ho = s.h_out(), wo = s.w_out(), C = s.c_in, kk = s.kh * s.kw;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    double acc[64];
    double* sum = kk <= 64 ? acc : nullptr;
    std::vector<double> big;
    if (!sum) {
      big.assign(size_t(kk), 0.0);
      sum = big.data();
    }
    std::fill(sum, sum + kk, 0.0);
    for (int64_t n = 0; n < s.n; ++n) {
      const T* xp = x + (n * C + c) * H * W;
      const T* gyp = gy + (n * C + c) * ho * wo;
      for (int64_t oh = 0; oh < ho; ++oh) {
        const T* gyrow = gyp + oh * wo;
        for (int64_t ki = 0; ki < s.kh; ++ki) {
          const int64_t ih = oh * s.stride_h - s.pad_top + ki * s.dilation_h;
          if (ih < 0 || ih >= H) continue;
          const T* xrow = xp + ih * W;
          for (int64_t kj = 0; kj < s.kw; ++kj) {
            const int64_t off = kj * s.dilation_w - s.pad_left;
            int64_t lo, hi;
            valid_range(off, s.stride_w, W, wo, lo, hi);
            T part = 0;
            if (s.stride_w == 1) {
#pragma omp simd reduction(+ : part)
              for (int64_t ow = lo; ow < hi; ++ow) part += gyrow[ow] * xrow[ow + off];
            } else {
              for (int64_t ow = lo; ow < hi; ++ow) part += gyrow[ow] * xrow[ow * s.stride_w + off];
            }
            sum[ki * s.kw + kj] += part;
          }
        }
      }
    }
    for (int64_t k = 0; k < kk; ++k) gw[c * kk + k] = T(sum[k]);
  }
}

#define GLIA_DEPTHWISE_INSTANTIATE(T)                                                          \
  template void depthwise_forward<T>(const Conv2dShape&, const T*, const T*, const T*, T*);  \
  template void depthwise_backward_input<T>(const Conv2dShape&, const T*, const T*, T*);     \
  template void depthwise_backward_weight<T>(const Conv2dShape&, const T*, const T*, T*);
GLIA_DEPTHWISE_INSTANTIATE(float)
GLIA_DEPTHWISE_INSTANTIATE(double)
#undef GLIA_DEPTHWISE_INSTANTIATE

}  // namespace glia::kernels::cpu::conv_detail
