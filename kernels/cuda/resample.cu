// Integer-factor upsampling, nearest and bilinear (align_corners=false), forward and
// backward (kernels/resample.h).
//
// Decomposition: forward, one thread per output pixel; backward, one thread per *input*
// pixel gathering the output gradients that read it (nearest: its s x s block; bilinear:
// the outputs within s+1 rows/columns whose taps name it), so no atomics and a fixed
// summation order. Tap weights are computed in double as the CPU kernel does, then rounded
// to T, so forward results match the CPU's to the last bit for float.
//
// Cost: forward 4 multiply-adds per output (bilinear); backward at most 4(s+1)^2 per input.
// Bytes: input + output once each: memory-bound.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels.cuh"
#include "kernels/resample.h"

namespace glia::kernels::GLIA_CUDA_NS {
namespace {

constexpr int kThreads = 256;

// The two source taps of output coordinate o along an axis of `in` inputs.
struct Tap {
  int64_t i0, i1;
  double w0, w1;
};

__device__ __forceinline__ Tap bilinear_tap(int64_t o, int64_t in, int64_t scale) {
  double src = (static_cast<double>(o) + 0.5) / static_cast<double>(scale) - 0.5;
  if (src < 0) src = 0;
  int64_t i0 = static_cast<int64_t>(src);
  if (i0 > in - 1) i0 = in - 1;
  int64_t i1 = i0 + 1 < in - 1 ? i0 + 1 : in - 1;
  double l1 = src - static_cast<double>(i0);
  return Tap{i0, i1, 1.0 - l1, l1};
}

template <class T>
__global__ void upsample_forward(bool bilinear, int64_t planes, int64_t h, int64_t w, int64_t s, const T* x, T* y) {
  const int64_t ho = h * s, wo = w * s;
  for (int64_t i : grid_stride(int64_t{planes * ho * wo})) {
    int64_t ow = i % wo, oh = (i / wo) % ho, plane = i / (wo * ho);
    const T* xp = x + plane * h * w;
    if (!bilinear) {
      y[i] = xp[(oh / s) * w + ow / s];
      continue;
    }
    Tap a = bilinear_tap(oh, h, s), b = bilinear_tap(ow, w, s);
    T w00 = static_cast<T>(a.w0 * b.w0), w01 = static_cast<T>(a.w0 * b.w1);
    T w10 = static_cast<T>(a.w1 * b.w0), w11 = static_cast<T>(a.w1 * b.w1);
    y[i] = w00 * xp[a.i0 * w + b.i0] + w01 * xp[a.i0 * w + b.i1] + w10 * xp[a.i1 * w + b.i0] +
           w11 * xp[a.i1 * w + b.i1];
  }
}

template <class T>
__global__ void upsample_backward(bool bilinear, int64_t planes, int64_t h, int64_t w, int64_t s, const T* gy, T* gx) {
  const int64_t ho = h * s, wo = w * s;
  for (int64_t i : grid_stride(int64_t{planes * h * w})) {
    int64_t iw = i % w, ih = (i / w) % h, plane = i / (w * h);
    const T* gp = gy + plane * ho * wo;
    T acc = T(0);
    if (!bilinear) {
      for (int64_t oh = ih * s; oh < (ih + 1) * s; ++oh)
        for (int64_t ow = iw * s; ow < (iw + 1) * s; ++ow) acc += gp[oh * wo + ow];
      gx[i] = acc;
      continue;
    }
    // Output o reads inputs floor(src) and floor(src)+1 with src ~ (o + 0.5)/s - 0.5, so
    // only outputs in [(i-1)*s, (i+2)*s) can name input i.
    int64_t oh0 = (ih - 1) * s > 0 ? (ih - 1) * s : 0, oh1 = (ih + 2) * s < ho ? (ih + 2) * s : ho;
    int64_t ow0 = (iw - 1) * s > 0 ? (iw - 1) * s : 0, ow1 = (iw + 2) * s < wo ? (iw + 2) * s : wo;
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      Tap a = bilinear_tap(oh, h, s);
      if (a.i0 != ih && a.i1 != ih) continue;
      for (int64_t ow = ow0; ow < ow1; ++ow) {
        Tap b = bilinear_tap(ow, w, s);
        if (b.i0 != iw && b.i1 != iw) continue;
        // Each of the four taps rounded to T as in the forward, summed where they coincide.
        T wt = T(0);
        if (a.i0 == ih && b.i0 == iw) wt += static_cast<T>(a.w0 * b.w0);
        if (a.i0 == ih && b.i1 == iw) wt += static_cast<T>(a.w0 * b.w1);
        if (a.i1 == ih && b.i0 == iw) wt += static_cast<T>(a.w1 * b.w0);
        if (a.i1 == ih && b.i1 == iw) wt += static_cast<T>(a.w1 * b.w1);
        acc += wt * gp[oh * wo + ow];
      }
    }
    gx[i] = acc;
  }
}

void check(int64_t n, int64_t c, int64_t h, int64_t w, int64_t s, const char* op) {
  GLIA_CHECK(n >= 0 && c > 0 && h > 0 && w > 0,
             op << ": input shape [" << n << ", " << c << ", " << h << ", " << w << "] must be positive");
  GLIA_CHECK(s >= 1, op << ": scale must be a positive integer, got " << s);
}

}  // namespace

void upsample2d(const Upsample2dParams& p) {
  check(p.n, p.c, p.h_in, p.w_in, p.scale, "upsample2d");
  int64_t total = p.n * p.c * p.h_in * p.w_in * p.scale * p.scale;
  if (total == 0) return;
  dispatch_floating(p.dtype, "upsample2d", [&](auto tag) {
    using T = decltype(tag);
    GLIA_LAUNCH(upsample_forward<T>, blocks_for(total, kThreads), kThreads, 0,
                p.mode == UpsampleMode::bilinear, p.n * p.c, p.h_in, p.w_in, p.scale, static_cast<const T*>(p.x),
                static_cast<T*>(p.y));
  });
}

void upsample2d_backward(const Upsample2dBackwardParams& p) {
  check(p.n, p.c, p.h_in, p.w_in, p.scale, "upsample2d_backward");
  int64_t total = p.n * p.c * p.h_in * p.w_in;
  if (total == 0) return;
  dispatch_floating(p.dtype, "upsample2d_backward", [&](auto tag) {
    using T = decltype(tag);
    GLIA_LAUNCH(upsample_backward<T>, blocks_for(total, kThreads), kThreads, 0,
                p.mode == UpsampleMode::bilinear, p.n * p.c, p.h_in, p.w_in, p.scale, static_cast<const T*>(p.gy),
                static_cast<T*>(p.gx));
  });
}

}  // namespace glia::kernels::GLIA_CUDA_NS
