// CPU pooling: one (sample, channel) plane per OpenMP task, so the backward scatters of
// a plane never race. Window bounds are clipped once per output row/column.
#include "kernels/pool.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/dispatch.h"
#include "kernels/error.h"

namespace glia::kernels::cpu {
namespace {

// Row-wise: for each output row, every kernel tap sweeps the row's valid output columns,
// so the inner loop is branch-light and cache-friendly. Taps are visited in window order
// (row-major), so ties keep the first maximum and a NaN anywhere wins, as in PyTorch.
template <class T>
void max_forward(const MaxPool2dParams& p) {
  const Pool2dShape& s = p.shape;
  const T* x = static_cast<const T*>(p.x);
  T* y = static_cast<T*>(p.y);
  const int64_t H = s.h_in, W = s.w_in, ho = s.h_out(), wo = s.w_out();
#pragma omp parallel for schedule(static) if (s.n * s.c * ho * wo * s.kh * s.kw > kParallelMin)
  for (int64_t plane = 0; plane < s.n * s.c; ++plane) {
    const T* xp = x + plane * H * W;
    for (int64_t oh = 0; oh < ho; ++oh) {
      T* __restrict best = y + (plane * ho + oh) * wo;
      int64_t* __restrict at = p.indices + (plane * ho + oh) * wo;
      for (int64_t ow = 0; ow < wo; ++ow) best[ow] = T(-INFINITY);
      // Placeholder index (the window's first in-image pixel) for all-minus-infinity windows.
      const int64_t h_first = std::max<int64_t>(oh * s.stride_h - s.pad_h, 0);
      for (int64_t ow = 0; ow < wo; ++ow) at[ow] = h_first * W + std::max<int64_t>(ow * s.stride_w - s.pad_w, 0);
      for (int64_t ki = 0; ki < s.kh; ++ki) {
        const int64_t ih = oh * s.stride_h - s.pad_h + ki;
        if (ih < 0 || ih >= H) continue;
        const T* row = xp + ih * W;
        for (int64_t kj = 0; kj < s.kw; ++kj) {
          const int64_t off = kj - s.pad_w;
          // valid ow: 0 <= ow * stride + off < W
          const int64_t lo = off >= 0 ? 0 : (-off + s.stride_w - 1) / s.stride_w;
          const int64_t hi = std::min(wo, W - 1 - off < 0 ? 0 : (W - 1 - off) / s.stride_w + 1);
          for (int64_t ow = lo; ow < hi; ++ow) {
            const int64_t iw = ow * s.stride_w + off;
            const T v = row[iw];
            // A NaN best stays (v > NaN is false) unless v is NaN too.
            if (v > best[ow] || (v != v && best[ow] == best[ow])) {
              best[ow] = v;
              at[ow] = ih * W + iw;
            }
          }
        }
      }
    }
  }
}

template <class T>
void max_backward(const MaxPool2dBackwardParams& p) {
  const Pool2dShape& s = p.shape;
  const T* gy = static_cast<const T*>(p.gy);
  T* gx = static_cast<T*>(p.gx);
  const int64_t HW = s.h_in * s.w_in, out = s.h_out() * s.w_out();
#pragma omp parallel for schedule(static) if (s.n * s.c * HW > kParallelMin)
  for (int64_t plane = 0; plane < s.n * s.c; ++plane) {
    T* gp = gx + plane * HW;
    std::fill(gp, gp + HW, T(0));
    const T* g = gy + plane * out;
    const int64_t* ip = p.indices + plane * out;
    for (int64_t i = 0; i < out; ++i) gp[ip[i]] += g[i];
  }
}

// Calls fn(h0, h1, w0, w1, divisor) for each output of a plane, in output order.
template <class Fn>
void for_avg_windows(const Pool2dShape& s, bool count_include_pad, Fn&& fn) {
  const int64_t H = s.h_in, W = s.w_in, ho = s.h_out(), wo = s.w_out();
  for (int64_t oh = 0; oh < ho; ++oh) {
    int64_t h0 = oh * s.stride_h - s.pad_h, h1 = std::min(h0 + s.kh, H + s.pad_h);
    const int64_t pool_h = h1 - h0;
    h0 = std::max<int64_t>(h0, 0), h1 = std::min(h1, H);
    for (int64_t ow = 0; ow < wo; ++ow) {
      int64_t w0 = ow * s.stride_w - s.pad_w, w1 = std::min(w0 + s.kw, W + s.pad_w);
      const int64_t pool_w = w1 - w0;
      w0 = std::max<int64_t>(w0, 0), w1 = std::min(w1, W);
      const int64_t divisor = count_include_pad ? pool_h * pool_w : (h1 - h0) * (w1 - w0);
      fn(h0, h1, w0, w1, divisor);
    }
  }
}

template <class T>
void avg_forward(const AvgPool2dParams& p) {
  const Pool2dShape& s = p.shape;
  const T* x = static_cast<const T*>(p.x);
  T* y = static_cast<T*>(p.y);
  const int64_t HW = s.h_in * s.w_in, out = s.h_out() * s.w_out();
#pragma omp parallel for schedule(static) if (s.n * s.c * out * s.kh * s.kw > kParallelMin)
  for (int64_t plane = 0; plane < s.n * s.c; ++plane) {
    const T* xp = x + plane * HW;
    T* yp = y + plane * out;
    for_avg_windows(s, p.count_include_pad, [&](int64_t h0, int64_t h1, int64_t w0, int64_t w1, int64_t div) {
      T sum = 0;
      for (int64_t ih = h0; ih < h1; ++ih)
        for (int64_t iw = w0; iw < w1; ++iw) sum += xp[ih * s.w_in + iw];
      *yp++ = sum / T(div);
    });
  }
}

template <class T>
void avg_backward(const AvgPool2dBackwardParams& p) {
  const Pool2dShape& s = p.shape;
  const T* gy = static_cast<const T*>(p.gy);
  T* gx = static_cast<T*>(p.gx);
  const int64_t HW = s.h_in * s.w_in, out = s.h_out() * s.w_out();
#pragma omp parallel for schedule(static) if (s.n * s.c * out * s.kh * s.kw > kParallelMin)
  for (int64_t plane = 0; plane < s.n * s.c; ++plane) {
    T* gp = gx + plane * HW;
    std::fill(gp, gp + HW, T(0));
    const T* g = gy + plane * out;
    for_avg_windows(s, p.count_include_pad, [&](int64_t h0, int64_t h1, int64_t w0, int64_t w1, int64_t div) {
      const T share = *g++ / T(div);
      for (int64_t ih = h0; ih < h1; ++ih)
        for (int64_t iw = w0; iw < w1; ++iw) gp[ih * s.w_in + iw] += share;
    });
  }
}

inline int64_t adaptive_start(int64_t o, int64_t in, int64_t out) { return (o * in) / out; }
inline int64_t adaptive_end(int64_t o, int64_t in, int64_t out) { return ((o + 1) * in + out - 1) / out; }

template <class T, bool kBackward>
void adaptive_typed(int64_t n, int64_t c, int64_t H, int64_t W, int64_t ho, int64_t wo, const void* src, void* dst) {
  const T* in = static_cast<const T*>(src);
  T* outp = static_cast<T*>(dst);
#pragma omp parallel for schedule(static) if (n * c * H * W > kParallelMin)
  for (int64_t plane = 0; plane < n * c; ++plane) {
    if (kBackward) std::fill(outp + plane * H * W, outp + (plane + 1) * H * W, T(0));
    for (int64_t oh = 0; oh < ho; ++oh) {
      const int64_t h0 = adaptive_start(oh, H, ho), h1 = adaptive_end(oh, H, ho);
      for (int64_t ow = 0; ow < wo; ++ow) {
        const int64_t w0 = adaptive_start(ow, W, wo), w1 = adaptive_end(ow, W, wo);
        const T count = T((h1 - h0) * (w1 - w0));
        if (kBackward) {
          T* gp = outp + plane * H * W;
          const T share = in[(plane * ho + oh) * wo + ow] / count;
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) gp[ih * W + iw] += share;
        } else {
          const T* xp = in + plane * H * W;
          T sum = 0;
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) sum += xp[ih * W + iw];
          outp[(plane * ho + oh) * wo + ow] = sum / count;
        }
      }
    }
  }
}

void check_adaptive(int64_t n, int64_t c, int64_t h, int64_t w, int64_t ho, int64_t wo, const char* op) {
  GLIA_CHECK(n >= 0 && c > 0 && h > 0 && w > 0 && ho > 0 && wo > 0,
             op << ": sizes must be positive, got input [" << n << ", " << c << ", " << h << ", " << w << "] output "
                << ho << "x" << wo);
}

}  // namespace

void max_pool2d(const MaxPool2dParams& p) {
  validate_pool2d(p.shape, "max_pool2d");
  GLIA_CHECK(p.indices != nullptr, "max_pool2d: the indices buffer is required (the backward needs it)");
  dispatch_float(p.dtype, "max_pool2d", [&](auto tag) { max_forward<typename decltype(tag)::type>(p); });
}

void max_pool2d_backward(const MaxPool2dBackwardParams& p) {
  validate_pool2d(p.shape, "max_pool2d_backward");
  dispatch_float(p.dtype, "max_pool2d_backward", [&](auto tag) { max_backward<typename decltype(tag)::type>(p); });
}

void avg_pool2d(const AvgPool2dParams& p) {
  validate_pool2d(p.shape, "avg_pool2d");
  dispatch_float(p.dtype, "avg_pool2d", [&](auto tag) { avg_forward<typename decltype(tag)::type>(p); });
}

void avg_pool2d_backward(const AvgPool2dBackwardParams& p) {
  validate_pool2d(p.shape, "avg_pool2d_backward");
  dispatch_float(p.dtype, "avg_pool2d_backward", [&](auto tag) { avg_backward<typename decltype(tag)::type>(p); });
}

void adaptive_avg_pool2d(const AdaptiveAvgPool2dParams& p) {
  check_adaptive(p.n, p.c, p.h_in, p.w_in, p.h_out, p.w_out, "adaptive_avg_pool2d");
  dispatch_float(p.dtype, "adaptive_avg_pool2d", [&](auto tag) {
    adaptive_typed<typename decltype(tag)::type, false>(p.n, p.c, p.h_in, p.w_in, p.h_out, p.w_out, p.x, p.y);
  });
}

void adaptive_avg_pool2d_backward(const AdaptiveAvgPool2dBackwardParams& p) {
  check_adaptive(p.n, p.c, p.h_in, p.w_in, p.h_out, p.w_out, "adaptive_avg_pool2d_backward");
  dispatch_float(p.dtype, "adaptive_avg_pool2d_backward", [&](auto tag) {
    adaptive_typed<typename decltype(tag)::type, true>(p.n, p.c, p.h_in, p.w_in, p.h_out, p.w_out, p.gy, p.gx);
  });
}

void global_avg_pool(const GlobalAvgPoolParams& p) {
  GLIA_CHECK(p.n >= 0 && p.c > 0 && p.hw > 0, "global_avg_pool: bad shape n=" << p.n << " c=" << p.c << " hw=" << p.hw);
  dispatch_float(p.dtype, "global_avg_pool", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = static_cast<const T*>(p.x);
    T* y = static_cast<T*>(p.y);
#pragma omp parallel for schedule(static) if (p.n * p.c * p.hw > kParallelMin)
    for (int64_t i = 0; i < p.n * p.c; ++i) {
      const T* row = x + i * p.hw;
      T sum = 0;
#pragma omp simd reduction(+ : sum)
      for (int64_t j = 0; j < p.hw; ++j) sum += row[j];
      y[i] = sum / T(p.hw);
    }
  });
}

void global_avg_pool_backward(const GlobalAvgPoolBackwardParams& p) {
  GLIA_CHECK(p.n >= 0 && p.c > 0 && p.hw > 0,
             "global_avg_pool_backward: bad shape n=" << p.n << " c=" << p.c << " hw=" << p.hw);
  dispatch_float(p.dtype, "global_avg_pool_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* gy = static_cast<const T*>(p.gy);
    T* gx = static_cast<T*>(p.gx);
#pragma omp parallel for schedule(static) if (p.n * p.c * p.hw > kParallelMin)
    for (int64_t i = 0; i < p.n * p.c; ++i) {
      const T share = gy[i] / T(p.hw);
      T* row = gx + i * p.hw;
      for (int64_t j = 0; j < p.hw; ++j) row[j] = share;
    }
  });
}

}  // namespace glia::kernels::cpu
