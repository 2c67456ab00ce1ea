// Winograd F(2x2, 3x3) for 3x3, stride-1, pad-1, ungrouped convs (the U-Net's), after
// Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2015). Each 2x2 output
// tile needs a 4x4 input tile d; per channel V = B^T d B, per filter U = G g G^T, and then
// 16 independent GEMMs M[xi] = U[xi] (C_out x C_in) * V[xi] (C_in x tiles) replace the one
// im2col GEMM (C_out x 9 C_in) * (9 C_in x pixels): 16 multiplies per 4 outputs instead of
// 36, 2.25x fewer. The output is Y = A^T M A per tile.
//
// Tiles are numbered over all images at once (n, tile row, tile column) and processed in
// chunks so V and M stay in L2 between the transforms and the GEMMs, as the im2col path
// chunks its column matrix. GEMMs run outside OpenMP regions (OpenBLAS threads them), the
// transforms on the calling thread, for the reason given in conv2d.cpp.
//
// Backward to the input of such a conv is the same conv of gy with the filters rotated
// by 180 degrees and in/out channels swapped (still 3x3, stride 1, pad 1), so it reuses
// the forward with a differently transformed weight.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/conv2d_internal.h"
#include "kernels/cpu/vec_math.h"  // GLIA_CPU_CLONES

namespace glia::kernels::cpu::conv_detail {
namespace {

// Elements of V + M per chunk, with at least 64 tiles per chunk: on the U-Net convs (one
// thread, 64-512 channels) 64-tile chunks were as fast as or faster than 128 or 256 tiles,
// up to 1.5x at 64-128 channels, where larger chunks no longer stay in L2.
int64_t winograd_budget = int64_t(1) << 17;
int winograd_override = -1;  // -1: follow GLIA_CONV_WINOGRAD

// GLIA_CONV_WINOGRAD: 0 off, 2 on for every fitting shape whatever its tile count
// (for measuring), anything else (or unset) the default, 1.
int env_mode() {
  static const int mode = [] {
    const char* v = std::getenv("GLIA_CONV_WINOGRAD");
    if (v != nullptr && std::strcmp(v, "0") == 0) return 0;
    if (v != nullptr && std::strcmp(v, "2") == 0) return 2;
    return 1;
  }();
  return mode;
}

int64_t chunk_tiles(int64_t c_in, int64_t c_out, int64_t tiles) {
  const int64_t per_tile = 16 * (c_in + c_out);
  const int64_t min_len = std::min<int64_t>(64, std::max<int64_t>(winograd_budget >> 11, 1));
  return std::min(std::max(winograd_budget / per_tile, min_len), tiles);
}

// Elements between the 16 planes of U: padded by a cache line and a half so the planes
// are not a power of two apart (same cache sets).
inline int64_t u_plane(int64_t outs, int64_t ins) { return outs * ins + 24; }

// U[xi][o][i] = G g G^T for every filter, with g = w[o][i] (forward) or, for the
// backward-input conv (outputs = the forward's inputs), g = rot180(w[i][o]), which is
// w[i][o] with its 9 taps in reverse order. G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
// Blocks of kBo filters x kBi inputs: the taps are gathered with contiguous reads, the
// transform vectorises over the block, and each of the 16 rows goes out as one run. (One
// filter at a time with 16 scattered scalar stores took 64% of a 1024-channel 16x16 conv;
// blocked it is still ~45% there, bound by writing the 16 C_out C_in values of U, hence
// the tile-count condition in winograd_applies.)
template <class T>
inline __attribute__((always_inline)) void transform_weight_block(const T* w, int64_t outs, int64_t ins,
                                                                  bool flip_transpose, T* u) {
  constexpr int kBo = 8, kBi = 64;
  const int64_t plane = u_plane(outs, ins);
  T g[kBo][9][kBi] = {};  // zeroed once: lanes past a short block hold old or zero taps
  T row[16][kBi];
  for (int64_t o0 = 0; o0 < outs; o0 += kBo) {
    const int nb_o = int(std::min<int64_t>(kBo, outs - o0));
    for (int64_t i0 = 0; i0 < ins; i0 += kBi) {
      const int nb_i = int(std::min<int64_t>(kBi, ins - i0));
      if (flip_transpose) {
        for (int ii = 0; ii < nb_i; ++ii)
          for (int oo = 0; oo < nb_o; ++oo) {
            const T* src = w + ((i0 + ii) * outs + o0 + oo) * 9;
            for (int k = 0; k < 9; ++k) g[oo][8 - k][ii] = src[k];
          }
      } else {
        for (int oo = 0; oo < nb_o; ++oo)
          for (int ii = 0; ii < nb_i; ++ii) {
            const T* src = w + ((o0 + oo) * ins + i0 + ii) * 9;
            for (int k = 0; k < 9; ++k) g[oo][k][ii] = src[k];
          }
      }
      for (int oo = 0; oo < nb_o; ++oo) {
        const T(*gk)[kBi] = g[oo];
        for (int ii = 0; ii < kBi; ++ii) {  // full width: lanes past nb_i are never copied out
          T t[4][3];                         // G g
          for (int c = 0; c < 3; ++c) {
            const T g0 = gk[c][ii], g1 = gk[3 + c][ii], g2 = gk[6 + c][ii];
            t[0][c] = g0;
            t[1][c] = T(0.5) * (g0 + g1 + g2);
            t[2][c] = T(0.5) * (g0 - g1 + g2);
            t[3][c] = g2;
          }
          for (int r = 0; r < 4; ++r) {  // (G g) G^T
            row[r * 4 + 0][ii] = t[r][0];
            row[r * 4 + 1][ii] = T(0.5) * (t[r][0] + t[r][1] + t[r][2]);
            row[r * 4 + 2][ii] = T(0.5) * (t[r][0] - t[r][1] + t[r][2]);
            row[r * 4 + 3][ii] = t[r][2];
          }
        }
        T* dst = u + (o0 + oo) * ins + i0;
        for (int xi = 0; xi < 16; ++xi) {
          T* __restrict d = dst + xi * plane;
          for (int ii = 0; ii < nb_i; ++ii) d[ii] = row[xi][ii];
        }
      }
    }
  }
}

GLIA_CPU_CLONES void transform_weight_f32(const float* w, int64_t outs, int64_t ins, bool flip, float* u) {
  transform_weight_block(w, outs, ins, flip, u);
}
GLIA_CPU_CLONES void transform_weight_f64(const double* w, int64_t outs, int64_t ins, bool flip, double* u) {
  transform_weight_block(w, outs, ins, flip, u);
}
template <class T>
void transform_weight(const T* w, int64_t outs, int64_t ins, bool flip_transpose, T* u) {
  if constexpr (std::is_same_v<T, float>) transform_weight_f32(w, outs, ins, flip_transpose, u);
  else transform_weight_f64(w, outs, ins, flip_transpose, u);
}

// Calls fn(n, ty, tx0, tx1, at) for the tile-row pieces covering global tiles [g0, g1):
// image n, tile row ty, tile columns [tx0, tx1), first tile at chunk position `at`.
template <class Fn>
inline __attribute__((always_inline)) void for_tile_pieces(int64_t g0, int64_t g1, int64_t th, int64_t tw,
                                                           Fn&& fn) {
  const int64_t per_image = th * tw;
  for (int64_t g = g0; g < g1;) {
    const int64_t n = g / per_image, t = g % per_image, ty = t / tw, tx0 = t % tw;
    const int64_t tx1 = std::min(tw, tx0 + (g1 - g));
    fn(n, ty, tx0, tx1, g - g0);
    g += tx1 - tx0;
  }
}

// B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. One channel, one tile-row piece: the four
// input rows (a zero row where outside the image) are combined vertically over padded
// columns 2 tx0 - 1 .. 2 tx1 (contiguous, vectorises; columns outside the image are 0),
// then horizontally per tile into V[xi][c][at + j]. `zeros` holds >= 2 tw + 2 zeros.
template <class T>
inline __attribute__((always_inline)) void input_transform_piece(const T* xc, int64_t H, int64_t W, int64_t ty,
                                                                 int64_t tx0, int64_t tx1, const T* zeros, T* rowbuf,
                                                                 T* v, int64_t v_stride) {
  const int64_t np = 2 * (tx1 - tx0) + 2, first_col = 2 * tx0 - 1;
  // Padded columns [lo, hi) lie inside the image (tx0 < tw, so first_col <= W - 2).
  const int64_t lo = std::max<int64_t>(0, -first_col), hi = std::min<int64_t>(np, W - first_col);
  const T* src[4];
  for (int k = 0; k < 4; ++k) {
    const int64_t ih = 2 * ty - 1 + k;
    src[k] = (ih < 0 || ih >= H) ? zeros : xc + ih * W + first_col + lo;
  }
  T* __restrict t0 = rowbuf;  // t_i[col] = (B^T d)[i][col]
  T* __restrict t1 = rowbuf + np;
  T* __restrict t2 = rowbuf + 2 * np;
  T* __restrict t3 = rowbuf + 3 * np;
  for (int64_t c = 0; c < lo; ++c) t0[c] = t1[c] = t2[c] = t3[c] = T(0);
  for (int64_t c = hi; c < np; ++c) t0[c] = t1[c] = t2[c] = t3[c] = T(0);
  {
    const T* __restrict s0 = src[0];
    const T* __restrict s1 = src[1];
    const T* __restrict s2 = src[2];
    const T* __restrict s3 = src[3];
    T* __restrict u0 = t0 + lo;
    T* __restrict u1 = t1 + lo;
    T* __restrict u2 = t2 + lo;
    T* __restrict u3 = t3 + lo;
#pragma omp simd
    for (int64_t c = 0; c < hi - lo; ++c) {
      const T r0 = s0[c], r1 = s1[c], r2 = s2[c], r3 = s3[c];
      u0[c] = r0 - r2;
      u1[c] = r1 + r2;
      u2[c] = r2 - r1;
      u3[c] = r1 - r3;
    }
  }
  const T* t = rowbuf;
  const int64_t count = tx1 - tx0;
  for (int i = 0; i < 4; ++i) {
    const T* __restrict ti = t + i * np;
    T* __restrict v0 = v + (i * 4 + 0) * v_stride;
    T* __restrict v1 = v + (i * 4 + 1) * v_stride;
    T* __restrict v2 = v + (i * 4 + 2) * v_stride;
    T* __restrict v3 = v + (i * 4 + 3) * v_stride;
#pragma omp simd
    for (int64_t j = 0; j < count; ++j) {
      const T a = ti[2 * j], b = ti[2 * j + 1], c = ti[2 * j + 2], d = ti[2 * j + 3];
      v0[j] = a - c;
      v1[j] = b + c;
      v2[j] = c - b;
      v3[j] = b - d;
    }
  }
}

// A^T = [1 1 1 0; 0 1 -1 -1]. One output channel, one tile-row piece: Y = A^T M A + bias,
// interleaved into a row buffer, then the rows/columns inside the image copied out.
template <class T>
inline __attribute__((always_inline)) void output_transform_piece(const T* m, int64_t m_stride, int64_t count,
                                                                  T bias, T* rowbuf, T* yc, int64_t H, int64_t W,
                                                                  int64_t ty, int64_t tx0) {
  T* __restrict out0 = rowbuf;
  T* __restrict out1 = rowbuf + 2 * count;
  const T* mm[16];
  for (int k = 0; k < 16; ++k) mm[k] = m + k * m_stride;
#pragma omp simd
  for (int64_t j = 0; j < count; ++j) {
    T z[2][4];  // A^T M
    for (int c = 0; c < 4; ++c) {
      const T a = mm[c][j], b = mm[4 + c][j], cc = mm[8 + c][j], d = mm[12 + c][j];
      z[0][c] = a + b + cc;
      z[1][c] = b - cc - d;
    }
    out0[2 * j] = z[0][0] + z[0][1] + z[0][2] + bias;
    out0[2 * j + 1] = z[0][1] - z[0][2] - z[0][3] + bias;
    out1[2 * j] = z[1][0] + z[1][1] + z[1][2] + bias;
    out1[2 * j + 1] = z[1][1] - z[1][2] - z[1][3] + bias;
  }
  const int64_t ow0 = 2 * tx0, width = std::min<int64_t>(2 * count, W - ow0);
  for (int r = 0; r < 2; ++r) {
    const int64_t oh = 2 * ty + r;
    if (oh >= H) break;
    std::memcpy(yc + oh * W + ow0, r == 0 ? out0 : out1, sizeof(T) * size_t(width));
  }
}

// V for global tiles [g0, g0 + len) of every input channel.
template <class T>
inline __attribute__((always_inline)) void input_transform_chunk(const T* x, int64_t ins, int64_t H, int64_t W,
                                                                 int64_t g0, int64_t len, const T* zeros, T* rowbuf,
                                                                 T* v) {
  const int64_t th = (H + 1) / 2, tw = (W + 1) / 2;
  for (int64_t c = 0; c < ins; ++c) {
    for_tile_pieces(g0, g0 + len, th, tw, [&](int64_t n, int64_t ty, int64_t tx0, int64_t tx1, int64_t at) {
      input_transform_piece(x + (n * ins + c) * H * W, H, W, ty, tx0, tx1, zeros, rowbuf, v + c * len + at, ins * len);
    });
  }
}

// y for global tiles [g0, g0 + len) of every output channel, from M.
template <class T>
inline __attribute__((always_inline)) void output_transform_chunk(const T* m, int64_t outs, int64_t H, int64_t W,
                                                                  int64_t g0, int64_t len, const T* bias, T* rowbuf,
                                                                  T* y) {
  const int64_t th = (H + 1) / 2, tw = (W + 1) / 2;
  for (int64_t o = 0; o < outs; ++o) {
    const T b = bias ? bias[o] : T(0);
    for_tile_pieces(g0, g0 + len, th, tw, [&](int64_t n, int64_t ty, int64_t tx0, int64_t tx1, int64_t at) {
      output_transform_piece(m + o * len + at, outs * len, tx1 - tx0, b, rowbuf, y + (n * outs + o) * H * W, H, W,
                             ty, tx0);
    });
  }
}

// Non-template entry points, so each can be cloned per instruction set.
GLIA_CPU_CLONES void input_chunk_f32(const float* x, int64_t ins, int64_t H, int64_t W, int64_t g0, int64_t len,
                                     const float* zeros, float* rowbuf, float* v) {
  input_transform_chunk(x, ins, H, W, g0, len, zeros, rowbuf, v);
}
GLIA_CPU_CLONES void input_chunk_f64(const double* x, int64_t ins, int64_t H, int64_t W, int64_t g0, int64_t len,
                                     const double* zeros, double* rowbuf, double* v) {
  input_transform_chunk(x, ins, H, W, g0, len, zeros, rowbuf, v);
}
GLIA_CPU_CLONES void output_chunk_f32(const float* m, int64_t outs, int64_t H, int64_t W, int64_t g0, int64_t len,
                                      const float* bias, float* rowbuf, float* y) {
  output_transform_chunk(m, outs, H, W, g0, len, bias, rowbuf, y);
}
GLIA_CPU_CLONES void output_chunk_f64(const double* m, int64_t outs, int64_t H, int64_t W, int64_t g0, int64_t len,
                                      const double* bias, double* rowbuf, double* y) {
  output_transform_chunk(m, outs, H, W, g0, len, bias, rowbuf, y);
}

// y = conv(x, filters whose transforms are u) for a 3x3 stride-1 pad-1 shape with
// `ins` input and `outs` output channels.
template <class T>
void winograd_run(int64_t N, int64_t ins, int64_t outs, int64_t H, int64_t W, const T* x, const T* u,
                  const T* bias, T* y) {
  const int64_t th = (H + 1) / 2, tw = (W + 1) / 2, tiles = N * th * tw;
  const int64_t len_max = chunk_tiles(ins, outs, tiles);
  // Chunks of tiles are independent (disjoint outputs): one per OpenMP task, each thread
  // with its own scratch, and the GEMMs inside single calls (kernels/cpu/blas.h).
  const int64_t chunks = (tiles + len_max - 1) / len_max;
#pragma omp parallel for schedule(dynamic) if (chunks > 1)
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    T* v = scratch<T>(size_t(16 * ins * len_max), 1);
    T* m = scratch<T>(size_t(16 * outs * len_max + 5 * (2 * tw + 2)), 2);
    T* rowbuf = m + 16 * outs * len_max;  // 4 rows of <= 2 tw + 2 (input) / 2 rows of <= 2 tw (output)
    T* zeros = rowbuf + 4 * (2 * tw + 2);
    std::fill(zeros, zeros + 2 * tw + 2, T(0));
    const int64_t g0 = chunk * len_max;
    const int64_t len = std::min(len_max, tiles - g0);
    if constexpr (std::is_same_v<T, float>) input_chunk_f32(x, ins, H, W, g0, len, zeros, rowbuf, v);
    else input_chunk_f64(x, ins, H, W, g0, len, zeros, rowbuf, v);
    for (int xi = 0; xi < 16; ++xi)
      gemm<T>(false, false, outs, len, ins, T(1), u + xi * u_plane(outs, ins), ins, v + xi * ins * len, len, T(0),
              m + xi * outs * len, len);
    if constexpr (std::is_same_v<T, float>) output_chunk_f32(m, outs, H, W, g0, len, bias, rowbuf, y);
    else output_chunk_f64(m, outs, H, W, g0, len, bias, rowbuf, y);
  }
}

}  // namespace

bool winograd_applies(const Conv2dShape& s) {
  const int mode = winograd_override >= 0 ? winograd_override : env_mode();
  if (mode == 0) return false;
  const bool shape_fits = s.kh == 3 && s.kw == 3 && s.stride_h == 1 && s.stride_w == 1 && s.dilation_h == 1 &&
                          s.dilation_w == 1 && s.groups == 1 && s.pad_top == 1 && s.pad_bottom == 1 &&
                          s.pad_left == 1 && s.pad_right == 1 && s.c_in >= 16 && s.c_out >= 16;
  if (!shape_fits || mode == 2) return shape_fits;
  // Transforming the weight writes 16 C_out C_in values, which only pays off over enough
  // tiles: at 16x16 x 1024 channels, batch 1 (64 tiles) Winograd was no faster than im2col
  // on the dev VM, at 32x32 x 512 (256 tiles) it was 1.3-2.4x faster.
  const int64_t tiles = s.n * ((s.h_in + 1) / 2) * ((s.w_in + 1) / 2);
  return 2 * tiles >= std::max(s.c_in, s.c_out);
}

int set_winograd_enabled(int enabled) {
  int old = winograd_override;
  winograd_override = enabled;
  return old;
}

int64_t set_winograd_budget(int64_t elements) {
  int64_t old = winograd_budget;
  winograd_budget = elements;
  return old;
}

template <class T>
void winograd_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  T* u = scratch<T>(size_t(16 * u_plane(s.c_out, s.c_in)), 0);
  transform_weight(w, s.c_out, s.c_in, false, u);
  winograd_run(s.n, s.c_in, s.c_out, s.h_in, s.w_in, x, u, bias, y);
}

template <class T>
void winograd_backward_input(const Conv2dShape& s, const T* gy, const T* w, T* gx) {
  T* u = scratch<T>(size_t(16 * u_plane(s.c_out, s.c_in)), 0);
  transform_weight(w, s.c_in, s.c_out, true, u);
  winograd_run(s.n, s.c_out, s.c_in, s.h_in, s.w_in, gy, u, static_cast<const T*>(nullptr), gx);
}

template void winograd_forward<float>(const Conv2dShape&, const float*, const float*, const float*, float*);
template void winograd_forward<double>(const Conv2dShape&, const double*, const double*, const double*, double*);
template void winograd_backward_input<float>(const Conv2dShape&, const float*, const float*, float*);
template void winograd_backward_input<double>(const Conv2dShape&, const double*, const double*, double*);

}  // namespace glia::kernels::cpu::conv_detail
