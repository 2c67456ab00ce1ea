// Conv2d forward and backward (see kernels/conv2d.h), NCHW, any stride, per-side padding,
// dilation and groups.
//
// General convs: one implicit-GEMM kernel, three ways of reading its operands. Nothing is
// materialised: a tile of the im2col'd input (or of the output gradient) is gathered
// straight from the tensor into shared memory, zero where the window hangs over padding.
//   forward          C[co][pixel]  = sum over (ci, r, s)       w[co][ci,r,s]  * im2col(x)
//   backward input   C[ci][pixel]  = sum over (co, r, s)       w[co][ci,r,s]  * col(gy)
//                    (col(gy) reads gy[oh, ow] with oh*stride = ih + pad - r*dil when that
//                    divides exactly: the transposed conv as a gather, no col2im scatter)
//   backward weight  C[co][ci,r,s] = sum over (n, oh, ow)      gy[n,co,oh,ow] * im2col(x)
//                    (one thread owns each weight gradient and sums N*Ho*Wo in a fixed
//                    order: deterministic, no float atomics)
//   - A block of 256 threads computes a 64 x 64 tile of C for one group (blockIdx.z). It
//     walks K in steps of 8: each thread gathers 2 elements of the 64 x 8 A slice and 2
//     of the 8 x 64 B slice into shared memory; after a barrier every thread accumulates
//     its 4 x 4 register micro-tile (rows ty + 16i, columns tx + 16j: a warp reads 16
//     consecutive B words and broadcasts A) from 4 + 4 shared loads per k.
//   - Edges: out-of-range A/B elements load as 0, out-of-range C is not written.
//   - Backward weight splits K over blockIdx.z (split-K) into a workspace and sums the
//     splits in a second kernel in a fixed order: many blocks, still deterministic.
// Pointwise convs (1x1, stride 1, no padding, one group; most of an EfficientNet's FLOPs)
// in float32 are plain batched GEMMs and run on the 128 x 128 SGEMM (kernels/cuda/gemm.cu),
// 4x the work per thread of the implicit GEMM's 64 x 64 tile and float4 loads:
//   forward          y[b] (C_out x HW) = w (C_out x C_in) * x[b] (C_in x HW)
//   backward input   gx[b] (C_in x HW) = w^T * gy[b]
// (a bias is first written into y, then the GEMM adds with beta = 1). The weight gradient
// sums over the batch too; it stays on the split-K implicit GEMM, which already spreads
// that long K over many blocks in a fixed order.
// bfloat16: tensor-core implicit GEMMs in kernels/cuda/conv2d_bf16.cu (the entry points
// below route there).
// Depthwise convs (groups == C_in == C_out): direct kernels in conv2d_depthwise.cu (the
// entry points below route there). The bias gradient is one block per channel, a block
// reduction.
//
// Cost: 2 * N * C_out * Ho * Wo * (C_in/groups) * KH * KW FLOPs for each of the three
// products; least bytes: x + w + y once each. The implicit GEMM re-reads every x element
// about KH*KW*ceil(C_out/groups/64) times (from L1/L2 on a GPU).
#include <climits>

#include "kernels/conv2d.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels.cuh"
#include "kernels/runtime.h"

namespace glia::kernels::GLIA_CUDA_NS {
namespace {

constexpr int kTileM = 64, kTileN = 64, kTileK = 8, kGemmThreads = 256;
static_assert(kGemmThreads % kTileN == 0 && kTileM * kTileK == 2 * kGemmThreads, "each thread loads 2 A and 2 B elements, its B column fixed");
constexpr int kThreads = 256;

enum ConvGemmMode { kForward = 0, kBackwardInput = 1, kBackwardWeight = 2 };

// Sizes as int: index decoding with 32-bit division is several times cheaper on a GPU.
// The host checks every flattened size fits.
template <class T>
struct ConvGemmArgs {
  int n, c_in, h_in, w_in, c_out, h_out, w_out, kh, kw;
  int stride_h, stride_w, pad_top, pad_left, dil_h, dil_w;
  int cig, cog;     // channels per group
  int m, ncols, k;  // the GEMM of one group
  const T* w;       // weights (forward, backward input) or gy (backward weight): operand A
  const T* src;     // x (forward, backward weight) or gy (backward input): operand B
  const T* bias;    // added to C[m] when non-null (forward; backward input for conv_transpose)
  T* out;
};

// im2col(x)[(ci, r, s)][(b, oh, ow)] of group g.
template <class T>
__device__ __forceinline__ T im2col_x(const ConvGemmArgs<T>& a, int g, int crs, int pix) {
  int taps = a.kh * a.kw, ci = crs / taps, rs = crs - ci * taps, r = rs / a.kw, s = rs - r * a.kw;
  int plane = a.h_out * a.w_out, b = pix / plane, q = pix - b * plane, oh = q / a.w_out, ow = q - oh * a.w_out;
  int ih = oh * a.stride_h - a.pad_top + r * a.dil_h, iw = ow * a.stride_w - a.pad_left + s * a.dil_w;
  if (ih < 0 || ih >= a.h_in || iw < 0 || iw >= a.w_in) return T(0);
  return a.src[((static_cast<int64_t>(b) * a.c_in + g * a.cig + ci) * a.h_in + ih) * a.w_in + iw];
}

// A(m, kk) of group g.
template <class T, int kMode>
__device__ __forceinline__ T load_a(const ConvGemmArgs<T>& a, int g, int m, int kk) {
  if (m >= a.m || kk >= a.k) return T(0);
  if (kMode == kForward) return a.w[(static_cast<int64_t>(g) * a.cog + m) * a.k + kk];
  if (kMode == kBackwardInput) {
    int taps = a.kh * a.kw, co = kk / taps, rs = kk - co * taps;
    return a.w[((static_cast<int64_t>(g) * a.cog + co) * a.cig + m) * taps + rs];
  }
  // backward weight: gy[b, g*cog + m, oh, ow] with kk = (b, oh, ow)
  int plane = a.h_out * a.w_out, b = kk / plane, q = kk - b * plane;
  return a.w[(static_cast<int64_t>(b) * a.c_out + g * a.cog + m) * plane + q];
}

// B(kk, col) of group g.
template <class T, int kMode>
__device__ __forceinline__ T load_b(const ConvGemmArgs<T>& a, int g, int kk, int col) {
  if (kk >= a.k || col >= a.ncols) return T(0);
  if (kMode == kForward) return im2col_x(a, g, kk, col);
  if (kMode == kBackwardWeight) return im2col_x(a, g, col, kk);
  // backward input: col = (b, ih, iw), kk = (co, r, s); gy[b, co, oh, ow] where
  // oh * stride_h == ih + pad_top - r * dil_h.
  int taps = a.kh * a.kw, co = kk / taps, rs = kk - co * taps, r = rs / a.kw, s = rs - r * a.kw;
  int plane = a.h_in * a.w_in, b = col / plane, q = col - b * plane, ih = q / a.w_in, iw = q - ih * a.w_in;
  int th = ih + a.pad_top - r * a.dil_h, tw = iw + a.pad_left - s * a.dil_w;
  if (th < 0 || tw < 0) return T(0);
  int oh = th / a.stride_h, ow = tw / a.stride_w;
  if (oh * a.stride_h != th || ow * a.stride_w != tw || oh >= a.h_out || ow >= a.w_out) return T(0);
  return a.src[((static_cast<int64_t>(b) * a.c_out + g * a.cog + co) * a.h_out + oh) * a.w_out + ow];
}

template <class T, int kMode>
__device__ __forceinline__ void store_c(const ConvGemmArgs<T>& a, int g, int m, int col, T v) {
  if (m >= a.m || col >= a.ncols) return;
  if (kMode == kBackwardWeight) {
    a.out[(static_cast<int64_t>(g) * a.cog + m) * a.ncols + col] = v;
    return;
  }
  // forward: channel g*cog + m of C_out, pixel over Ho*Wo; backward input: of C_in, H*W.
  int channels = kMode == kForward ? a.c_out : a.c_in;
  int per_group = kMode == kForward ? a.cog : a.cig;
  int plane = kMode == kForward ? a.h_out * a.w_out : a.h_in * a.w_in;
  int b = col / plane, q = col - b * plane, ch = g * per_group + m;
  if (a.bias != nullptr) v += a.bias[ch];
  a.out[(static_cast<int64_t>(b) * channels + ch) * plane + q] = v;
}

// blockIdx.z = split * groups + group. With split-K (backward weight only) split s sums
// K range [s * k_chunk, (s + 1) * k_chunk) into its own slice of `out` (a workspace);
// k_chunk is a multiple of kTileK, so a slice never straddles two splits.
template <class T, int kMode>
__global__ void conv_implicit_gemm(ConvGemmArgs<T> a, int groups, int k_chunk, int64_t split_stride) {
  __shared__ T a_tile[kTileK][kTileM];
  __shared__ T b_tile[kTileK][kTileN];
  int t = threadIdx.x, tx = t % 16, ty = t / 16;
  int g = blockIdx.z % groups, split = blockIdx.z / groups;
  int m0 = blockIdx.y * kTileM, n0 = blockIdx.x * kTileN;
  int k_begin = split * k_chunk, k_end = k_begin + k_chunk < a.k ? k_begin + k_chunk : a.k;
  a.out += split * split_stride;
  T acc[4][4];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) acc[i][j] = T(0);

  // Forward: this thread always gathers B column n0 + t % 64 (kGemmThreads is a multiple
  // of kTileN), so its output pixel is decoded once here, not once per k.
  const int my_col = n0 + t % kTileN;
  const T* pixel_base = nullptr;  // x of (batch, first channel of the group); null: column out of range
  int ih0 = 0, iw0 = 0;
  if (kMode == kForward && my_col < a.ncols) {
    int plane = a.h_out * a.w_out, b = my_col / plane, q = my_col - b * plane, oh = q / a.w_out;
    ih0 = oh * a.stride_h - a.pad_top;
    iw0 = (q - oh * a.w_out) * a.stride_w - a.pad_left;
    pixel_base = a.src + (static_cast<int64_t>(b) * a.c_in + g * a.cig) * a.h_in * a.w_in;
  }

  for (int k0 = k_begin; k0 < k_end; k0 += kTileK) {
    __syncthreads();  // everyone is done with the previous slices
    for (int e = t; e < kTileM * kTileK; e += kGemmThreads) {
      int am = e / kTileK, ak = e % kTileK;  // consecutive threads walk k: weights are k-contiguous
      a_tile[ak][am] = load_a<T, kMode>(a, g, m0 + am, k0 + ak);
      int bk = e / kTileN, bn = e % kTileN;  // consecutive threads walk output pixels
      if (kMode == kForward) {
        T v = T(0);
        int kk = k0 + bk;
        if (pixel_base != nullptr && kk < a.k) {
          int taps = a.kh * a.kw, ci = kk / taps, rs = kk - ci * taps, r = rs / a.kw;
          int ih = ih0 + r * a.dil_h, iw = iw0 + (rs - r * a.kw) * a.dil_w;
          if (ih >= 0 && ih < a.h_in && iw >= 0 && iw < a.w_in)
            v = pixel_base[(static_cast<int64_t>(ci) * a.h_in + ih) * a.w_in + iw];
        }
        b_tile[bk][bn] = v;
      } else {
        b_tile[bk][bn] = load_b<T, kMode>(a, g, k0 + bk, n0 + bn);
      }
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTileK; ++kk) {
      T av[4], bv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) av[i] = a_tile[kk][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) bv[j] = b_tile[kk][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] += av[i] * bv[j];
    }
  }
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) store_c<T, kMode>(a, g, m0 + ty + 16 * i, n0 + tx + 16 * j, acc[i][j]);
}

int checked_int(int64_t v, const char* op, const char* what) {
  GLIA_CHECK(v >= 0 && v <= INT_MAX, "op '" << op << "' on backend " GLIA_BACKEND_NAME ": " << what << " = " << v
                                            << " does not fit the kernel's 32-bit indexing");
  return static_cast<int>(v);
}

template <class T>
ConvGemmArgs<T> gemm_args(const Conv2dShape& s, const char* op) {
  ConvGemmArgs<T> a{};
  int64_t ho = s.h_out(), wo = s.w_out();
  // Every flattened index the kernel forms must fit an int.
  checked_int(s.n * s.c_in * s.h_in * s.w_in, op, "input elements");
  checked_int(s.n * s.c_out * ho * wo, op, "output elements");
  checked_int(s.c_out * (s.c_in / s.groups) * s.kh * s.kw, op, "weight elements");
  a.n = static_cast<int>(s.n), a.c_in = static_cast<int>(s.c_in), a.h_in = static_cast<int>(s.h_in);
  a.w_in = static_cast<int>(s.w_in), a.c_out = static_cast<int>(s.c_out);
  a.h_out = static_cast<int>(ho), a.w_out = static_cast<int>(wo);
  a.kh = static_cast<int>(s.kh), a.kw = static_cast<int>(s.kw);
  a.stride_h = static_cast<int>(s.stride_h), a.stride_w = static_cast<int>(s.stride_w);
  a.pad_top = static_cast<int>(s.pad_top), a.pad_left = static_cast<int>(s.pad_left);
  a.dil_h = static_cast<int>(s.dilation_h), a.dil_w = static_cast<int>(s.dilation_w);
  a.cig = static_cast<int>(s.c_in / s.groups), a.cog = static_cast<int>(s.c_out / s.groups);
  return a;
}

// Split-K count for the weight gradient: its K (N*Ho*Wo) is long and its C (C_out x
// C_in*KH*KW) often a handful of tiles, so without splitting a GPU would run a few blocks.
// Aim for ~256 blocks, each split at least 64 deep. A function of the shape only, so the
// summation order (and the result) does not depend on the device.
int weight_splits(int64_t k, int64_t tiles) {
  int64_t by_depth = (k + 63) / 64, by_blocks = tiles >= 256 ? 1 : 256 / tiles;
  int64_t s = by_depth < by_blocks ? by_depth : by_blocks;
  return static_cast<int>(s < 1 ? 1 : (s > 1024 ? 1024 : s));
}

template <class T, int kMode>
void launch_gemm(ConvGemmArgs<T> a, int64_t groups, const char* op) {
  if (a.m == 0 || a.ncols == 0) return;
  int64_t grid_x = (a.ncols + kTileN - 1) / kTileN, grid_y = (a.m + kTileM - 1) / kTileM;
  int splits = kMode == kBackwardWeight ? weight_splits(a.k, grid_x * grid_y * groups) : 1;
  int k_chunk = (a.k + splits - 1) / splits;
  k_chunk = (k_chunk + kTileK - 1) / kTileK * kTileK;
  if (k_chunk == 0) k_chunk = kTileK;
  splits = (a.k + k_chunk - 1) / k_chunk;
  if (splits < 1) splits = 1;  // K == 0: one pass that writes zeros
  GLIA_CHECK(grid_y <= kMaxGridBlocks && groups * splits <= kMaxGridBlocks,
             "op '" << op << "': " << a.m << " GEMM rows and " << groups << " groups exceed the grid");
  dim3 grid(static_cast<unsigned>(grid_x), static_cast<unsigned>(grid_y), static_cast<unsigned>(groups * splits));
  auto* kernel = &conv_implicit_gemm<T, kMode>;
  if (splits == 1) {
    GLIA_LAUNCH(kernel, grid, kGemmThreads, 0, a, static_cast<int>(groups), k_chunk, int64_t{0});
    return;
  }
  // Partial sums of each split in a workspace, then summed in split order.
  const int64_t total = static_cast<int64_t>(a.c_out) * a.ncols;
  const size_t bytes = static_cast<size_t>(total * splits) * sizeof(T);
  constexpr Device device = Device::GLIA_CUDA_NS;
  void* workspace = rt::alloc(device, bytes);
  T* out = a.out;
  a.out = static_cast<T*>(workspace);
  GLIA_LAUNCH(kernel, grid, kGemmThreads, 0, a, static_cast<int>(groups), k_chunk, total);
  GLIA_LAUNCH(sum_splits<T>, blocks_for(total, kThreads), kThreads, 0, total, splits,
              static_cast<const T*>(workspace), out);
  rt::release(device, workspace, bytes);  // stream-ordered reuse: safe (cuda_runtime_wrappers.h)
}

// One block per channel: gbias[c] = sum over n and hw of gy[n, c, hw].
template <class T>
__global__ void bias_backward(int64_t n, int64_t c, int64_t hw, const T* gy, T* gbias) {
  __shared__ T scratch[kWarpSize];
  for (int64_t ch : block_stride(c)) {
    T acc = T(0);
    for (int64_t e = threadIdx.x; e < n * hw; e += blockDim.x) acc += gy[((e / hw) * c + ch) * hw + e % hw];
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0) gbias[ch] = acc;
  }
}

bool use_pointwise_gemm(const Conv2dShape& s, DType dtype) {
  return dtype == DType::f32 && s.kh == 1 && s.kw == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 &&
         s.pad_bottom == 0 && s.pad_left == 0 && s.pad_right == 0 && s.groups == 1;
}

// y[b, c, :] = bias[c], so the GEMM can add onto it.
template <class I>
__global__ void fill_channel_bias(I total, I c, I hw, const float* bias, float* y) {
  for (I i : grid_stride(total)) y[i] = bias[(i / hw) % c];
}

// out[b] = op(w) * src[b] (+ out[b] when accumulate) for b < n: the pointwise conv as a
// batched GEMM. forward: w [C_out, C_in] as is; backward input: w transposed.
void pointwise_gemm(const Conv2dShape& s, bool transpose_w, const void* w, const void* src, void* out,
                    bool accumulate) {
  const int64_t hw = s.h_in * s.w_in;
  const int64_t m = transpose_w ? s.c_in : s.c_out, k = transpose_w ? s.c_out : s.c_in;
  GemmParams g;
  g.dtype = DType::f32;
  g.trans_a = transpose_w;
  g.trans_b = false;
  g.m = m, g.n = hw, g.k = k;
  g.batch = s.n;
  g.alpha = 1.0;
  g.beta = accumulate ? 1.0 : 0.0;
  g.a = w, g.lda = s.c_in, g.stride_a = 0;  // w is [C_out, C_in] either way
  g.b = src, g.ldb = hw, g.stride_b = k * hw;
  g.c = out, g.ldc = hw, g.stride_c = m * hw;
  gemm(g);
}

}  // namespace

void conv2d(const Conv2dParams& p) {
  require_output_in_input_dtype(p, "conv2d", GLIA_CUDA_STR_(GLIA_CUDA_NS));
  validate_conv2d(p.shape, "conv2d");
  if (p.dtype == DType::bf16) return conv2d_bf16(p);  // tensor cores, conv2d_bf16.cu
  const Conv2dShape& s = p.shape;
  dispatch_floating(p.dtype, "conv2d", [&](auto tag) {
    using T = decltype(tag);
    ConvGemmArgs<T> a = gemm_args<T>(s, "conv2d");  // also the depthwise path's 32-bit range checks
    if (s.is_depthwise()) return conv2d_depthwise(p);
    if (use_pointwise_gemm(s, p.dtype)) {
      if (s.n == 0 || s.h_in * s.w_in == 0) return;
      if (p.bias != nullptr) {
        const int64_t total = s.n * s.c_out * s.h_in * s.w_in;  // fits an int: gemm_args checked
        GLIA_LAUNCH(fill_channel_bias<int>, blocks_for(total, kThreads), kThreads, 0, static_cast<int>(total),
                    static_cast<int>(s.c_out), static_cast<int>(s.h_in * s.w_in), static_cast<const float*>(p.bias),
                    static_cast<float*>(p.y));
      }
      pointwise_gemm(s, false, p.w, p.x, p.y, p.bias != nullptr);
      return;
    }
    a.m = a.cog;
    a.ncols = checked_int(s.n * s.h_out() * s.w_out(), "conv2d", "output pixels");
    a.k = a.cig * a.kh * a.kw;
    a.w = static_cast<const T*>(p.w);
    a.src = static_cast<const T*>(p.x);
    a.bias = static_cast<const T*>(p.bias);
    a.out = static_cast<T*>(p.y);
    launch_gemm<T, kForward>(a, s.groups, "conv2d");
  });
}

void conv2d_backward_input(const Conv2dBackwardInputParams& p) {
  require_output_in_input_dtype(p, "conv2d_backward_input", GLIA_CUDA_STR_(GLIA_CUDA_NS));
  validate_conv2d(p.shape, "conv2d_backward_input");
  if (p.dtype == DType::bf16) return conv2d_backward_input_bf16(p);  // tensor cores, conv2d_bf16.cu
  const Conv2dShape& s = p.shape;
  dispatch_floating(p.dtype, "conv2d_backward_input", [&](auto tag) {
    using T = decltype(tag);
    ConvGemmArgs<T> a = gemm_args<T>(s, "conv2d_backward_input");
    if (s.is_depthwise()) return conv2d_backward_input_depthwise(p);
    if (use_pointwise_gemm(s, p.dtype)) {
      if (s.n == 0 || s.h_in * s.w_in == 0) return;
      pointwise_gemm(s, true, p.w, p.gy, p.gx, false);
      return;
    }
    a.m = a.cig;
    a.ncols = checked_int(s.n * s.h_in * s.w_in, "conv2d_backward_input", "input pixels");
    a.k = a.cog * a.kh * a.kw;
    a.w = static_cast<const T*>(p.w);
    a.src = static_cast<const T*>(p.gy);
    a.bias = nullptr;
    a.out = static_cast<T*>(p.gx);
    launch_gemm<T, kBackwardInput>(a, s.groups, "conv2d_backward_input");
  });
}

void conv2d_backward_weight(const Conv2dBackwardWeightParams& p) {
  require_output_in_input_dtype(p, "conv2d_backward_weight", GLIA_CUDA_STR_(GLIA_CUDA_NS));
  validate_conv2d(p.shape, "conv2d_backward_weight");
  if (p.dtype == DType::bf16) return conv2d_backward_weight_bf16(p);  // tensor cores, conv2d_bf16.cu
  const Conv2dShape& s = p.shape;
  dispatch_floating(p.dtype, "conv2d_backward_weight", [&](auto tag) {
    using T = decltype(tag);
    ConvGemmArgs<T> a = gemm_args<T>(s, "conv2d_backward_weight");
    if (s.is_depthwise()) return conv2d_backward_weight_depthwise(p);
    a.m = a.cog;
    a.ncols = a.cig * a.kh * a.kw;
    a.k = checked_int(s.n * s.h_out() * s.w_out(), "conv2d_backward_weight", "output pixels");
    a.w = static_cast<const T*>(p.gy);
    a.src = static_cast<const T*>(p.x);
    a.bias = nullptr;
    a.out = static_cast<T*>(p.gw);
    launch_gemm<T, kBackwardWeight>(a, s.groups, "conv2d_backward_weight");
  });
}

void conv2d_backward_bias(const Conv2dBackwardBiasParams& p) {
  require_output_in_input_dtype(p, "conv2d_backward_bias", GLIA_CUDA_STR_(GLIA_CUDA_NS));
  GLIA_CHECK(p.n >= 0 && p.c > 0 && p.hw >= 0,
             "op 'conv2d_backward_bias': bad shape n=" << p.n << " c=" << p.c << " hw=" << p.hw);
  if (p.dtype == DType::bf16) return conv2d_backward_bias_bf16(p);  // conv2d_bf16.cu
  dispatch_floating(p.dtype, "conv2d_backward_bias", [&](auto tag) {
    using T = decltype(tag);
    GLIA_LAUNCH(bias_backward<T>, blocks_for(p.c, 1), kThreads, 0, p.n, p.c, p.hw,
                static_cast<const T*>(p.gy), static_cast<T*>(p.gbias));
  });
}

}  // namespace glia::kernels::GLIA_CUDA_NS
