// Pooling forward and backward (kernels/pool.h): max (with argmax indices), average
// (count_include_pad or not), adaptive average, global average.
//
// Decomposition: one thread per output element for the forwards (grid-stride loop, blocks
// of 256). Every backward is a gather, one thread per *input* pixel: it visits the output
// windows that contain it (at most ceil(k/stride)^2 of them) and sums their shares in a
// fixed order. So overlapping windows need no atomics and results are deterministic; the
// max backward adds gy of the windows whose saved argmax is this pixel. Global average
// pooling: one block per (n, c) plane with a block reduction; its backward is one thread
// per element.
//
// Cost: forward k*k compares/adds per output; backward about the same per input. Bytes:
// input + output (+ int64 indices for max) once each: memory-bound.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels.cuh"
#include "kernels/pool.h"

namespace glia::kernels::GLIA_CUDA_NS {
namespace {

constexpr int kThreads = 256;

#define GLIA_GRID_STRIDE(i, total) for (int64_t i : grid_stride(static_cast<int64_t>(total)))

// Output windows along one axis that contain input coordinate `i`: [lo, hi).
__device__ __forceinline__ void covering_windows(int64_t i, int64_t pad, int64_t k, int64_t stride, int64_t out,
                                                 int64_t& lo, int64_t& hi) {
  int64_t t = i + pad;  // window o covers t when o*stride <= t < o*stride + k
  lo = t - k + 1 <= 0 ? 0 : (t - k + 1 + stride - 1) / stride;
  hi = t / stride + 1;
  if (hi > out) hi = out;
}

template <class T>
__global__ void max_forward(Pool2dShape s, int64_t ho, int64_t wo, const T* x, T* y, int64_t* indices) {
  const int64_t total = s.n * s.c * ho * wo;
  GLIA_GRID_STRIDE(i, total) {
    int64_t ow = i % wo, oh = (i / wo) % ho, plane = i / (wo * ho);
    const T* xp = x + plane * s.h_in * s.w_in;
    int64_t h0 = oh * s.stride_h - s.pad_h, w0 = ow * s.stride_w - s.pad_w;
    T best = lowest_value<T>();
    // Placeholder (the window's first in-image pixel) for an all -inf window, as the CPU.
    int64_t at = (h0 > 0 ? h0 : 0) * s.w_in + (w0 > 0 ? w0 : 0);
    for (int64_t ih = h0; ih < h0 + s.kh; ++ih) {
      if (ih < 0 || ih >= s.h_in) continue;
      for (int64_t iw = w0; iw < w0 + s.kw; ++iw) {
        if (iw < 0 || iw >= s.w_in) continue;
        T v = xp[ih * s.w_in + iw];
        // Window order: the first maximum wins ties; the first NaN wins over everything.
        if (v > best || (v != v && best == best)) {
          best = v;
          at = ih * s.w_in + iw;
        }
      }
    }
    y[i] = best;
    indices[i] = at;
  }
}

template <class T>
__global__ void max_backward(Pool2dShape s, int64_t ho, int64_t wo, const T* gy, const int64_t* indices, T* gx) {
  const int64_t total = s.n * s.c * s.h_in * s.w_in;
  GLIA_GRID_STRIDE(i, total) {
    int64_t iw = i % s.w_in, ih = (i / s.w_in) % s.h_in, plane = i / (s.w_in * s.h_in);
    int64_t oh0, oh1, ow0, ow1;
    covering_windows(ih, s.pad_h, s.kh, s.stride_h, ho, oh0, oh1);
    covering_windows(iw, s.pad_w, s.kw, s.stride_w, wo, ow0, ow1);
    const int64_t self = ih * s.w_in + iw;
    const T* gp = gy + plane * ho * wo;
    const int64_t* ip = indices + plane * ho * wo;
    T acc = T(0);
    for (int64_t oh = oh0; oh < oh1; ++oh)
      for (int64_t ow = ow0; ow < ow1; ++ow)
        if (ip[oh * wo + ow] == self) acc += gp[oh * wo + ow];
    gx[i] = acc;
  }
}

// Window [h0, h1) x [w0, w1) clipped to the image, and its divisor, as the CPU kernel.
__device__ __forceinline__ int64_t avg_window(const Pool2dShape& s, bool include_pad, int64_t oh, int64_t ow,
                                              int64_t& h0, int64_t& h1, int64_t& w0, int64_t& w1) {
  h0 = oh * s.stride_h - s.pad_h;
  h1 = h0 + s.kh < s.h_in + s.pad_h ? h0 + s.kh : s.h_in + s.pad_h;
  w0 = ow * s.stride_w - s.pad_w;
  w1 = w0 + s.kw < s.w_in + s.pad_w ? w0 + s.kw : s.w_in + s.pad_w;
  int64_t padded = (h1 - h0) * (w1 - w0);
  h0 = h0 > 0 ? h0 : 0, h1 = h1 < s.h_in ? h1 : s.h_in;
  w0 = w0 > 0 ? w0 : 0, w1 = w1 < s.w_in ? w1 : s.w_in;
  return include_pad ? padded : (h1 - h0) * (w1 - w0);
}

template <class T>
__global__ void avg_forward(Pool2dShape s, int64_t ho, int64_t wo, bool include_pad, const T* x, T* y) {
  const int64_t total = s.n * s.c * ho * wo;
  GLIA_GRID_STRIDE(i, total) {
    int64_t ow = i % wo, oh = (i / wo) % ho, plane = i / (wo * ho);
    int64_t h0, h1, w0, w1;
    int64_t div = avg_window(s, include_pad, oh, ow, h0, h1, w0, w1);
    const T* xp = x + plane * s.h_in * s.w_in;
    T sum = T(0);
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) sum += xp[ih * s.w_in + iw];
    y[i] = sum / static_cast<T>(div);
  }
}

template <class T>
__global__ void avg_backward(Pool2dShape s, int64_t ho, int64_t wo, bool include_pad, const T* gy, T* gx) {
  const int64_t total = s.n * s.c * s.h_in * s.w_in;
  GLIA_GRID_STRIDE(i, total) {
    int64_t iw = i % s.w_in, ih = (i / s.w_in) % s.h_in, plane = i / (s.w_in * s.h_in);
    int64_t oh0, oh1, ow0, ow1;
    covering_windows(ih, s.pad_h, s.kh, s.stride_h, ho, oh0, oh1);
    covering_windows(iw, s.pad_w, s.kw, s.stride_w, wo, ow0, ow1);
    const T* gp = gy + plane * ho * wo;
    T acc = T(0);
    for (int64_t oh = oh0; oh < oh1; ++oh)
      for (int64_t ow = ow0; ow < ow1; ++ow) {
        int64_t h0, h1, w0, w1;
        int64_t div = avg_window(s, include_pad, oh, ow, h0, h1, w0, w1);
        acc += gp[oh * wo + ow] / static_cast<T>(div);
      }
    gx[i] = acc;
  }
}

__device__ __forceinline__ int64_t adaptive_start(int64_t o, int64_t in, int64_t out) { return (o * in) / out; }
__device__ __forceinline__ int64_t adaptive_end(int64_t o, int64_t in, int64_t out) {
  return ((o + 1) * in + out - 1) / out;
}

template <class T>
__global__ void adaptive_forward(int64_t planes, int64_t h, int64_t w, int64_t ho, int64_t wo, const T* x, T* y) {
  GLIA_GRID_STRIDE(i, planes * ho * wo) {
    int64_t ow = i % wo, oh = (i / wo) % ho, plane = i / (wo * ho);
    int64_t h0 = adaptive_start(oh, h, ho), h1 = adaptive_end(oh, h, ho);
    int64_t w0 = adaptive_start(ow, w, wo), w1 = adaptive_end(ow, w, wo);
    const T* xp = x + plane * h * w;
    T sum = T(0);
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) sum += xp[ih * w + iw];
    y[i] = sum / static_cast<T>((h1 - h0) * (w1 - w0));
  }
}

// Adaptive windows containing input coordinate i along an axis are a contiguous run of
// outputs; scanning from i*out/in - 1 to (i+1)*out/in + 1 covers it for any sizes.
template <class T>
__global__ void adaptive_backward(int64_t planes, int64_t h, int64_t w, int64_t ho, int64_t wo, const T* gy, T* gx) {
  GLIA_GRID_STRIDE(i, planes * h * w) {
    int64_t iw = i % w, ih = (i / w) % h, plane = i / (w * h);
    const T* gp = gy + plane * ho * wo;
    int64_t oh_lo = ih * ho / h - 1, oh_hi = (ih + 1) * ho / h + 1;
    int64_t ow_lo = iw * wo / w - 1, ow_hi = (iw + 1) * wo / w + 1;
    T acc = T(0);
    for (int64_t oh = oh_lo < 0 ? 0 : oh_lo; oh <= oh_hi && oh < ho; ++oh) {
      int64_t h0 = adaptive_start(oh, h, ho), h1 = adaptive_end(oh, h, ho);
      if (ih < h0 || ih >= h1) continue;
      for (int64_t ow = ow_lo < 0 ? 0 : ow_lo; ow <= ow_hi && ow < wo; ++ow) {
        int64_t w0 = adaptive_start(ow, w, wo), w1 = adaptive_end(ow, w, wo);
        if (iw < w0 || iw >= w1) continue;
        acc += gp[oh * wo + ow] / static_cast<T>((h1 - h0) * (w1 - w0));
      }
    }
    gx[i] = acc;
  }
}

template <class T>
__global__ void global_avg_forward(int64_t planes, int64_t hw, const T* x, T* y) {
  __shared__ T scratch[kWarpSize];
  for (int64_t plane : block_stride(planes)) {
    T acc = T(0);
    for (int64_t j = threadIdx.x; j < hw; j += blockDim.x) acc += x[plane * hw + j];
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0) y[plane] = acc / static_cast<T>(hw);
  }
}

template <class T>
__global__ void global_avg_backward(int64_t planes, int64_t hw, const T* gy, T* gx) {
  GLIA_GRID_STRIDE(i, planes * hw) gx[i] = gy[i / hw] / static_cast<T>(hw);
}

void check_adaptive(int64_t n, int64_t c, int64_t h, int64_t w, int64_t ho, int64_t wo, const char* op) {
  GLIA_CHECK(n >= 0 && c > 0 && h > 0 && w > 0 && ho > 0 && wo > 0,
             op << ": sizes must be positive: input [" << n << ", " << c << ", " << h << ", " << w << "], output "
                << ho << "x" << wo);
}

}  // namespace

void max_pool2d(const MaxPool2dParams& p) {
  validate_pool2d(p.shape, "max_pool2d");
  int64_t total = p.shape.n * p.shape.c * p.shape.h_out() * p.shape.w_out();
  if (total == 0) return;
  dispatch_floating(p.dtype, "max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    GLIA_LAUNCH(max_forward<T>, blocks_for(total, kThreads), kThreads, 0, p.shape, p.shape.h_out(), p.shape.w_out(), static_cast<const T*>(p.x),
                static_cast<T*>(p.y), p.indices);
  });
}

void max_pool2d_backward(const MaxPool2dBackwardParams& p) {
  validate_pool2d(p.shape, "max_pool2d_backward");
  int64_t total = p.shape.n * p.shape.c * p.shape.h_in * p.shape.w_in;
  if (total == 0) return;
  dispatch_floating(p.dtype, "max_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    GLIA_LAUNCH(max_backward<T>, blocks_for(total, kThreads), kThreads, 0, p.shape, p.shape.h_out(), p.shape.w_out(),
                static_cast<const T*>(p.gy), p.indices, static_cast<T*>(p.gx));
  });
}

void avg_pool2d(const AvgPool2dParams& p) {
  validate_pool2d(p.shape, "avg_pool2d");
  int64_t total = p.shape.n * p.shape.c * p.shape.h_out() * p.shape.w_out();
  if (total == 0) return;
  dispatch_floating(p.dtype, "avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    GLIA_LAUNCH(avg_forward<T>, blocks_for(total, kThreads), kThreads, 0, p.shape, p.shape.h_out(), p.shape.w_out(), p.count_include_pad,
                static_cast<const T*>(p.x), static_cast<T*>(p.y));
  });
}

void avg_pool2d_backward(const AvgPool2dBackwardParams& p) {
  validate_pool2d(p.shape, "avg_pool2d_backward");
  int64_t total = p.shape.n * p.shape.c * p.shape.h_in * p.shape.w_in;
  if (total == 0) return;
  dispatch_floating(p.dtype, "avg_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    GLIA_LAUNCH(avg_backward<T>, blocks_for(total, kThreads), kThreads, 0, p.shape, p.shape.h_out(), p.shape.w_out(), p.count_include_pad,
                static_cast<const T*>(p.gy), static_cast<T*>(p.gx));
  });
}

void adaptive_avg_pool2d(const AdaptiveAvgPool2dParams& p) {
  check_adaptive(p.n, p.c, p.h_in, p.w_in, p.h_out, p.w_out, "adaptive_avg_pool2d");
  int64_t total = p.n * p.c * p.h_out * p.w_out;
  if (total == 0) return;
  dispatch_floating(p.dtype, "adaptive_avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    GLIA_LAUNCH(adaptive_forward<T>, blocks_for(total, kThreads), kThreads, 0, p.n * p.c, p.h_in, p.w_in,
                p.h_out, p.w_out, static_cast<const T*>(p.x), static_cast<T*>(p.y));
  });
}

void adaptive_avg_pool2d_backward(const AdaptiveAvgPool2dBackwardParams& p) {
  check_adaptive(p.n, p.c, p.h_in, p.w_in, p.h_out, p.w_out, "adaptive_avg_pool2d_backward");
  int64_t total = p.n * p.c * p.h_in * p.w_in;
  if (total == 0) return;
  dispatch_floating(p.dtype, "adaptive_avg_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    GLIA_LAUNCH(adaptive_backward<T>, blocks_for(total, kThreads), kThreads, 0, p.n * p.c, p.h_in, p.w_in,
                p.h_out, p.w_out, static_cast<const T*>(p.gy), static_cast<T*>(p.gx));
  });
}

void global_avg_pool(const GlobalAvgPoolParams& p) {
  GLIA_CHECK(p.n >= 0 && p.c > 0 && p.hw > 0, "global_avg_pool: bad shape n=" << p.n << " c=" << p.c << " hw=" << p.hw);
  int64_t planes = p.n * p.c;
  if (planes == 0) return;
  dispatch_floating(p.dtype, "global_avg_pool", [&](auto tag) {
    using T = decltype(tag);
    GLIA_LAUNCH(global_avg_forward<T>, blocks_for(planes, 1), reduce_threads(p.hw), 0, planes, p.hw,
                static_cast<const T*>(p.x), static_cast<T*>(p.y));
  });
}

void global_avg_pool_backward(const GlobalAvgPoolBackwardParams& p) {
  GLIA_CHECK(p.n >= 0 && p.c > 0 && p.hw > 0,
             "global_avg_pool_backward: bad shape n=" << p.n << " c=" << p.c << " hw=" << p.hw);
  int64_t total = p.n * p.c * p.hw;
  if (total == 0) return;
  dispatch_floating(p.dtype, "global_avg_pool_backward", [&](auto tag) {
    using T = decltype(tag);
    GLIA_LAUNCH(global_avg_backward<T>, blocks_for(total, kThreads), kThreads, 0, p.n * p.c, p.hw,
                static_cast<const T*>(p.gy), static_cast<T*>(p.gx));
  });
}

#undef GLIA_GRID_STRIDE

}  // namespace glia::kernels::GLIA_CUDA_NS
