// Conv2d forward and backward in bf16 on tensor cores (Conv2d*Params with dtype bf16, see
// kernels/conv2d.h): x, w, bias, y and the gradients are bf16 (raw 16-bit words,
// __nv_bfloat16's bit layout); products are exact and summed in float by WMMA; every
// output is rounded to bf16 once, at the end.
//
// Implicit GEMMs on the shared tensor-core core (kernels/cuda/tensor_core.cuh, 64 x 64
// tiles), the same three products as the float32 kernel (conv2d.cu), one group per
// blockIdx.z, nothing materialised (tiles are gathered straight from the tensors, zero
// where a window hangs over padding):
//   forward          C[co][pixel]  = sum over (ci, r, s)   w[co][ci,r,s] * im2col(x)   (+ bias)
//   backward input   C[ci][pixel]  = sum over (co, r, s)   w[co][ci,r,s] * col(gy)
//                    (gy[oh, ow] with oh*stride = ih + pad - r*dil when that divides
//                    exactly: the transposed conv as a gather, so strides need no scatter)
//   backward weight  C[co][ci,r,s] = sum over (n, oh, ow)  gy[n,co,oh,ow] * im2col(x)
//                    split over K (blockIdx.z = split * groups + group) into a float
//                    workspace when C is a few tiles, then summed in split order and
//                    rounded: deterministic, no atomics.
// 16-byte cp.async where runs of 8 are contiguous and aligned: the weights' rows (forward,
// C_in*KH*KW a multiple of 8), pixels of x or gy in a pointwise conv and gy's pixels in
// the weight gradient (planes a multiple of 8 pixels).
// Any kernel size, stride, padding, dilation and group count. Depthwise convs run here too
// when asked in bf16 (one output channel per group fills 1/64 of a tile's rows): correct,
// not fast; mixed precision keeps them on the CUDA-core float32 kernels.
//
// The bias gradient (a per-channel sum, no products) is a float reduction on CUDA cores.
//
// Cost: 2 * N * C_out * Ho * Wo * (C_in/groups) * KH * KW FLOPs for each product.
#include <climits>

#include "kernels/conv2d.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels.cuh"
#include "kernels/cuda/tensor_core.cuh"
#include "kernels/runtime.h"

namespace glia::kernels::GLIA_CUDA_NS {
namespace {

using bf16 = __nv_bfloat16;

// Sizes as int (32-bit index math); the host checks every flattened size fits.
struct ConvShape {
  int n, c_in, h_in, w_in, c_out, h_out, w_out, kh, kw;
  int stride_h, stride_w, pad_top, pad_left, dil_h, dil_w;
  int groups, cig, cog;

  // im2col(x)[(ci, r, s)][(b, oh, ow)] of group g.
  __device__ bf16 im2col_x(const bf16* x, int g, int crs, int pix) const {
    int taps = kh * kw, ci = crs / taps, rs = crs - ci * taps, r = rs / kw, s = rs - r * kw;
    int plane = h_out * w_out, b = pix / plane, q = pix - b * plane, oh = q / w_out, ow = q - oh * w_out;
    int ih = oh * stride_h - pad_top + r * dil_h, iw = ow * stride_w - pad_left + s * dil_w;
    if (ih < 0 || ih >= h_in || iw < 0 || iw >= w_in) return tensor_core::bf16_zero();
    return x[((static_cast<int64_t>(b) * c_in + g * cig + ci) * h_in + ih) * w_in + iw];
  }
};

int checked_int(int64_t v, const char* op, const char* what) {
  GLIA_CHECK(v >= 0 && v <= INT32_MAX, "op '" << op << "': " << what << " = " << v << " exceeds the bf16 kernel's 32-bit indices");
  return static_cast<int>(v);
}

ConvShape conv_shape(const Conv2dShape& s, const char* op) {
  checked_int(s.n * s.c_in * s.h_in * s.w_in, op, "input elements");
  checked_int(s.n * s.c_out * s.h_out() * s.w_out(), op, "output elements");
  checked_int(s.c_out * (s.c_in / s.groups) * s.kh * s.kw, op, "weight elements");
  return ConvShape{static_cast<int>(s.n),          static_cast<int>(s.c_in),       static_cast<int>(s.h_in),
                   static_cast<int>(s.w_in),       static_cast<int>(s.c_out),      static_cast<int>(s.h_out()),
                   static_cast<int>(s.w_out()),    static_cast<int>(s.kh),         static_cast<int>(s.kw),
                   static_cast<int>(s.stride_h),   static_cast<int>(s.stride_w),   static_cast<int>(s.pad_top),
                   static_cast<int>(s.pad_left),   static_cast<int>(s.dilation_h), static_cast<int>(s.dilation_w),
                   static_cast<int>(s.groups),     static_cast<int>(s.c_in / s.groups),
                   static_cast<int>(s.c_out / s.groups)};
}

// y[b, g*cog + row, pixel] = w[g*cog + row, :] . im2col(x)[:, pixel] (+ bias).
struct ForwardProblem {
  ConvShape s;
  int m, n, k;
  const bf16 *w, *x, *bias;
  bf16* y;
  __device__ int64_t batches() const { return s.groups; }
  __device__ void k_range(int64_t, int& begin, int& end) const { begin = 0, end = k; }
  __device__ bool a_k_contiguous() const { return true; }
  __device__ bool b_n_contiguous() const { return true; }
  bool vec_w;  // k % 8 == 0 and w 16-byte aligned: weight rows load 8 at a time
  bool vec_x;  // a pointwise conv with 16-byte aligned planes: 8 pixels of x at a time
  __device__ bool a_vec() const { return vec_w; }
  __device__ bool b_vec() const { return vec_x; }
  __device__ const bf16* a8(int64_t g, int row, int kk) const { return w + (g * s.cog + row) * static_cast<int64_t>(k) + kk; }
  __device__ const bf16* b8(int64_t g, int kk, int col) const {
    int plane = s.h_in * s.w_in, b = col / plane, q = col - b * plane;
    return x + (static_cast<int64_t>(b) * s.c_in + g * s.cig + kk) * plane + q;
  }
  __device__ bf16 a(int64_t g, int row, int kk) const { return w[(g * s.cog + row) * static_cast<int64_t>(k) + kk]; }
  __device__ bf16 b(int64_t g, int kk, int col) const { return s.im2col_x(x, static_cast<int>(g), kk, col); }
  __device__ void store(int64_t g, int row, int col, float acc) const {
    int plane = s.h_out * s.w_out, b = col / plane, q = col - b * plane, ch = static_cast<int>(g) * s.cog + row;
    if (bias != nullptr) acc += __bfloat162float(bias[ch]);
    y[(static_cast<int64_t>(b) * s.c_out + ch) * plane + q] = __float2bfloat16(acc);
  }
};

// gx[b, g*cig + row, pixel] = sum over (co, r, s) of w[g*cog + co, row, r, s] * gy[b, g*cog + co, oh, ow].
struct BackwardInputProblem {
  ConvShape s;
  int m, n, k;
  const bf16 *w, *gy;
  bf16* gx;
  __device__ int64_t batches() const { return s.groups; }
  __device__ void k_range(int64_t, int& begin, int& end) const { begin = 0, end = k; }
  bool vec_gy;  // a pointwise conv with 16-byte aligned planes: 8 pixels of gy at a time
  __device__ bool a_vec() const { return false; }
  __device__ bool b_vec() const { return vec_gy; }
  __device__ const bf16* a8(int64_t, int, int) const { return nullptr; }
  __device__ const bf16* b8(int64_t g, int kk, int col) const {
    int plane = s.h_out * s.w_out, b = col / plane, q = col - b * plane;
    return gy + (static_cast<int64_t>(b) * s.c_out + g * s.cog + kk) * plane + q;
  }
  __device__ bool a_k_contiguous() const { return true; }
  __device__ bool b_n_contiguous() const { return true; }
  __device__ bf16 a(int64_t g, int row, int kk) const {
    int taps = s.kh * s.kw, co = kk / taps, rs = kk - co * taps;
    return w[((g * s.cog + co) * s.cig + row) * static_cast<int64_t>(taps) + rs];
  }
  __device__ bf16 b(int64_t g, int kk, int col) const {
    int taps = s.kh * s.kw, co = kk / taps, rs = kk - co * taps, r = rs / s.kw, sx = rs - r * s.kw;
    int plane = s.h_in * s.w_in, b = col / plane, q = col - b * plane, ih = q / s.w_in, iw = q - ih * s.w_in;
    int th = ih + s.pad_top - r * s.dil_h, tw = iw + s.pad_left - sx * s.dil_w;
    if (th < 0 || tw < 0) return tensor_core::bf16_zero();
    int oh = th / s.stride_h, ow = tw / s.stride_w;
    if (oh * s.stride_h != th || ow * s.stride_w != tw || oh >= s.h_out || ow >= s.w_out) return tensor_core::bf16_zero();
    return gy[((static_cast<int64_t>(b) * s.c_out + g * s.cog + co) * s.h_out + oh) * s.w_out + ow];
  }
  __device__ void store(int64_t g, int row, int col, float acc) const {
    int plane = s.h_in * s.w_in, b = col / plane, q = col - b * plane;
    gx[(static_cast<int64_t>(b) * s.c_in + g * s.cig + row) * plane + q] = __float2bfloat16(acc);
  }
};

// gw[g*cog + row, col = (ci, r, s)] = sum over pixels (b, oh, ow) of gy * im2col(x); K split
// into `splits` slices of k_chunk, slice i's sums at workspace + i * total (float), or
// straight into gw as bf16 when there is one slice.
struct BackwardWeightProblem {
  ConvShape s;
  int m, n, k;
  int splits, k_chunk;
  const bf16 *x, *gy;
  bf16* gw;
  float* workspace;
  int64_t total;  // weight elements: one split's slice of the workspace
  __device__ int64_t batches() const { return static_cast<int64_t>(s.groups) * splits; }
  __device__ void k_range(int64_t z, int& begin, int& end) const {
    int split = static_cast<int>(z / s.groups);
    begin = split * k_chunk;
    end = k - begin < k_chunk ? k : begin + k_chunk;
  }
  bool vec_gy;  // output planes 16-byte aligned: 8 pixels of gy at a time (A's K runs)
  __device__ bool a_vec() const { return vec_gy; }
  __device__ bool b_vec() const { return false; }
  __device__ const bf16* a8(int64_t z, int row, int kk) const {
    int g = static_cast<int>(z % s.groups), plane = s.h_out * s.w_out, b = kk / plane, q = kk - b * plane;
    return gy + (static_cast<int64_t>(b) * s.c_out + g * s.cog + row) * plane + q;
  }
  __device__ const bf16* b8(int64_t, int, int) const { return nullptr; }
  __device__ bool a_k_contiguous() const { return true; }
  __device__ bool b_n_contiguous() const { return false; }
  __device__ bf16 a(int64_t z, int row, int kk) const {
    int g = static_cast<int>(z % s.groups), plane = s.h_out * s.w_out, b = kk / plane, q = kk - b * plane;
    return gy[(static_cast<int64_t>(b) * s.c_out + g * s.cog + row) * plane + q];
  }
  __device__ bf16 b(int64_t z, int kk, int col) const { return s.im2col_x(x, static_cast<int>(z % s.groups), col, kk); }
  __device__ void store(int64_t z, int row, int col, float acc) const {
    int g = static_cast<int>(z % s.groups);
    int64_t at = (static_cast<int64_t>(g) * s.cog + row) * n + col;
    if (splits == 1) {
      gw[at] = __float2bfloat16(acc);
    } else {
      workspace[(z / s.groups) * total + at] = acc;
    }
  }
};

__global__ void sum_splits_to_bf16(int64_t total, int splits, const float* workspace, bf16* out) {
  for (int64_t i : grid_stride(total)) {
    float sum = 0.0f;
    for (int s = 0; s < splits; ++s) sum += workspace[s * total + i];
    out[i] = __float2bfloat16(sum);
  }
}

// Split-K count for the weight gradient (K = N*Ho*Wo is long, C often a few tiles): about
// 256 blocks, each split at least 256 deep. A function of the shape only, so the result
// does not depend on the device.
// A run of 8 pixels starting at a multiple of 8 stays in one plane and is 16-byte aligned
// when the plane is a multiple of 8 pixels and the tensor 16-byte aligned.
bool pixel_runs_aligned(const void* t, int64_t plane) { return plane % 8 == 0 && reinterpret_cast<uintptr_t>(t) % 16 == 0; }

// 1x1, stride 1, no padding: im2col(x) is x itself, pixels contiguous.
bool is_pointwise(const Conv2dShape& s) {
  return s.kh == 1 && s.kw == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 && s.pad_bottom == 0 &&
         s.pad_left == 0 && s.pad_right == 0;
}

int weight_splits(int64_t k, int64_t tiles) {
  int64_t by_depth = (k + 255) / 256, by_blocks = tiles >= 256 ? 1 : 256 / tiles;
  int64_t s = by_depth < by_blocks ? by_depth : by_blocks;
  return static_cast<int>(s < 1 ? 1 : (s > 1024 ? 1024 : s));
}

constexpr int kSumThreads = 256;

// gbias[ch] = sum of gy[:, ch, :] in float, one block per channel (a CUDA-core reduction:
// no products to put on tensor cores), rounded to bf16 once.
__global__ void bias_backward_bf16(int64_t n, int64_t c, int64_t hw, const bf16* gy, bf16* gbias) {
  __shared__ float scratch[kWarpSize];
  for (int64_t ch : block_stride(c)) {
    float acc = 0.0f;
    for (int64_t e = threadIdx.x; e < n * hw; e += blockDim.x) acc += __bfloat162float(gy[((e / hw) * c + ch) * hw + e % hw]);
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0) gbias[ch] = __float2bfloat16(acc);
  }
}

}  // namespace

void conv2d_backward_bias_bf16(const Conv2dBackwardBiasParams& p) {
  GLIA_LAUNCH(bias_backward_bf16, blocks_for(p.c, 1), kSumThreads, 0, p.n, p.c, p.hw, static_cast<const bf16*>(p.gy),
              static_cast<bf16*>(p.gbias));
}

void conv2d_bf16(const Conv2dParams& p) {
  const Conv2dShape& sh = p.shape;
  ForwardProblem f{conv_shape(sh, "conv2d"), 0, 0, 0, static_cast<const bf16*>(p.w), static_cast<const bf16*>(p.x),
                   static_cast<const bf16*>(p.bias), static_cast<bf16*>(p.y), false, false};
  f.m = f.s.cog;
  f.n = checked_int(sh.n * sh.h_out() * sh.w_out(), "conv2d", "output pixels");
  f.k = f.s.cig * f.s.kh * f.s.kw;
  f.vec_w = f.k % 8 == 0 && reinterpret_cast<uintptr_t>(p.w) % 16 == 0;
  f.vec_x = is_pointwise(sh) && pixel_runs_aligned(p.x, sh.h_in * sh.w_in);
  tensor_core::launch_wmma_gemm(f, sh.groups, "conv2d");
}

void conv2d_backward_input_bf16(const Conv2dBackwardInputParams& p) {
  const Conv2dShape& sh = p.shape;
  BackwardInputProblem b{conv_shape(sh, "conv2d_backward_input"), 0, 0, 0, static_cast<const bf16*>(p.w),
                         static_cast<const bf16*>(p.gy), static_cast<bf16*>(p.gx),
                         is_pointwise(sh) && pixel_runs_aligned(p.gy, sh.h_out() * sh.w_out())};
  b.m = b.s.cig;
  b.n = checked_int(sh.n * sh.h_in * sh.w_in, "conv2d_backward_input", "input pixels");
  b.k = b.s.cog * b.s.kh * b.s.kw;
  tensor_core::launch_wmma_gemm(b, sh.groups, "conv2d_backward_input");
}

void conv2d_backward_weight_bf16(const Conv2dBackwardWeightParams& p) {
  const Conv2dShape& sh = p.shape;
  const char* op = "conv2d_backward_weight";
  BackwardWeightProblem b{conv_shape(sh, op), 0, 0, 0, 1, 0, static_cast<const bf16*>(p.x),
                          static_cast<const bf16*>(p.gy), static_cast<bf16*>(p.gw), nullptr, 0,
                          pixel_runs_aligned(p.gy, sh.h_out() * sh.w_out())};
  b.m = b.s.cog;
  b.n = b.s.cig * b.s.kh * b.s.kw;
  b.k = checked_int(sh.n * sh.h_out() * sh.w_out(), op, "output pixels");
  b.total = static_cast<int64_t>(sh.c_out) * b.n;
  if (b.m == 0 || b.n == 0) return;
  const int64_t tiles = ((b.n + tensor_core::kTileN - 1) / tensor_core::kTileN) *
                        ((b.m + tensor_core::kTileM - 1) / tensor_core::kTileM) * sh.groups;
  int splits = weight_splits(b.k, tiles);
  int k_chunk = (b.k + splits - 1) / splits;
  k_chunk = (k_chunk + tensor_core::kTileK - 1) / tensor_core::kTileK * tensor_core::kTileK;
  if (k_chunk == 0) k_chunk = tensor_core::kTileK;
  splits = (b.k + k_chunk - 1) / k_chunk;
  if (splits < 1) splits = 1;  // K == 0: one pass that writes zeros
  b.splits = splits;
  b.k_chunk = k_chunk;
  GLIA_CHECK(sh.groups * splits <= INT32_MAX, "op '" << op << "': too many groups");
  if (splits == 1) {
    tensor_core::launch_wmma_gemm(b, sh.groups, op);
    return;
  }
  constexpr Device device = Device::GLIA_CUDA_NS;
  const size_t bytes = static_cast<size_t>(b.total * splits) * sizeof(float);
  void* workspace = rt::alloc(device, bytes);
  b.workspace = static_cast<float*>(workspace);
  tensor_core::launch_wmma_gemm(b, sh.groups * splits, op);
  GLIA_LAUNCH(sum_splits_to_bf16, blocks_for(b.total, kSumThreads), kSumThreads, 0, b.total, splits,
              static_cast<const float*>(workspace), static_cast<bf16*>(p.gw));
  rt::release(device, workspace, bytes);  // stream-ordered reuse: safe (cuda_runtime_wrappers.h)
}

}  // namespace glia::kernels::GLIA_CUDA_NS
