// Depthwise conv2d (groups == C_in == C_out), the bulk of EfficientNet's work: a direct
// kernel, one (sample, channel) plane per OpenMP task. The valid output columns of each
// kernel column are computed once per call, so the inner loops have no bounds branches and
// vectorise (contiguous at stride 1). 3x3 and 5x5 kernels have unrolled fast paths; at
// stride 1 a plane narrower than a vector (forward) or not a whole number of vectors wide
// (weight gradient) is computed flattened (flat_forward), so EfficientNet's 5x5-15x15
// planes are vector code too. The plane kernels are compiled for AVX-512, AVX2 and
// baseline x86-64 and picked at load time (the build itself targets baseline x86-64).
#include <algorithm>
#include <vector>

#include "kernels/cpu/conv2d_internal.h"
#include "kernels/cpu/vec_math.h"  // GLIA_CPU_CLONES

namespace glia::kernels::cpu::conv_detail {
namespace {

// Per kernel column kj: input offset and the output columns [lo, hi) that stay inside.
struct ColumnRange {
  int64_t off, lo, hi;
};

struct Geometry {
  int64_t H, W, ho, wo, kh, kw, sh, sw, pt, dh;
  const ColumnRange* cols;
};

std::vector<ColumnRange> column_ranges(const Conv2dShape& s) {
  std::vector<ColumnRange> r(size_t(s.kw));
  for (int64_t kj = 0; kj < s.kw; ++kj) {
    ColumnRange& c = r[size_t(kj)];
    c.off = kj * s.dilation_w - s.pad_left;
    valid_range(c.off, s.stride_w, s.w_in, s.w_out(), c.lo, c.hi);
  }
  return r;
}

Geometry geometry(const Conv2dShape& s, const std::vector<ColumnRange>& cols) {
  return Geometry{s.h_in, s.w_in, s.h_out(), s.w_out(), s.kh, s.kw, s.stride_h, s.stride_w, s.pad_top, s.dilation_h,
                  cols.data()};
}

template <class T>
inline __attribute__((always_inline)) void plane_forward(const Geometry& g, const T* xp, const T* wp, T b, T* yp) {
  for (int64_t oh = 0; oh < g.ho; ++oh) {
    T* __restrict yrow = yp + oh * g.wo;
    for (int64_t ow = 0; ow < g.wo; ++ow) yrow[ow] = b;
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      const int64_t ih = oh * g.sh - g.pt + ki * g.dh;
      if (ih < 0 || ih >= g.H) continue;
      const T* __restrict xrow = xp + ih * g.W;
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        const T wv = wp[ki * g.kw + kj];
        const ColumnRange c = g.cols[kj];
        const T* __restrict src = xrow + c.off;
        if (g.sw == 1) {
#pragma omp simd
          for (int64_t ow = c.lo; ow < c.hi; ++ow) yrow[ow] += wv * src[ow];
        } else if (g.sw == 2) {
#pragma omp simd
          for (int64_t ow = c.lo; ow < c.hi; ++ow) yrow[ow] += wv * src[2 * ow];
        } else {
          for (int64_t ow = c.lo; ow < c.hi; ++ow) yrow[ow] += wv * src[ow * g.sw];
        }
      }
    }
  }
}

template <class T>
inline __attribute__((always_inline)) void plane_backward_input(const Geometry& g, const T* gyp, const T* wp,
                                                                 T* gxp) {
  std::fill(gxp, gxp + g.H * g.W, T(0));
  for (int64_t oh = 0; oh < g.ho; ++oh) {
    const T* __restrict gyrow = gyp + oh * g.wo;
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      const int64_t ih = oh * g.sh - g.pt + ki * g.dh;
      if (ih < 0 || ih >= g.H) continue;
      T* __restrict gxrow = gxp + ih * g.W;
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        const T wv = wp[ki * g.kw + kj];
        const ColumnRange c = g.cols[kj];
        T* __restrict dst = gxrow + c.off;
        if (g.sw == 1) {
#pragma omp simd
          for (int64_t ow = c.lo; ow < c.hi; ++ow) dst[ow] += wv * gyrow[ow];
        } else {
          for (int64_t ow = c.lo; ow < c.hi; ++ow) dst[ow * g.sw] += wv * gyrow[ow];
        }
      }
    }
  }
}

// sum[ki * kw + kj] += sum over the plane's outputs of gy * x (partial sums in T).
template <class T>
inline __attribute__((always_inline)) void plane_backward_weight(const Geometry& g, const T* xp, const T* gyp,
                                                                  double* sum) {
  for (int64_t oh = 0; oh < g.ho; ++oh) {
    const T* __restrict gyrow = gyp + oh * g.wo;
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      const int64_t ih = oh * g.sh - g.pt + ki * g.dh;
      if (ih < 0 || ih >= g.H) continue;
      const T* __restrict xrow = xp + ih * g.W;
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        const ColumnRange c = g.cols[kj];
        const T* __restrict src = xrow + c.off;
        T part = 0;
        if (g.sw == 1) {
#pragma omp simd reduction(+ : part)
          for (int64_t ow = c.lo; ow < c.hi; ++ow) part += gyrow[ow] * src[ow];
        } else if (g.sw == 2) {
#pragma omp simd reduction(+ : part)
          for (int64_t ow = c.lo; ow < c.hi; ++ow) part += gyrow[ow] * src[2 * ow];
        } else {
          for (int64_t ow = c.lo; ow < c.hi; ++ow) part += gyrow[ow] * src[ow * g.sw];
        }
        sum[ki * g.kw + kj] += part;
      }
    }
  }
}

// Fast paths for K x K kernels (K = 3, 5), stride S (1, 2), no dilation. The plane is
// first copied into a zero-bordered per-thread buffer covering every tap, so no output
// needs a bounds check; each output row is then computed in blocks of kLanes outputs
// held in registers, all K*K taps unrolled (the last block is shifted back to end at the
// row's end, recomputing a few outputs, so there is no scalar tail).
// `slack` zeros follow the plane, for readers that run past its end (flat_backward_weight).
template <class T, int K, int S>
const T* pad_plane(const Geometry& g, const T* xp, int64_t& padded_width, int64_t slack = 0) {
  const int64_t hp = (g.ho - 1) * S + K, wp = (g.wo - 1) * S + K, pl = -g.cols[0].off;
  T* buf = scratch<T>(size_t(hp * wp + slack), 2);
  std::fill(buf + hp * wp, buf + hp * wp + slack, T(0));
  const int64_t n = std::min(g.W, wp - pl);
  for (int64_t r = 0; r < hp; ++r) {
    T* dst = buf + r * wp;
    const int64_t ih = r - g.pt;
    if (ih < 0 || ih >= g.H) {
      std::fill(dst, dst + wp, T(0));
      continue;
    }
    std::fill(dst, dst + pl, T(0));
    std::copy(xp + ih * g.W, xp + ih * g.W + n, dst + pl);
    std::fill(dst + pl + n, dst + wp, T(0));
  }
  padded_width = wp;
  return buf;
}

// Planes narrower than a vector (EfficientNet's last stages: 5x5 to 15x15) would leave
// the row blocks above scalar. Flattened instead: output q = oh * pw + ow on the padded
// plane's grid (pw columns a row, ow >= wo computed and dropped) reads
// padded[S * q + ki * pw + kj], so kLanes consecutive q are one vector FMA per tap.
// flat_outputs: the q up to the last valid output, + 1.
inline int64_t flat_outputs(const Geometry& g, int64_t pw) { return (g.ho - 1) * pw + g.wo; }

template <class T, int K, int S, int kLanes>
inline __attribute__((always_inline)) void flat_forward(const Geometry& g, const T* padded, int64_t pw, const T* wk,
                                                        T b, T* yp) {
  const int64_t Q = flat_outputs(g, pw);
  T* out = scratch<T>(size_t(Q), 1);
  for (int64_t start = 0; start < Q; start += kLanes) {
    const int64_t q0 = std::min(start, Q - kLanes);  // the last block ends at Q (Q >= kLanes)
    T acc[kLanes];
    for (int l = 0; l < kLanes; ++l) acc[l] = b;
    for (int ki = 0; ki < K; ++ki)
      for (int kj = 0; kj < K; ++kj) {
        const T wv = wk[ki * K + kj];
        const T* __restrict src = padded + S * q0 + ki * pw + kj;
#pragma omp simd
        for (int l = 0; l < kLanes; ++l) acc[l] += wv * src[l * S];
      }
    for (int l = 0; l < kLanes; ++l) out[q0 + l] = acc[l];
  }
  for (int64_t oh = 0; oh < g.ho; ++oh) std::copy(out + oh * pw, out + oh * pw + g.wo, yp + oh * g.wo);
}

template <class T, int K, int S>
inline __attribute__((always_inline)) void fast_forward(const Geometry& g, const T* xp, const T* wp, T b, T* yp) {
  constexpr int kLanes = 64 / sizeof(T);
  T wk[K * K];
  for (int i = 0; i < K * K; ++i) wk[i] = wp[i];
  int64_t pw;
  const T* padded = pad_plane<T, K, S>(g, xp, pw);
  if (S == 1 && g.wo < kLanes && flat_outputs(g, pw) >= kLanes)
    return flat_forward<T, K, S, kLanes>(g, padded, pw, wk, b, yp);
  for (int64_t oh = 0; oh < g.ho; ++oh) {
    const T* rows[K];
    for (int ki = 0; ki < K; ++ki) rows[ki] = padded + (oh * S + ki) * pw;
    T* __restrict yrow = yp + oh * g.wo;
    if (g.wo >= kLanes) {
      for (int64_t start = 0; start < g.wo; start += kLanes) {
        const int64_t ow0 = std::min(start, g.wo - kLanes);
        T acc[kLanes];
        for (int l = 0; l < kLanes; ++l) acc[l] = b;
        for (int ki = 0; ki < K; ++ki)
          for (int kj = 0; kj < K; ++kj) {
            const T wv = wk[ki * K + kj];
            const T* __restrict src = rows[ki] + (ow0 * S + kj);
#pragma omp simd
            for (int l = 0; l < kLanes; ++l) acc[l] += wv * src[l * S];
          }
        for (int l = 0; l < kLanes; ++l) yrow[ow0 + l] = acc[l];
      }
    } else {
      for (int64_t ow = 0; ow < g.wo; ++ow) {
        T acc = b;
        for (int ki = 0; ki < K; ++ki)
          for (int kj = 0; kj < K; ++kj) acc += wk[ki * K + kj] * rows[ki][ow * S + kj];
        yrow[ow] = acc;
      }
    }
  }
}

// Lane-blocked accumulators: acc[tap][lane] over blocks of kLanes columns keeps every
// inner loop a fixed-length vector FMA; lanes are summed into `sum` once per plane.
// The weight gradient of a plane whose rows are not whole vectors (the row blocks below
// would leave the rest scalar), flattened as in flat_forward: gy
// is laid out on the padded grid with zeros in the dropped columns and after the last
// output, up to whole blocks; the padded plane's slack covers the last block's reads.
template <class T, int K, int S, int kLanes>
inline __attribute__((always_inline)) void flat_backward_weight(const Geometry& g, const T* xp, const T* gyp,
                                                                double* sum) {
  int64_t pw;
  const T* padded = pad_plane<T, K, S>(g, xp, pw, S * kLanes);
  const int64_t Q = flat_outputs(g, pw), blocks = (Q + kLanes - 1) / kLanes;
  T* gy_flat = scratch<T>(size_t(blocks * kLanes), 1);
  std::fill(gy_flat, gy_flat + blocks * kLanes, T(0));
  for (int64_t oh = 0; oh < g.ho; ++oh) std::copy(gyp + oh * g.wo, gyp + (oh + 1) * g.wo, gy_flat + oh * pw);
  T acc[K * K][kLanes] = {};
  for (int64_t q0 = 0; q0 < blocks * kLanes; q0 += kLanes) {
    const T* __restrict gy_block = gy_flat + q0;
    for (int ki = 0; ki < K; ++ki)
      for (int kj = 0; kj < K; ++kj) {
        const T* __restrict src = padded + S * q0 + ki * pw + kj;
        T* __restrict a = acc[ki * K + kj];
#pragma omp simd
        for (int l = 0; l < kLanes; ++l) a[l] += gy_block[l] * src[l * S];
      }
  }
  for (int i = 0; i < K * K; ++i) {
    double total = 0;
    for (int l = 0; l < kLanes; ++l) total += double(acc[i][l]);
    sum[i] += total;
  }
}

template <class T, int K, int S>
inline __attribute__((always_inline)) void fast_backward_weight(const Geometry& g, const T* xp, const T* gyp,
                                                                double* sum) {
  constexpr int kLanes = 64 / sizeof(T);
  if (S == 1 && g.wo % kLanes != 0) return flat_backward_weight<T, K, S, kLanes>(g, xp, gyp, sum);
  int64_t pw;
  const T* padded = pad_plane<T, K, S>(g, xp, pw);
  T acc[K * K][kLanes] = {};
  T tail[K * K] = {};
  for (int64_t oh = 0; oh < g.ho; ++oh) {
    const T* rows[K];
    for (int ki = 0; ki < K; ++ki) rows[ki] = padded + (oh * S + ki) * pw;
    const T* __restrict gyrow = gyp + oh * g.wo;
    int64_t ow = 0;
    for (; ow + kLanes <= g.wo; ow += kLanes) {
      const T* __restrict gy_block = gyrow + ow;
      for (int ki = 0; ki < K; ++ki)
        for (int kj = 0; kj < K; ++kj) {
          const T* __restrict src = rows[ki] + (ow * S + kj);
          T* __restrict a = acc[ki * K + kj];
#pragma omp simd
          for (int l = 0; l < kLanes; ++l) a[l] += gy_block[l] * src[l * S];
        }
    }
    for (; ow < g.wo; ++ow)
      for (int ki = 0; ki < K; ++ki)
        for (int kj = 0; kj < K; ++kj) tail[ki * K + kj] += gyrow[ow] * rows[ki][ow * S + kj];
  }
  for (int i = 0; i < K * K; ++i) {
    double total = double(tail[i]);
    for (int l = 0; l < kLanes; ++l) total += double(acc[i][l]);
    sum[i] += total;
  }
}

// Which fast path a shape takes: 0 none, else K * 10 + S.
int fast_kind(const Conv2dShape& s) {
  if (s.kh != s.kw || s.dilation_h != 1 || s.dilation_w != 1 || s.stride_h != s.stride_w) return 0;
  if (s.kh != 3 && s.kh != 5) return 0;
  if (s.stride_h != 1 && s.stride_h != 2) return 0;
  if (s.pad_left > s.kw - 1 || s.pad_top > s.kh - 1) return 0;
  return int(s.kh * 10 + s.stride_h);
}

template <class T>
inline __attribute__((always_inline)) void plane_forward_dispatch(int kind, const Geometry& g, const T* x, const T* w,
                                                                  T b, T* y) {
  switch (kind) {
    case 31: return fast_forward<T, 3, 1>(g, x, w, b, y);
    case 32: return fast_forward<T, 3, 2>(g, x, w, b, y);
    case 51: return fast_forward<T, 5, 1>(g, x, w, b, y);
    case 52: return fast_forward<T, 5, 2>(g, x, w, b, y);
    default: return plane_forward(g, x, w, b, y);
  }
}

template <class T>
inline __attribute__((always_inline)) void plane_backward_weight_dispatch(int kind, const Geometry& g, const T* x,
                                                                          const T* gy, double* sum) {
  switch (kind) {
    case 31: return fast_backward_weight<T, 3, 1>(g, x, gy, sum);
    case 32: return fast_backward_weight<T, 3, 2>(g, x, gy, sum);
    case 51: return fast_backward_weight<T, 5, 1>(g, x, gy, sum);
    case 52: return fast_backward_weight<T, 5, 2>(g, x, gy, sum);
    default: return plane_backward_weight(g, x, gy, sum);
  }
}

// Non-template entry points, so each can be cloned per instruction set.
GLIA_CPU_CLONES void forward_f32(int kind, const Geometry& g, const float* x, const float* w, float b, float* y) {
  plane_forward_dispatch(kind, g, x, w, b, y);
}
GLIA_CPU_CLONES void forward_f64(int kind, const Geometry& g, const double* x, const double* w, double b, double* y) {
  plane_forward_dispatch(kind, g, x, w, b, y);
}
GLIA_CPU_CLONES void backward_input_f32(const Geometry& g, const float* gy, const float* w, float* gx) {
  plane_backward_input(g, gy, w, gx);
}
GLIA_CPU_CLONES void backward_input_f64(const Geometry& g, const double* gy, const double* w, double* gx) {
  plane_backward_input(g, gy, w, gx);
}
GLIA_CPU_CLONES void backward_weight_f32(int kind, const Geometry& g, const float* x, const float* gy, double* sum) {
  plane_backward_weight_dispatch(kind, g, x, gy, sum);
}
GLIA_CPU_CLONES void backward_weight_f64(int kind, const Geometry& g, const double* x, const double* gy, double* sum) {
  plane_backward_weight_dispatch(kind, g, x, gy, sum);
}

void plane_forward_any(int kind, const Geometry& g, const float* x, const float* w, float b, float* y) {
  forward_f32(kind, g, x, w, b, y);
}
void plane_forward_any(int kind, const Geometry& g, const double* x, const double* w, double b, double* y) {
  forward_f64(kind, g, x, w, b, y);
}
void plane_backward_input_any(const Geometry& g, const float* gy, const float* w, float* gx) {
  backward_input_f32(g, gy, w, gx);
}
void plane_backward_input_any(const Geometry& g, const double* gy, const double* w, double* gx) {
  backward_input_f64(g, gy, w, gx);
}
void plane_backward_weight_any(int kind, const Geometry& g, const float* x, const float* gy, double* sum) {
  backward_weight_f32(kind, g, x, gy, sum);
}
void plane_backward_weight_any(int kind, const Geometry& g, const double* x, const double* gy, double* sum) {
  backward_weight_f64(kind, g, x, gy, sum);
}

// The stride-1 backward-to-input as a forward conv of gy with the flipped kernel: its
// input is gy (ho x wo), its output gx (H x W), padding K-1-pad on the leading sides.
Conv2dShape flipped_shape(const Conv2dShape& s) {
  Conv2dShape f = s;
  f.h_in = s.h_out(), f.w_in = s.w_out();
  f.pad_top = s.kh - 1 - s.pad_top, f.pad_left = s.kw - 1 - s.pad_left;
  f.pad_bottom = s.kh - 1 - s.pad_bottom, f.pad_right = s.kw - 1 - s.pad_right;
  return f;
}

}  // namespace

template <class T>
void depthwise_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  const auto cols = column_ranges(s);
  const Geometry g = geometry(s, cols);
  const int kind = fast_kind(s);
  const int64_t C = s.c_in, kk = s.kh * s.kw;
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < s.n * C; ++plane) {
    const int64_t c = plane % C;
    plane_forward_any(kind, g, x + plane * g.H * g.W, w + c * kk, bias ? bias[c] : T(0), y + plane * g.ho * g.wo);
  }
}

template <class T>
void depthwise_backward_input(const Conv2dShape& s, const T* gy, const T* w, T* gx) {
  const int64_t C = s.c_in, kk = s.kh * s.kw;
  const Conv2dShape f = flipped_shape(s);
  const int kind = s.stride_h == 1 && f.pad_bottom >= 0 && f.pad_right >= 0 ? fast_kind(f) : 0;
  if (kind != 0 && f.h_out() == s.h_in && f.w_out() == s.w_in) {
    const auto cols = column_ranges(f);
    const Geometry g = geometry(f, cols);
#pragma omp parallel for schedule(static)
    for (int64_t plane = 0; plane < s.n * C; ++plane) {
      const T* wp = w + (plane % C) * kk;
      T flipped[25];
      for (int64_t i = 0; i < kk; ++i) flipped[i] = wp[kk - 1 - i];
      plane_forward_any(kind, g, gy + plane * g.H * g.W, flipped, T(0), gx + plane * g.ho * g.wo);
    }
    return;
  }
  const auto cols = column_ranges(s);
  const Geometry g = geometry(s, cols);
#pragma omp parallel for schedule(static)
  for (int64_t plane = 0; plane < s.n * C; ++plane) {
    plane_backward_input_any(g, gy + plane * g.ho * g.wo, w + (plane % C) * kk, gx + plane * g.H * g.W);
  }
}

// gw[c, ki, kj] = sum over samples and outputs of gy * x; one channel per task, partial
// row sums in T, the running total in double.
template <class T>
void depthwise_backward_weight(const Conv2dShape& s, const T* x, const T* gy, T* gw) {
  const auto cols = column_ranges(s);
  const Geometry g = geometry(s, cols);
  const int kind = fast_kind(s);
  const int64_t C = s.c_in, kk = s.kh * s.kw;
#pragma omp parallel
  {
    std::vector<double> sum(static_cast<size_t>(kk));  // one per thread, not per channel
#pragma omp for schedule(static)
    for (int64_t c = 0; c < C; ++c) {
      std::fill(sum.begin(), sum.end(), 0.0);
      for (int64_t n = 0; n < s.n; ++n)
        plane_backward_weight_any(kind, g, x + (n * C + c) * g.H * g.W, gy + (n * C + c) * g.ho * g.wo, sum.data());
      for (int64_t k = 0; k < kk; ++k) gw[c * kk + k] = T(sum[size_t(k)]);
    }
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
