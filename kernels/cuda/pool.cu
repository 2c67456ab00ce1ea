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

// The shape in the kernel's index type I: int32 whenever every flattened index fits
// (dispatch_index), so the per-element divisions are 32-bit, several times cheaper on a
// GPU than 64-bit ones.
template <class I>
struct PoolDims {
  I n, c, h_in, w_in, kh, kw, stride_h, stride_w, pad_h, pad_w, ho, wo;
};

template <class I>
PoolDims<I> pool_dims(const Pool2dShape& s) {
  return PoolDims<I>{static_cast<I>(s.n),        static_cast<I>(s.c),        static_cast<I>(s.h_in),
                     static_cast<I>(s.w_in),     static_cast<I>(s.kh),       static_cast<I>(s.kw),
                     static_cast<I>(s.stride_h), static_cast<I>(s.stride_w), static_cast<I>(s.pad_h),
                     static_cast<I>(s.pad_w),    static_cast<I>(s.h_out()),  static_cast<I>(s.w_out())};
}

// The largest index a pooling kernel forms: either tensor's element count (window
// arithmetic stays within a plane's).
int64_t pool_largest(const Pool2dShape& s) {
  const int64_t in = s.n * s.c * s.h_in * s.w_in, out = s.n * s.c * s.h_out() * s.w_out();
  return in > out ? in : out;
}

// Output windows along one axis that contain input coordinate `i`: [lo, hi).
template <class I>
__device__ __forceinline__ void covering_windows(I i, I pad, I k, I stride, I out, I& lo, I& hi) {
  I t = i + pad;  // window o covers t when o*stride <= t < o*stride + k
  lo = t - k + 1 <= 0 ? 0 : (t - k + 1 + stride - 1) / stride;
  hi = t / stride + 1;
  if (hi > out) hi = out;
}

template <class T, class I>
__global__ void max_forward(PoolDims<I> s, const T* x, T* y, int64_t* indices) {
  const I total = s.n * s.c * s.ho * s.wo;
  for (I i : grid_stride(total)) {
    I ow = i % s.wo, oh = (i / s.wo) % s.ho, plane = i / (s.wo * s.ho);
    const T* xp = x + plane * s.h_in * s.w_in;
    I h0 = oh * s.stride_h - s.pad_h, w0 = ow * s.stride_w - s.pad_w;
    T best = lowest_value<T>();
    // Placeholder (the window's first in-image pixel) for an all -inf window, as the CPU.
    I at = (h0 > 0 ? h0 : 0) * s.w_in + (w0 > 0 ? w0 : 0);
    for (I ih = h0; ih < h0 + s.kh; ++ih) {
      if (ih < 0 || ih >= s.h_in) continue;
      for (I iw = w0; iw < w0 + s.kw; ++iw) {
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

template <class T, class I>
__global__ void max_backward(PoolDims<I> s, const T* gy, const int64_t* indices, T* gx) {
  const I total = s.n * s.c * s.h_in * s.w_in;
  for (I i : grid_stride(total)) {
    I iw = i % s.w_in, ih = (i / s.w_in) % s.h_in, plane = i / (s.w_in * s.h_in);
    I oh0, oh1, ow0, ow1;
    covering_windows(ih, s.pad_h, s.kh, s.stride_h, s.ho, oh0, oh1);
    covering_windows(iw, s.pad_w, s.kw, s.stride_w, s.wo, ow0, ow1);
    const int64_t self = ih * s.w_in + iw;
    const T* gp = gy + plane * s.ho * s.wo;
    const int64_t* ip = indices + plane * s.ho * s.wo;
    T acc = T(0);
    for (I oh = oh0; oh < oh1; ++oh)
      for (I ow = ow0; ow < ow1; ++ow)
        if (ip[oh * s.wo + ow] == self) acc += gp[oh * s.wo + ow];
    gx[i] = acc;
  }
}

// Window [h0, h1) x [w0, w1) clipped to the image, and its divisor, as the CPU kernel.
template <class I>
__device__ __forceinline__ I avg_window(const PoolDims<I>& s, bool include_pad, I oh, I ow, I& h0, I& h1, I& w0,
                                        I& w1) {
  h0 = oh * s.stride_h - s.pad_h;
  h1 = h0 + s.kh < s.h_in + s.pad_h ? h0 + s.kh : s.h_in + s.pad_h;
  w0 = ow * s.stride_w - s.pad_w;
  w1 = w0 + s.kw < s.w_in + s.pad_w ? w0 + s.kw : s.w_in + s.pad_w;
  I padded = (h1 - h0) * (w1 - w0);
  h0 = h0 > 0 ? h0 : 0, h1 = h1 < s.h_in ? h1 : s.h_in;
  w0 = w0 > 0 ? w0 : 0, w1 = w1 < s.w_in ? w1 : s.w_in;
  return include_pad ? padded : (h1 - h0) * (w1 - w0);
}

template <class T, class I>
__global__ void avg_forward(PoolDims<I> s, bool include_pad, const T* x, T* y) {
  const I total = s.n * s.c * s.ho * s.wo;
  for (I i : grid_stride(total)) {
    I ow = i % s.wo, oh = (i / s.wo) % s.ho, plane = i / (s.wo * s.ho);
    I h0, h1, w0, w1;
    I div = avg_window(s, include_pad, oh, ow, h0, h1, w0, w1);
    const T* xp = x + plane * s.h_in * s.w_in;
    T sum = T(0);
    for (I ih = h0; ih < h1; ++ih)
      for (I iw = w0; iw < w1; ++iw) sum += xp[ih * s.w_in + iw];
    y[i] = sum / static_cast<T>(div);
  }
}

template <class T, class I>
__global__ void avg_backward(PoolDims<I> s, bool include_pad, const T* gy, T* gx) {
  const I total = s.n * s.c * s.h_in * s.w_in;
  for (I i : grid_stride(total)) {
    I iw = i % s.w_in, ih = (i / s.w_in) % s.h_in, plane = i / (s.w_in * s.h_in);
    I oh0, oh1, ow0, ow1;
    covering_windows(ih, s.pad_h, s.kh, s.stride_h, s.ho, oh0, oh1);
    covering_windows(iw, s.pad_w, s.kw, s.stride_w, s.wo, ow0, ow1);
    const T* gp = gy + plane * s.ho * s.wo;
    T acc = T(0);
    for (I oh = oh0; oh < oh1; ++oh)
      for (I ow = ow0; ow < ow1; ++ow) {
        I h0, h1, w0, w1;
        I div = avg_window(s, include_pad, oh, ow, h0, h1, w0, w1);
        acc += gp[oh * s.wo + ow] / static_cast<T>(div);
      }
    gx[i] = acc;
  }
}

template <class I>
__device__ __forceinline__ I adaptive_start(I o, I in, I out) { return (o * in) / out; }
template <class I>
__device__ __forceinline__ I adaptive_end(I o, I in, I out) {
  return ((o + 1) * in + out - 1) / out;
}

// The largest index the adaptive kernels form: the element counts and the window
// products o * in (< out * in, plus one window).
int64_t adaptive_largest(int64_t planes, int64_t h, int64_t w, int64_t ho, int64_t wo) {
  int64_t m = planes * h * w;
  for (int64_t v : {planes * ho * wo, (ho + 1) * h + ho, (wo + 1) * w + wo})
    if (v > m) m = v;
  return m;
}

template <class T, class I>
__global__ void adaptive_forward(I planes, I h, I w, I ho, I wo, const T* x, T* y) {
  for (I i : grid_stride(planes * ho * wo)) {
    I ow = i % wo, oh = (i / wo) % ho, plane = i / (wo * ho);
    I h0 = adaptive_start(oh, h, ho), h1 = adaptive_end(oh, h, ho);
    I w0 = adaptive_start(ow, w, wo), w1 = adaptive_end(ow, w, wo);
    const T* xp = x + plane * h * w;
    T sum = T(0);
    for (I ih = h0; ih < h1; ++ih)
      for (I iw = w0; iw < w1; ++iw) sum += xp[ih * w + iw];
    y[i] = sum / static_cast<T>((h1 - h0) * (w1 - w0));
  }
}

// Adaptive windows containing input coordinate i along an axis are a contiguous run of
// outputs; scanning from i*out/in - 1 to (i+1)*out/in + 1 covers it for any sizes.
template <class T, class I>
__global__ void adaptive_backward(I planes, I h, I w, I ho, I wo, const T* gy, T* gx) {
  for (I i : grid_stride(planes * h * w)) {
    I iw = i % w, ih = (i / w) % h, plane = i / (w * h);
    const T* gp = gy + plane * ho * wo;
    I oh_lo = ih * ho / h - 1, oh_hi = (ih + 1) * ho / h + 1;
    I ow_lo = iw * wo / w - 1, ow_hi = (iw + 1) * wo / w + 1;
    T acc = T(0);
    for (I oh = oh_lo < 0 ? 0 : oh_lo; oh <= oh_hi && oh < ho; ++oh) {
      I h0 = adaptive_start(oh, h, ho), h1 = adaptive_end(oh, h, ho);
      if (ih < h0 || ih >= h1) continue;
      for (I ow = ow_lo < 0 ? 0 : ow_lo; ow <= ow_hi && ow < wo; ++ow) {
        I w0 = adaptive_start(ow, w, wo), w1 = adaptive_end(ow, w, wo);
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

template <class T, class I>
__global__ void global_avg_backward(I planes, I hw, const T* gy, T* gx) {
  for (I i : grid_stride(planes * hw)) gx[i] = gy[i / hw] / static_cast<T>(hw);
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
    dispatch_index(pool_largest(p.shape), [&](auto index) {
      using I = decltype(index);
      auto* max_forward_ = &max_forward<T, I>;
      GLIA_LAUNCH(max_forward_, blocks_for(total, kThreads), kThreads, 0, pool_dims<I>(p.shape),
                  static_cast<const T*>(p.x), static_cast<T*>(p.y), p.indices);
    });
  });
}

void max_pool2d_backward(const MaxPool2dBackwardParams& p) {
  validate_pool2d(p.shape, "max_pool2d_backward");
  int64_t total = p.shape.n * p.shape.c * p.shape.h_in * p.shape.w_in;
  if (total == 0) return;
  dispatch_floating(p.dtype, "max_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    dispatch_index(pool_largest(p.shape), [&](auto index) {
      using I = decltype(index);
      auto* max_backward_ = &max_backward<T, I>;
      GLIA_LAUNCH(max_backward_, blocks_for(total, kThreads), kThreads, 0, pool_dims<I>(p.shape),
                  static_cast<const T*>(p.gy), p.indices, static_cast<T*>(p.gx));
    });
  });
}

void avg_pool2d(const AvgPool2dParams& p) {
  validate_pool2d(p.shape, "avg_pool2d");
  int64_t total = p.shape.n * p.shape.c * p.shape.h_out() * p.shape.w_out();
  if (total == 0) return;
  dispatch_floating(p.dtype, "avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    dispatch_index(pool_largest(p.shape), [&](auto index) {
      using I = decltype(index);
      auto* avg_forward_ = &avg_forward<T, I>;
      GLIA_LAUNCH(avg_forward_, blocks_for(total, kThreads), kThreads, 0, pool_dims<I>(p.shape),
                  p.count_include_pad, static_cast<const T*>(p.x), static_cast<T*>(p.y));
    });
  });
}

void avg_pool2d_backward(const AvgPool2dBackwardParams& p) {
  validate_pool2d(p.shape, "avg_pool2d_backward");
  int64_t total = p.shape.n * p.shape.c * p.shape.h_in * p.shape.w_in;
  if (total == 0) return;
  dispatch_floating(p.dtype, "avg_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    dispatch_index(pool_largest(p.shape), [&](auto index) {
      using I = decltype(index);
      auto* avg_backward_ = &avg_backward<T, I>;
      GLIA_LAUNCH(avg_backward_, blocks_for(total, kThreads), kThreads, 0, pool_dims<I>(p.shape),
                  p.count_include_pad, static_cast<const T*>(p.gy), static_cast<T*>(p.gx));
    });
  });
}

void adaptive_avg_pool2d(const AdaptiveAvgPool2dParams& p) {
  check_adaptive(p.n, p.c, p.h_in, p.w_in, p.h_out, p.w_out, "adaptive_avg_pool2d");
  int64_t total = p.n * p.c * p.h_out * p.w_out;
  if (total == 0) return;
  dispatch_floating(p.dtype, "adaptive_avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    dispatch_index(adaptive_largest(p.n * p.c, p.h_in, p.w_in, p.h_out, p.w_out), [&](auto index) {
      using I = decltype(index);
      auto* adaptive_forward_ = &adaptive_forward<T, I>;
      GLIA_LAUNCH(adaptive_forward_, blocks_for(total, kThreads), kThreads, 0, static_cast<I>(p.n * p.c),
                  static_cast<I>(p.h_in), static_cast<I>(p.w_in), static_cast<I>(p.h_out), static_cast<I>(p.w_out),
                  static_cast<const T*>(p.x), static_cast<T*>(p.y));
    });
  });
}

void adaptive_avg_pool2d_backward(const AdaptiveAvgPool2dBackwardParams& p) {
  check_adaptive(p.n, p.c, p.h_in, p.w_in, p.h_out, p.w_out, "adaptive_avg_pool2d_backward");
  int64_t total = p.n * p.c * p.h_in * p.w_in;
  if (total == 0) return;
  dispatch_floating(p.dtype, "adaptive_avg_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    dispatch_index(adaptive_largest(p.n * p.c, p.h_in, p.w_in, p.h_out, p.w_out), [&](auto index) {
      using I = decltype(index);
      auto* adaptive_backward_ = &adaptive_backward<T, I>;
      GLIA_LAUNCH(adaptive_backward_, blocks_for(total, kThreads), kThreads, 0, static_cast<I>(p.n * p.c),
                  static_cast<I>(p.h_in), static_cast<I>(p.w_in), static_cast<I>(p.h_out), static_cast<I>(p.w_out),
                  static_cast<const T*>(p.gy), static_cast<T*>(p.gx));
    });
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
    dispatch_index(total, [&](auto index) {
      using I = decltype(index);
      auto* global_avg_backward_ = &global_avg_backward<T, I>;
      GLIA_LAUNCH(global_avg_backward_, blocks_for(total, kThreads), kThreads, 0, static_cast<I>(p.n * p.c),
                  static_cast<I>(p.hw), static_cast<const T*>(p.gy), static_cast<T*>(p.gx));
    });
  });
}

}  // namespace glia::kernels::GLIA_CUDA_NS
