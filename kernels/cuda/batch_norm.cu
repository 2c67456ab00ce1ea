// BatchNorm2d forward (training and eval) and backward on [N, C, HW] (kernels/batch_norm.h).
//
// Decomposition:
//  - training forward: one block per channel (grid-stride over channels). Pass 1: the
//    block sums x of its channel (each thread a strided share of the N*HW values, then
//    block_sum: fixed order, so deterministic); pass 2 sums (x - mean)^2 (two passes: no
//    cancellation when |mean| >> std); thread 0 writes save_mean / save_invstd and updates
//    the running statistics (unbiased variance); pass 3 writes y = x * scale + shift.
//  - eval forward: one thread per element, y = x * scale[c] + shift[c] from running stats.
//  - backward: one block per channel: two block sums (sum gy, sum gy * (x - mean)), then
//    gx = k * gy + k2 * x + k3 per element; ggamma and gbeta written by thread 0.
//  - large channels (N*HW above kSplitChunk values, e.g. a U-Net's 128 x 128 planes at
//    batch 16: 262144 values each, one block per channel would leave most of a GPU idle
//    when C is 16-64): split. Stage 1, grid (splits, C): each block reduces one run of
//    kSplitChunk values of its channel (forward: count, run mean and sum of squared
//    deviations from it, two passes over the run; backward: sum gy and sum gy * (x -
//    mean)). Stage 2, one thread per channel: merges the runs in run order (Chan's
//    formula for the variance, no cancellation) and writes the statistics and per-channel
//    coefficients. Stage 3: one thread per element (four for float4). The split count is
//    a function of the shape only, and every sum has a fixed order: deterministic, and
//    the same bits on every GPU. 32-bit indices (the host checks they fit), float4 loads
//    where HW % 4 == 0 and the buffers are 16-byte aligned; the per-element channel is a
//    32-bit division, not a 64-bit one.
// A fused activation (p.act) is applied as y is written, after adding the residual if
// one is given; the backward turns gy into the gradient of the normalised value by
// recomputing it from x (scale * x + shift), or with a residual from relu's mask y > 0,
// and writes that gradient to gresidual too.
// Accumulation is in the data type (float sums of up to N*HW values, tree-ordered).
//
// Cost: training forward ~8 FLOPs per element, bytes 3 reads + 1 write of x-sized data;
// backward ~8 FLOPs, 4 reads + 1 write (x and gy twice). Memory-bound: GB/s is the measure.
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/batch_norm.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels.cuh"
#include "kernels/runtime.h"

namespace glia::kernels::GLIA_CUDA_NS {
namespace {

constexpr int kThreads = 256;

template <class T>
__device__ __forceinline__ T activate(NormActivation act, T v) {
  if (act == NormActivation::relu) return v > T(0) ? v : T(0);
  if (act == NormActivation::silu) return v / (T(1) + dev_exp(-v));
  return v;
}

// d act(pre) / d pre * gz.
template <class T>
__device__ __forceinline__ T activation_grad(NormActivation act, T gz, T pre) {
  if (act == NormActivation::relu) return pre > T(0) ? gz : T(0);
  if (act == NormActivation::silu) {
    const T s = T(1) / (T(1) + dev_exp(-pre));
    return gz * s * (T(1) + pre * (T(1) - s));
  }
  return gz;
}

template <class T>
__global__ void bn_train_forward(NormActivation act, const T* residual, int64_t n, int64_t c, int64_t hw, T eps,
                                 T momentum, const T* x, const T* gamma,
                                 const T* beta, T* y, T* running_mean, T* running_var, T* save_mean, T* save_invstd) {
  __shared__ T scratch[kWarpSize];
  const int64_t m = n * hw;
  for (int64_t ch : block_stride(c)) {
    T s1 = T(0);
    for (int64_t e = threadIdx.x; e < m; e += blockDim.x) s1 += x[((e / hw) * c + ch) * hw + e % hw];
    const T mean = block_sum(s1, scratch) / static_cast<T>(m);
    T s2 = T(0);
    for (int64_t e = threadIdx.x; e < m; e += blockDim.x) {
      T d = x[((e / hw) * c + ch) * hw + e % hw] - mean;
      s2 += d * d;
    }
    const T var = block_sum(s2, scratch) / static_cast<T>(m);
    const T invstd = T(1) / dev_sqrt(var + eps);
    if (threadIdx.x == 0) {
      save_mean[ch] = mean;
      save_invstd[ch] = invstd;
      if (running_mean != nullptr) {
        running_mean[ch] = (T(1) - momentum) * running_mean[ch] + momentum * mean;
        running_var[ch] = (T(1) - momentum) * running_var[ch] +
                          momentum * var * static_cast<T>(m) / static_cast<T>(m - 1);
      }
    }
    const T g = gamma != nullptr ? gamma[ch] : T(1), b = beta != nullptr ? beta[ch] : T(0);
    const T scale = g * invstd, shift = b - mean * scale;
    for (int64_t e = threadIdx.x; e < m; e += blockDim.x) {
      int64_t at = ((e / hw) * c + ch) * hw + e % hw;
      y[at] = activate(act, x[at] * scale + shift + (residual != nullptr ? residual[at] : T(0)));
    }
  }
}

template <class T>
__global__ void bn_eval_forward(NormActivation act, const T* residual, int64_t total, int64_t c, int64_t hw, T eps,
                                const T* x, const T* gamma, const T* beta,
                                const T* running_mean, const T* running_var, T* y) {
  for (int64_t i : grid_stride(total)) {
    int64_t ch = (i / hw) % c;
    T invstd = T(1) / dev_sqrt(running_var[ch] + eps);
    T scale = (gamma != nullptr ? gamma[ch] : T(1)) * invstd;
    T shift = (beta != nullptr ? beta[ch] : T(0)) - running_mean[ch] * scale;
    y[i] = activate(act, x[i] * scale + shift + (residual != nullptr ? residual[i] : T(0)));
  }
}

template <class T>
__global__ void bn_backward(NormActivation act, const T* fused_y, T* gresidual, int64_t n, int64_t c, int64_t hw,
                            bool training, T eps, const T* x, const T* gy, const T* gamma, const T* beta,
                            const T* mean_buf, const T* stat_buf, T* gx, T* ggamma, T* gbeta) {
  __shared__ T scratch[kWarpSize];
  const int64_t m = n * hw;
  for (int64_t ch : block_stride(c)) {
    // training: mean_buf/stat_buf = save_mean/save_invstd; eval: running_mean/running_var.
    const T mean = mean_buf[ch];
    const T invstd = training ? stat_buf[ch] : T(1) / dev_sqrt(stat_buf[ch] + eps);
    const T scale = (gamma != nullptr ? gamma[ch] : T(1)) * invstd;
    const T shift = (beta != nullptr ? beta[ch] : T(0)) - mean * scale;
    // fused_y: the forward added a residual before relu, whose mask is then y > 0.
    auto grad_at = [&](int64_t at) {
      return fused_y != nullptr ? (fused_y[at] > T(0) ? gy[at] : T(0))
                                : activation_grad(act, gy[at], x[at] * scale + shift);
    };
    T a = T(0), b = T(0);
    for (int64_t e = threadIdx.x; e < m; e += blockDim.x) {
      int64_t at = ((e / hw) * c + ch) * hw + e % hw;
      const T g = grad_at(at);
      if (gresidual != nullptr) gresidual[at] = g;
      a += g;
      b += g * (x[at] - mean);
    }
    const T sum_gy = block_sum(a, scratch);
    const T sum_gy_xhat = block_sum(b, scratch) * invstd;
    if (threadIdx.x == 0) {
      if (gbeta != nullptr) gbeta[ch] = sum_gy;
      if (ggamma != nullptr) ggamma[ch] = sum_gy_xhat;
    }
    if (gx == nullptr) continue;
    const T k = (gamma != nullptr ? gamma[ch] : T(1)) * invstd;
    T k2 = T(0), k3 = T(0);
    if (training && m > 0) {
      k2 = -k * invstd * sum_gy_xhat / static_cast<T>(m);
      k3 = -k * sum_gy / static_cast<T>(m) - k2 * mean;
    }
    for (int64_t e = threadIdx.x; e < m; e += blockDim.x) {
      int64_t at = ((e / hw) * c + ch) * hw + e % hw;
      gx[at] = k * grad_at(at) + k2 * x[at] + k3;
    }
  }
}

// ---- split statistics (see the top of the file) ------------------------------------------
constexpr int64_t kSplitChunk = 4096;  // values of one channel per stage-1 block

// Splits for a channel of m values; 1 means the one-block-per-channel kernels. A function
// of the shape only (never of the device), so results do not depend on the GPU.
int64_t bn_splits(int64_t n, int64_t c, int64_t hw) {
  const int64_t m = n * hw;
  if (m <= kSplitChunk || c > kMaxGridBlocks || !fits_int32(n * c * hw)) return 1;
  const int64_t splits = (m + kSplitChunk - 1) / kSplitChunk;
  return splits <= kMaxGridBlocks ? splits : 1;
}

// Value e of channel ch (e = b * hw + q) in [N, C, HW]; with kVec, quad e of the channel
// (hw counts quads). 32-bit: the host checked every offset fits.
__device__ __forceinline__ int bn_offset(int e, int c, int ch, int hw) {
  const int b = e / hw;
  return (b * c + ch) * hw + (e - b * hw);
}

template <class T>
__device__ __forceinline__ T sum4(const T* v) { return v[0] + v[1] + v[2] + v[3]; }

// Reads value (kVec: four values) e of channel ch into v.
template <class T, bool kVec>
__device__ __forceinline__ void bn_load(const T* x, int e, int c, int ch, int hw, T* v) {
  const int at = bn_offset(e, c, ch, hw);
  if constexpr (kVec) {
    const float4 q = reinterpret_cast<const float4*>(x)[at];
    v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
  } else {
    v[0] = x[at];
  }
}

// Stage 1 of the training forward: run `blockIdx.x` of channel blockIdx.y. partial holds
// [C][splits][3]: count, run mean, sum of squared deviations from the run mean.
template <class T, bool kVec>
__global__ void bn_stats_partial(int n, int c, int hw, int chunk, const T* x, T* partial) {
  __shared__ T scratch[kWarpSize];
  constexpr int kW = kVec ? 4 : 1;
  const int ch = blockIdx.y, split = blockIdx.x, splits = gridDim.x;
  const int units = n * hw;  // hw in quads when kVec
  const int begin = split * chunk, end = begin + chunk < units ? begin + chunk : units;
  T v[kW];
  T s = T(0);
  for (int e = begin + static_cast<int>(threadIdx.x); e < end; e += blockDim.x) {
    bn_load<T, kVec>(x, e, c, ch, hw, v);
    for (int j = 0; j < kW; ++j) s += v[j];
  }
  const T count = static_cast<T>((end - begin) * kW);
  const T mean = block_sum(s, scratch) / count;
  T s2 = T(0);
  for (int e = begin + static_cast<int>(threadIdx.x); e < end; e += blockDim.x) {
    bn_load<T, kVec>(x, e, c, ch, hw, v);
    for (int j = 0; j < kW; ++j) s2 += (v[j] - mean) * (v[j] - mean);
  }
  const T m2 = block_sum(s2, scratch);
  if (threadIdx.x == 0) {
    T* out = partial + (static_cast<int64_t>(ch) * splits + split) * 3;
    out[0] = count, out[1] = mean, out[2] = m2;
  }
}

// Stage 2 of the training forward: one thread per channel merges its runs in order and
// writes the statistics, the running statistics and coeff [C][2] = (scale, shift).
template <class T>
__global__ void bn_stats_finish(int c, int splits, T eps, T momentum, const T* partial, const T* gamma,
                                const T* beta, T* running_mean, T* running_var, T* save_mean, T* save_invstd,
                                T* coeff) {
  for (int ch : grid_stride(c)) {
    const T* p = partial + static_cast<int64_t>(ch) * splits * 3;
    T count = p[0], mean = p[1], m2 = p[2];
    for (int j = 1; j < splits; ++j) {
      const T nb = p[3 * j], mb = p[3 * j + 1], total = count + nb, delta = mb - mean;
      mean += delta * nb / total;
      m2 += p[3 * j + 2] + delta * delta * count * nb / total;
      count = total;
    }
    const T var = m2 / count, invstd = T(1) / dev_sqrt(var + eps);
    save_mean[ch] = mean;
    save_invstd[ch] = invstd;
    if (running_mean != nullptr) {
      running_mean[ch] = (T(1) - momentum) * running_mean[ch] + momentum * mean;
      running_var[ch] = (T(1) - momentum) * running_var[ch] + momentum * var * count / (count - T(1));
    }
    const T g = gamma != nullptr ? gamma[ch] : T(1), b = beta != nullptr ? beta[ch] : T(0);
    coeff[2 * ch] = g * invstd;
    coeff[2 * ch + 1] = b - mean * g * invstd;
  }
}

// Stage 3 of the training forward: y = act(x * scale + shift (+ residual)), element (kVec:
// quad) i of the whole tensor, hw in elements (quads).
template <class T, bool kVec>
__global__ void bn_apply(NormActivation act, int total, int c, int hw, const T* coeff, const T* x,
                         const T* residual, T* y) {
  for (int i : grid_stride(total)) {
    const int ch = (i / hw) % c;
    const T scale = coeff[2 * ch], shift = coeff[2 * ch + 1];
    if constexpr (kVec) {
      float4 v = reinterpret_cast<const float4*>(x)[i];
      float4 r;
      r.x = r.y = r.z = r.w = 0.0f;
      if (residual != nullptr) r = reinterpret_cast<const float4*>(residual)[i];
      v.x = activate(act, v.x * scale + shift + r.x);
      v.y = activate(act, v.y * scale + shift + r.y);
      v.z = activate(act, v.z * scale + shift + r.z);
      v.w = activate(act, v.w * scale + shift + r.w);
      reinterpret_cast<float4*>(y)[i] = v;
    } else {
      y[i] = activate(act, x[i] * scale + shift + (residual != nullptr ? residual[i] : T(0)));
    }
  }
}

// The gradient of the normalised value at one element (see bn_backward's grad_at).
template <class T>
__device__ __forceinline__ T bn_grad_at(NormActivation act, const T* fused_y, const T* gy, const T* x, int at,
                                        T scale, T shift) {
  return fused_y != nullptr ? (fused_y[at] > T(0) ? gy[at] : T(0))
                            : activation_grad(act, gy[at], x[at] * scale + shift);
}

// Stage 1 of the training backward: partial [C][splits][2] = (sum g, sum g * (x - mean)),
// and gresidual = g where asked. Scalar loads (the fused paths read up to four tensors).
template <class T>
__global__ void bn_backward_partial(NormActivation act, const T* fused_y, T* gresidual, int n, int c, int hw,
                                    int chunk, const T* x, const T* gy, const T* gamma, const T* beta,
                                    const T* save_mean, const T* save_invstd, T* partial) {
  __shared__ T scratch[kWarpSize];
  const int ch = blockIdx.y, split = blockIdx.x, splits = gridDim.x;
  const int units = n * hw;
  const int begin = split * chunk, end = begin + chunk < units ? begin + chunk : units;
  const T mean = save_mean[ch], invstd = save_invstd[ch];
  const T scale = (gamma != nullptr ? gamma[ch] : T(1)) * invstd;
  const T shift = (beta != nullptr ? beta[ch] : T(0)) - mean * scale;
  T a = T(0), b = T(0);
  for (int e = begin + static_cast<int>(threadIdx.x); e < end; e += blockDim.x) {
    const int at = bn_offset(e, c, ch, hw);
    const T g = bn_grad_at(act, fused_y, gy, x, at, scale, shift);
    if (gresidual != nullptr) gresidual[at] = g;
    a += g;
    b += g * (x[at] - mean);
  }
  a = block_sum(a, scratch);
  b = block_sum(b, scratch);
  if (threadIdx.x == 0) {
    T* out = partial + (static_cast<int64_t>(ch) * splits + split) * 2;
    out[0] = a, out[1] = b;
  }
}

// Stage 2 of the training backward: sums the runs in order; writes gbeta, ggamma and
// coeff [C][5] = (scale, shift, k, k2, k3) for gx = k * g + k2 * x + k3.
template <class T>
__global__ void bn_backward_finish(int c, int splits, T m, const T* partial, const T* gamma, const T* beta,
                                   const T* save_mean, const T* save_invstd, T* ggamma, T* gbeta, T* coeff) {
  for (int ch : grid_stride(c)) {
    const T* p = partial + static_cast<int64_t>(ch) * splits * 2;
    T sum_gy = T(0), sum_gy_xmu = T(0);
    for (int j = 0; j < splits; ++j) sum_gy += p[2 * j], sum_gy_xmu += p[2 * j + 1];
    const T mean = save_mean[ch], invstd = save_invstd[ch];
    const T sum_gy_xhat = sum_gy_xmu * invstd;
    if (gbeta != nullptr) gbeta[ch] = sum_gy;
    if (ggamma != nullptr) ggamma[ch] = sum_gy_xhat;
    const T k = (gamma != nullptr ? gamma[ch] : T(1)) * invstd;
    const T k2 = -k * invstd * sum_gy_xhat / m;
    T* out = coeff + 5 * ch;
    out[0] = k;
    out[1] = (beta != nullptr ? beta[ch] : T(0)) - mean * k;
    out[2] = k;
    out[3] = k2;
    out[4] = -k * sum_gy / m - k2 * mean;
  }
}

// Stage 3 of the training backward: gx per element.
template <class T>
__global__ void bn_backward_apply(NormActivation act, const T* fused_y, int total, int c, int hw, const T* coeff,
                                  const T* x, const T* gy, T* gx) {
  for (int i : grid_stride(total)) {
    const T* k = coeff + 5 * ((i / hw) % c);
    gx[i] = k[2] * bn_grad_at(act, fused_y, gy, x, i, k[0], k[1]) + k[3] * x[i] + k[4];
  }
}

bool aligned16(const void* p) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % 16 == 0; }

int channel_blocks(int64_t c) { return blocks_for(c, 1); }

}  // namespace

void batch_norm(const BatchNormParams& p) {
  GLIA_CHECK(p.n >= 0 && p.c > 0 && p.hw >= 0, "batch_norm: bad shape n=" << p.n << " c=" << p.c << " hw=" << p.hw);
  if (p.training) {
    GLIA_CHECK(p.n * p.hw > 1, "batch_norm: training needs more than one value per channel, got n=" << p.n
                                                                                                   << " hw=" << p.hw);
    GLIA_CHECK(p.save_mean && p.save_invstd, "batch_norm: training needs save_mean and save_invstd buffers");
    GLIA_CHECK((p.running_mean == nullptr) == (p.running_var == nullptr),
               "batch_norm: give both running_mean and running_var or neither");
  } else {
    GLIA_CHECK(p.running_mean && p.running_var, "batch_norm: eval mode needs running_mean and running_var");
  }
  GLIA_CHECK(p.eps > 0, "batch_norm: eps must be positive, got " << p.eps);
  GLIA_CHECK(p.momentum >= 0 && p.momentum <= 1, "batch_norm: momentum must be in [0, 1], got " << p.momentum);
  GLIA_CHECK(p.residual == nullptr || p.act == NormActivation::relu,
             "batch_norm: a fused residual needs act relu, got " << norm_activation_name(p.act));
  dispatch_floating(p.dtype, "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    const int64_t splits = p.training ? bn_splits(p.n, p.c, p.hw) : 1;
    if (splits > 1) {
      constexpr Device device = Device::GLIA_CUDA_NS;
      const int c = static_cast<int>(p.c), total = static_cast<int>(p.n * p.c * p.hw);
      const bool vec = std::is_same_v<T, float> && p.hw % 4 == 0 && aligned16(p.x) && aligned16(p.y) &&
                       aligned16(p.residual);
      const int hw = static_cast<int>(vec ? p.hw / 4 : p.hw), units = total / (vec ? 4 : 1);
      // Runs of kSplitChunk values: the same runs (and sums) whether or not float4 is used.
      const int chunk = static_cast<int>(vec ? kSplitChunk / 4 : kSplitChunk);
      const size_t bytes = static_cast<size_t>(p.c * (splits * 3 + 2)) * sizeof(T);
      T* work = static_cast<T*>(rt::alloc(device, bytes));
      T* partial = work;
      T* coeff = work + p.c * splits * 3;
      const dim3 grid(static_cast<unsigned>(splits), static_cast<unsigned>(p.c));
      const int n = static_cast<int>(p.n);
      // Kernels with two template arguments launch through a pointer (GLIA_LAUNCH is a macro).
      auto* bn_stats_partial_ = &bn_stats_partial<T, false>;
      auto* bn_apply_ = &bn_apply<T, false>;
      if constexpr (std::is_same_v<T, float>) {
        if (vec) bn_stats_partial_ = &bn_stats_partial<float, true>, bn_apply_ = &bn_apply<float, true>;
      }
      GLIA_LAUNCH(bn_stats_partial_, grid, kThreads, 0, n, c, hw, chunk, static_cast<const T*>(p.x), partial);
      GLIA_LAUNCH(bn_stats_finish<T>, blocks_for(p.c, kThreads), kThreads, 0, c, static_cast<int>(splits),
                  static_cast<T>(p.eps), static_cast<T>(p.momentum), static_cast<const T*>(partial),
                  static_cast<const T*>(p.gamma), static_cast<const T*>(p.beta), static_cast<T*>(p.running_mean),
                  static_cast<T*>(p.running_var), static_cast<T*>(p.save_mean), static_cast<T*>(p.save_invstd),
                  coeff);
      GLIA_LAUNCH(bn_apply_, blocks_for(units, kThreads), kThreads, 0, p.act, units, c, hw,
                  static_cast<const T*>(coeff), static_cast<const T*>(p.x), static_cast<const T*>(p.residual),
                  static_cast<T*>(p.y));
      rt::release(device, work, bytes);  // stream-ordered reuse: safe (cuda_runtime_wrappers.h)
    } else if (p.training) {
      GLIA_LAUNCH(bn_train_forward<T>, channel_blocks(p.c), reduce_threads(p.n * p.hw), 0, p.act,
                  static_cast<const T*>(p.residual), p.n, p.c, p.hw, static_cast<T>(p.eps),
                  static_cast<T>(p.momentum), static_cast<const T*>(p.x), static_cast<const T*>(p.gamma), static_cast<const T*>(p.beta), static_cast<T*>(p.y),
                  static_cast<T*>(p.running_mean), static_cast<T*>(p.running_var), static_cast<T*>(p.save_mean),
                  static_cast<T*>(p.save_invstd));
    } else {
      int64_t total = p.n * p.c * p.hw;
      if (total == 0) return;
      GLIA_LAUNCH(bn_eval_forward<T>, blocks_for(total, kThreads), kThreads, 0, p.act,
                  static_cast<const T*>(p.residual), total, p.c, p.hw,
                  static_cast<T>(p.eps), static_cast<const T*>(p.x), static_cast<const T*>(p.gamma),
                  static_cast<const T*>(p.beta), static_cast<const T*>(p.running_mean),
                  static_cast<const T*>(p.running_var), static_cast<T*>(p.y));
    }
  });
}

void batch_norm_backward(const BatchNormBackwardParams& p) {
  GLIA_CHECK(p.n >= 0 && p.c > 0 && p.hw >= 0,
             "batch_norm_backward: bad shape n=" << p.n << " c=" << p.c << " hw=" << p.hw);
  if (p.training)
    GLIA_CHECK(p.save_mean && p.save_invstd, "batch_norm_backward: training needs save_mean and save_invstd");
  else
    GLIA_CHECK(p.running_mean && p.running_var, "batch_norm_backward: eval mode needs running_mean and running_var");
  GLIA_CHECK(!p.fused_residual || (p.act == NormActivation::relu && p.y != nullptr),
             "batch_norm_backward: a fused residual needs act relu and the forward's output y");
  dispatch_floating(p.dtype, "batch_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    const void* mean = p.training ? p.save_mean : p.running_mean;
    const void* stat = p.training ? p.save_invstd : p.running_var;
    const int64_t splits = p.training ? bn_splits(p.n, p.c, p.hw) : 1;
    if (splits > 1) {
      constexpr Device device = Device::GLIA_CUDA_NS;
      const int n = static_cast<int>(p.n), c = static_cast<int>(p.c), hw = static_cast<int>(p.hw);
      const int total = static_cast<int>(p.n * p.c * p.hw);
      const size_t bytes = static_cast<size_t>(p.c * (splits * 2 + 5)) * sizeof(T);
      T* work = static_cast<T*>(rt::alloc(device, bytes));
      T* partial = work;
      T* coeff = work + p.c * splits * 2;
      const T* fused_y = static_cast<const T*>(p.fused_residual ? p.y : nullptr);
      const dim3 grid(static_cast<unsigned>(splits), static_cast<unsigned>(p.c));
      GLIA_LAUNCH(bn_backward_partial<T>, grid, kThreads, 0, p.act, fused_y, static_cast<T*>(p.gresidual), n, c, hw,
                  static_cast<int>(kSplitChunk), static_cast<const T*>(p.x), static_cast<const T*>(p.gy),
                  static_cast<const T*>(p.gamma), static_cast<const T*>(p.beta), static_cast<const T*>(mean),
                  static_cast<const T*>(stat), partial);
      GLIA_LAUNCH(bn_backward_finish<T>, blocks_for(p.c, kThreads), kThreads, 0, c, static_cast<int>(splits),
                  static_cast<T>(p.n * p.hw), static_cast<const T*>(partial), static_cast<const T*>(p.gamma),
                  static_cast<const T*>(p.beta), static_cast<const T*>(mean), static_cast<const T*>(stat),
                  static_cast<T*>(p.ggamma), static_cast<T*>(p.gbeta), coeff);
      if (p.gx != nullptr) {
        GLIA_LAUNCH(bn_backward_apply<T>, blocks_for(total, kThreads), kThreads, 0, p.act, fused_y, total, c, hw,
                    static_cast<const T*>(coeff), static_cast<const T*>(p.x), static_cast<const T*>(p.gy),
                    static_cast<T*>(p.gx));
      }
      rt::release(device, work, bytes);
      return;
    }
    GLIA_LAUNCH(bn_backward<T>, channel_blocks(p.c), reduce_threads(p.n * p.hw), 0, p.act,
                static_cast<const T*>(p.fused_residual ? p.y : nullptr), static_cast<T*>(p.gresidual), p.n, p.c, p.hw,
                p.training, static_cast<T>(p.eps), static_cast<const T*>(p.x), static_cast<const T*>(p.gy),
                static_cast<const T*>(p.gamma), static_cast<const T*>(p.beta), static_cast<const T*>(mean),
                static_cast<const T*>(stat),
                static_cast<T*>(p.gx), static_cast<T*>(p.ggamma), static_cast<T*>(p.gbeta));
  });
}

}  // namespace glia::kernels::GLIA_CUDA_NS
