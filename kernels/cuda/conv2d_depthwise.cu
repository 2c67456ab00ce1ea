// Depthwise conv2d (groups == C_in == C_out; see kernels/conv2d.h), float32 and float64:
// direct kernels, no GEMM. Forward: one thread per output pixel (for 3x3 and 5x5 the
// weights sit in registers and the tap loops unroll). Backward input: one thread per input
// pixel, a gather over the taps that reach it. Weight gradient: blocks of (channel, slice
// of N*Ho*Wo) summing every tap from one pass over x and gy, slices merged in a fixed order.
// Reached through the conv2d*() entry points of conv2d.cu, which have checked the shape
// and that every flattened index fits 32 bits.
#include <climits>

#include "kernels/conv2d.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels.cuh"
#include "kernels/runtime.h"

namespace glia::kernels::GLIA_CUDA_NS {
namespace {

constexpr int kThreads = 256;

struct DepthwiseArgs {
  int n, c, h_in, w_in, h_out, w_out, kh, kw;
  int stride_h, stride_w, pad_top, pad_left, dil_h, dil_w;
};

// The larger of the input and output element counts: what the index type must hold.
int64_t largest_elements(const Conv2dShape& s) {
  const int64_t in = s.n * s.c_in * s.h_in * s.w_in, out = s.n * s.c_out * s.h_out() * s.w_out();
  return in > out ? in : out;
}

DepthwiseArgs depthwise_args(const Conv2dShape& s) {
  return DepthwiseArgs{static_cast<int>(s.n),          static_cast<int>(s.c_in),
                       static_cast<int>(s.h_in),       static_cast<int>(s.w_in),
                       static_cast<int>(s.h_out()),    static_cast<int>(s.w_out()),
                       static_cast<int>(s.kh),         static_cast<int>(s.kw),
                       static_cast<int>(s.stride_h),   static_cast<int>(s.stride_w),
                       static_cast<int>(s.pad_top),    static_cast<int>(s.pad_left),
                       static_cast<int>(s.dilation_h), static_cast<int>(s.dilation_w)};
}

// Element i of an [N, C, H, W] tensor: its row, column, plane (n * C + c) and channel.
template <class I>
struct PlanePixel {
  int row, col, channel;
  I plane;
};
template <class I>
__device__ __forceinline__ PlanePixel<I> plane_pixel(I i, int h, int w, int channels) {
  PlanePixel<I> p;
  p.col = static_cast<int>(i % w);
  p.row = static_cast<int>((i / w) % h);
  p.plane = i / (static_cast<I>(w) * h);
  p.channel = static_cast<int>(p.plane % channels);
  return p;
}

// One thread per output pixel; its channel's KH*KW weights stay in L1 (every thread of a
// block mostly shares a channel: pixels of one plane are consecutive).
// I: the index type, int32 when the tensor fits (dispatch_index): the per-pixel
// divisions are then 32-bit.
template <class T, class I>
__global__ void depthwise_forward(DepthwiseArgs d, const T* x, const T* w, const T* bias, T* y) {
  const I total = static_cast<I>(d.n) * d.c * d.h_out * d.w_out;
  for (I i : grid_stride(total)) {
    const PlanePixel<I> o = plane_pixel(i, d.h_out, d.w_out, d.c);
    const T* xp = x + o.plane * d.h_in * d.w_in;
    const T* wc = w + static_cast<int64_t>(o.channel) * d.kh * d.kw;
    T acc = bias != nullptr ? bias[o.channel] : T(0);
    int ih0 = o.row * d.stride_h - d.pad_top, iw0 = o.col * d.stride_w - d.pad_left;
    for (int r = 0; r < d.kh; ++r) {
      int ih = ih0 + r * d.dil_h;
      if (ih < 0 || ih >= d.h_in) continue;
      for (int s = 0; s < d.kw; ++s) {
        int iw = iw0 + s * d.dil_w;
        if (iw >= 0 && iw < d.w_in) acc += xp[ih * d.w_in + iw] * __ldg(wc + r * d.kw + s);
      }
    }
    y[i] = acc;
  }
}

// The same for a square K x K kernel known at compile time (3 and 5: every depthwise conv
// of EfficientNet): the channel's K*K weights are loaded into registers once per pixel and
// the tap loops unroll, so the inner loop is loads and FMAs only.
template <class T, int K, class I>
__global__ void depthwise_forward_k(DepthwiseArgs d, const T* x, const T* w, const T* bias, T* y) {
  const I total = static_cast<I>(d.n) * d.c * d.h_out * d.w_out;
  for (I i : grid_stride(total)) {
    const PlanePixel<I> o = plane_pixel(i, d.h_out, d.w_out, d.c);
    const T* xp = x + o.plane * d.h_in * d.w_in;
    T wr[K * K];
#pragma unroll
    for (int t = 0; t < K * K; ++t) wr[t] = __ldg(w + static_cast<int64_t>(o.channel) * K * K + t);
    T acc = bias != nullptr ? bias[o.channel] : T(0);
    int ih0 = o.row * d.stride_h - d.pad_top, iw0 = o.col * d.stride_w - d.pad_left;
#pragma unroll
    for (int r = 0; r < K; ++r) {
      int ih = ih0 + r * d.dil_h;
      if (ih < 0 || ih >= d.h_in) continue;
#pragma unroll
      for (int s = 0; s < K; ++s) {
        int iw = iw0 + s * d.dil_w;
        if (iw >= 0 && iw < d.w_in) acc += xp[ih * d.w_in + iw] * wr[r * K + s];
      }
    }
    y[i] = acc;
  }
}

// One thread per input pixel: gathers gy over the taps whose window covers it.
template <class T, class I>
__global__ void depthwise_backward_input(DepthwiseArgs d, const T* gy, const T* w, T* gx) {
  const I total = static_cast<I>(d.n) * d.c * d.h_in * d.w_in;
  for (I i : grid_stride(total)) {
    const PlanePixel<I> in = plane_pixel(i, d.h_in, d.w_in, d.c);
    const T* gp = gy + in.plane * d.h_out * d.w_out;
    const T* wc = w + static_cast<int64_t>(in.channel) * d.kh * d.kw;
    T acc = T(0);
    for (int r = 0; r < d.kh; ++r) {
      int th = in.row + d.pad_top - r * d.dil_h;
      if (th < 0 || th % d.stride_h != 0 || th / d.stride_h >= d.h_out) continue;
      for (int s = 0; s < d.kw; ++s) {
        int tw = in.col + d.pad_left - s * d.dil_w;
        if (tw < 0 || tw % d.stride_w != 0 || tw / d.stride_w >= d.w_out) continue;
        acc += gp[(th / d.stride_h) * d.w_out + tw / d.stride_w] * wc[r * d.kw + s];
      }
    }
    gx[i] = acc;
  }
}

// The weight gradient, every tap from one pass over x and gy: gw[c][r][s] = sum over
// (n, oh, ow) of gy[n,c,oh,ow] * x[n,c,oh*stride-pad+r*dil, ow*stride-pad+s*dil].
// Job (split, c, tap chunk): one block walks the split's slice of the channel's N*Ho*Wo
// output pixels (neighbouring threads: neighbouring pixels, coalesced), reads gy once per
// pixel and keeps up to kMaxTaps tap sums in registers; a tap chunk is all of a 3x3 or
// 5x5 kernel, so each gy and x element is read once (the old kernel, one block per
// (channel, tap), read them KH*KW times). Each tap's sum is then a block reduction in a
// fixed order (warp trees, then warp 0 over the warps' totals in warp order).
// splits == 1 writes gw directly; otherwise each split writes
// partial[split][c * taps + t] and sum_splits adds them in split order. The split count
// is a function of the shape only (depthwise_weight_splits), so the bits do not depend on
// the device or the run.
template <class T, int kMaxTaps, class I>
__global__ void depthwise_backward_weight(DepthwiseArgs d, int splits, int chunks, I split_len, const T* x, const T* gy,
                                          T* out) {
  __shared__ T scratch[kMaxTaps][kWarpSize];
  const int taps = d.kh * d.kw;
  const I plane = static_cast<I>(d.h_out) * d.w_out, pixels = static_cast<I>(d.n) * plane;
  for (int job : block_stride(d.c * chunks * splits)) {
    const int split = job / (d.c * chunks), rest = job - split * d.c * chunks, c = rest / chunks;
    const int tap0 = (rest - c * chunks) * kMaxTaps;
    // This chunk's taps as (row, column) offsets into the input window, in registers.
    int dh[kMaxTaps], dw[kMaxTaps];
    T acc[kMaxTaps];
#pragma unroll
    for (int t = 0; t < kMaxTaps; ++t) {
      const int rs = tap0 + t < taps ? tap0 + t : taps - 1, r = rs / d.kw;
      dh[t] = r * d.dil_h - d.pad_top;
      dw[t] = (rs - r * d.kw) * d.dil_w - d.pad_left;
      acc[t] = T(0);
    }
    const I begin = static_cast<I>(split) * split_len, end = begin + split_len < pixels ? begin + split_len : pixels;
    for (I e = begin + static_cast<I>(threadIdx.x); e < end; e += static_cast<I>(blockDim.x)) {
      const I b = e / plane, q = e - b * plane;
      const int oh = static_cast<int>(q / d.w_out), ow = static_cast<int>(q - static_cast<I>(oh) * d.w_out);
      const I bc = b * d.c + c;
      const T g = gy[bc * plane + q];
      const T* xp = x + bc * d.h_in * d.w_in;
      const int ih0 = oh * d.stride_h, iw0 = ow * d.stride_w;
#pragma unroll
      for (int t = 0; t < kMaxTaps; ++t) {
        const int ih = ih0 + dh[t], iw = iw0 + dw[t];
        if (tap0 + t < taps && ih >= 0 && ih < d.h_in && iw >= 0 && iw < d.w_in) acc[t] += g * xp[ih * d.w_in + iw];
      }
    }
    // All taps' block sums with two barriers: warp trees, then warp 0 sums each tap over
    // the warps in warp order.
    const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize, warps = blockDim.x / kWarpSize;
    __syncthreads();  // the previous job's readers of scratch are done
#pragma unroll
    for (int t = 0; t < kMaxTaps; ++t) {
      const T v = warp_sum(acc[t]);
      if (lane == 0) scratch[t][warp] = v;
    }
    __syncthreads();
    if (warp == 0) {
      T* dst = out + static_cast<int64_t>(split) * d.c * taps + static_cast<int64_t>(c) * taps;
#pragma unroll
      for (int t = 0; t < kMaxTaps; ++t) {
        const T v = warp_sum(lane < warps ? scratch[t][lane] : T(0));
        if (lane == 0 && tap0 + t < taps) dst[tap0 + t] = v;
      }
    }
  }
}

// Splits of the N*Ho*Wo sum: enough (channel, chunk, split) blocks to fill a large GPU
// (~512) when the channels alone do not, each split at least 1024 pixels deep (4 per
// thread), at most 1024 splits. Shape only: the summation order never depends on the
// device.
int depthwise_weight_splits(int64_t pixels, int64_t channel_jobs) {
  int64_t by_depth = (pixels + 1023) / 1024, by_blocks = channel_jobs >= 512 ? 1 : 512 / channel_jobs;
  int64_t s = by_depth < by_blocks ? by_depth : by_blocks;
  return static_cast<int>(s < 1 ? 1 : (s > 1024 ? 1024 : s));
}

template <class T>
void launch_depthwise_weight(const Conv2dShape& s, const T* x, const T* gy, T* gw) {
  const int64_t taps = s.kh * s.kw, pixels = s.n * s.h_out() * s.w_out();
  // 3x3 (and anything up to 9 taps) in one chunk; 5x5 and larger in chunks of 25.
  const int max_taps = taps <= 9 ? 9 : 25;
  const int64_t chunks = (taps + max_taps - 1) / max_taps;
  int splits = depthwise_weight_splits(pixels, s.c_out * chunks);
  int64_t split_len = (pixels + splits - 1) / splits;
  if (split_len < 1) split_len = 1;
  splits = static_cast<int>((pixels + split_len - 1) / split_len);
  if (splits < 1) splits = 1;  // no output pixels: one pass that writes zeros
  const int64_t jobs = s.c_out * chunks * splits;
  GLIA_CHECK(jobs <= INT_MAX, "op 'conv2d_backward_weight' on backend " GLIA_BACKEND_NAME ": " << jobs
                                                                                              << " depthwise jobs do not fit an int");
  constexpr Device device = Device::GLIA_CUDA_NS;
  const size_t bytes = splits > 1 ? static_cast<size_t>(splits * s.c_out * taps) * sizeof(T) : 0;
  void* workspace = splits > 1 ? rt::alloc(device, bytes) : nullptr;
  T* out = splits > 1 ? static_cast<T*>(workspace) : gw;
  dispatch_index(largest_elements(s), [&](auto index) {
    using I = decltype(index);
    auto* kernel9 = &depthwise_backward_weight<T, 9, I>;
    auto* kernel25 = &depthwise_backward_weight<T, 25, I>;
    if (max_taps == 9) {
      GLIA_LAUNCH(kernel9, blocks_for(jobs, 1), kThreads, 0, depthwise_args(s), splits, static_cast<int>(chunks),
                  static_cast<I>(split_len), x, gy, out);
    } else {
      GLIA_LAUNCH(kernel25, blocks_for(jobs, 1), kThreads, 0, depthwise_args(s), splits, static_cast<int>(chunks),
                  static_cast<I>(split_len), x, gy, out);
    }
  });
  if (splits > 1) {
    const int64_t total = s.c_out * taps;
    GLIA_LAUNCH(sum_splits<T>, blocks_for(total, kThreads), kThreads, 0, total, splits, static_cast<const T*>(out), gw);
    rt::release(device, workspace, bytes);  // stream-ordered reuse: safe (cuda_runtime_wrappers.h)
  }
}

}  // namespace

void conv2d_depthwise(const Conv2dParams& p) {
  const Conv2dShape& s = p.shape;
  dispatch_floating(p.dtype, "conv2d", [&](auto tag) {
    using T = decltype(tag);
    const int64_t total = s.n * s.c_out * s.h_out() * s.w_out();
    if (total == 0) return;
    dispatch_index(largest_elements(s), [&](auto index) {
      using I = decltype(index);
      auto* kernel = &depthwise_forward<T, I>;
      if (s.kh == 3 && s.kw == 3) kernel = &depthwise_forward_k<T, 3, I>;
      if (s.kh == 5 && s.kw == 5) kernel = &depthwise_forward_k<T, 5, I>;
      GLIA_LAUNCH(kernel, blocks_for(total, kThreads), kThreads, 0, depthwise_args(s), static_cast<const T*>(p.x),
                  static_cast<const T*>(p.w), static_cast<const T*>(p.bias), static_cast<T*>(p.y));
    });
  });
}

void conv2d_backward_input_depthwise(const Conv2dBackwardInputParams& p) {
  const Conv2dShape& s = p.shape;
  dispatch_floating(p.dtype, "conv2d_backward_input", [&](auto tag) {
    using T = decltype(tag);
    const int64_t total = s.n * s.c_in * s.h_in * s.w_in;
    if (total == 0) return;
    dispatch_index(largest_elements(s), [&](auto index) {
      using I = decltype(index);
      auto* kernel = &depthwise_backward_input<T, I>;
      GLIA_LAUNCH(kernel, blocks_for(total, kThreads), kThreads, 0, depthwise_args(s), static_cast<const T*>(p.gy),
                  static_cast<const T*>(p.w), static_cast<T*>(p.gx));
    });
  });
}

void conv2d_backward_weight_depthwise(const Conv2dBackwardWeightParams& p) {
  dispatch_floating(p.dtype, "conv2d_backward_weight", [&](auto tag) {
    using T = decltype(tag);
    launch_depthwise_weight<T>(p.shape, static_cast<const T*>(p.x), static_cast<const T*>(p.gy), static_cast<T*>(p.gw));
  });
}

}  // namespace glia::kernels::GLIA_CUDA_NS
