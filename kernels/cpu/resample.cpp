// CPU upsampling: one (sample, channel) plane per OpenMP task, so the backward's scatter
// into a plane never races. Bilinear taps are computed once per output row and column.
#include "kernels/resample.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/dispatch.h"
#include "kernels/error.h"

namespace glia::kernels::cpu {
namespace {

// One output coordinate's two source taps and weights along an axis.
struct Tap {
  int64_t i0, i1;
  double w0, w1;
};

std::vector<Tap> bilinear_taps(int64_t in, int64_t scale) {
  std::vector<Tap> taps(size_t(in * scale));
  for (int64_t o = 0; o < in * scale; ++o) {
    double src = std::max((double(o) + 0.5) / double(scale) - 0.5, 0.0);
    int64_t i0 = std::min(int64_t(src), in - 1);
    int64_t i1 = std::min(i0 + 1, in - 1);
    double l1 = src - double(i0);
    taps[size_t(o)] = Tap{i0, i1, 1.0 - l1, l1};
  }
  return taps;
}

// Nearest: every input pixel becomes an s x s block. Loops over input pixels and the
// block, so there is no per-element division (which made this 9x slower than PyTorch).
template <class T, bool kBackward>
void nearest_plane(int64_t H, int64_t W, int64_t s, const T* ip, T* op) {
  const int64_t wo = W * s;
  for (int64_t h = 0; h < H; ++h) {
    for (int64_t dh = 0; dh < s; ++dh) {
      const int64_t oh = h * s + dh;
      if (kBackward) {
        T* row = op + h * W;
        const T* g = ip + oh * wo;
        for (int64_t w = 0; w < W; ++w) {
          T sum = T(0);
          for (int64_t dw = 0; dw < s; ++dw) sum += g[w * s + dw];
          row[w] += sum;
        }
      } else {
        const T* row = ip + h * W;
        T* y = op + oh * wo;
        for (int64_t w = 0; w < W; ++w)
          for (int64_t dw = 0; dw < s; ++dw) y[w * s + dw] = row[w];
      }
    }
  }
}

template <class T, bool kBackward>
void upsample_typed(UpsampleMode mode, int64_t n, int64_t c, int64_t H, int64_t W, int64_t s, const void* src,
                    void* dst) {
  const int64_t ho = H * s, wo = W * s;
  const T* in = static_cast<const T*>(src);
  T* out = static_cast<T*>(dst);
  std::vector<Tap> th, tw;
  if (mode == UpsampleMode::bilinear) th = bilinear_taps(H, s), tw = bilinear_taps(W, s);
#pragma omp parallel for schedule(static) if (n * c * ho * wo > kParallelMin)
  for (int64_t plane = 0; plane < n * c; ++plane) {
    // forward: in = x plane (H x W), out = y plane (ho x wo); backward: in = gy, out = gx.
    const T* ip = in + plane * (kBackward ? ho * wo : H * W);
    T* op = out + plane * (kBackward ? H * W : ho * wo);
    if (kBackward) std::fill(op, op + H * W, T(0));
    if (mode == UpsampleMode::nearest) {
      nearest_plane<T, kBackward>(H, W, s, ip, op);
      continue;
    }
    for (int64_t oh = 0; oh < ho; ++oh) {
      for (int64_t ow = 0; ow < wo; ++ow) {
        const Tap& a = th[size_t(oh)];
        const Tap& b = tw[size_t(ow)];
        const T w00 = T(a.w0 * b.w0), w01 = T(a.w0 * b.w1), w10 = T(a.w1 * b.w0), w11 = T(a.w1 * b.w1);
        if (kBackward) {
          const T g = ip[oh * wo + ow];
          op[a.i0 * W + b.i0] += w00 * g;
          op[a.i0 * W + b.i1] += w01 * g;
          op[a.i1 * W + b.i0] += w10 * g;
          op[a.i1 * W + b.i1] += w11 * g;
        } else {
          op[oh * wo + ow] = w00 * ip[a.i0 * W + b.i0] + w01 * ip[a.i0 * W + b.i1] + w10 * ip[a.i1 * W + b.i0] +
                             w11 * ip[a.i1 * W + b.i1];
        }
      }
    }
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
  dispatch_float(p.dtype, "upsample2d", [&](auto tag) {
    upsample_typed<typename decltype(tag)::type, false>(p.mode, p.n, p.c, p.h_in, p.w_in, p.scale, p.x, p.y);
  });
}

void upsample2d_backward(const Upsample2dBackwardParams& p) {
  check(p.n, p.c, p.h_in, p.w_in, p.scale, "upsample2d_backward");
  dispatch_float(p.dtype, "upsample2d_backward", [&](auto tag) {
    upsample_typed<typename decltype(tag)::type, true>(p.mode, p.n, p.c, p.h_in, p.w_in, p.scale, p.gy, p.gx);
  });
}

}  // namespace glia::kernels::cpu
