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
// A fused activation (p.act) is applied as y is written, after adding the residual if
// one is given; the backward turns gy into the gradient of the normalised value by
// recomputing it from x (scale * x + shift), or with a residual from relu's mask y > 0,
// and writes that gradient to gresidual too.
// Accumulation is in the data type (float sums of up to N*HW values, tree-ordered).
//
// Cost: training forward ~8 FLOPs per element, bytes 3 reads + 1 write of x-sized data;
// backward ~8 FLOPs, 4 reads + 1 write (x and gy twice). Memory-bound: GB/s is the measure.
#include <cmath>

#include "kernels/batch_norm.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels.cuh"

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
  for (int64_t ch = blockIdx.x; ch < c; ch += gridDim.x) {
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
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
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
  for (int64_t ch = blockIdx.x; ch < c; ch += gridDim.x) {
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

int channel_blocks(int64_t c) { return static_cast<int>(c < 65535 ? c : 65535); }

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
    if (p.training) {
      GLIA_LAUNCH(bn_train_forward<T>, channel_blocks(p.c), reduce_threads(p.n * p.hw), 0, p.act,
                  static_cast<const T*>(p.residual), p.n, p.c, p.hw, static_cast<T>(p.eps),
                  static_cast<T>(p.momentum), static_cast<const T*>(p.x), static_cast<const T*>(p.gamma), static_cast<const T*>(p.beta), static_cast<T*>(p.y),
                  static_cast<T*>(p.running_mean), static_cast<T*>(p.running_var), static_cast<T*>(p.save_mean),
                  static_cast<T*>(p.save_invstd));
    } else {
      int64_t total = p.n * p.c * p.hw;
      if (total == 0) return;
      GLIA_LAUNCH(bn_eval_forward<T>, blocks_for(total, kThreads, 65535), kThreads, 0, p.act,
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
    GLIA_LAUNCH(bn_backward<T>, channel_blocks(p.c), reduce_threads(p.n * p.hw), 0, p.act,
                static_cast<const T*>(p.fused_residual ? p.y : nullptr), static_cast<T*>(p.gresidual), p.n, p.c, p.hw,
                p.training, static_cast<T>(p.eps), static_cast<const T*>(p.x), static_cast<const T*>(p.gy),
                static_cast<const T*>(p.gamma), static_cast<const T*>(p.beta), static_cast<const T*>(mean),
                static_cast<const T*>(stat),
                static_cast<T*>(p.gx), static_cast<T*>(p.ggamma), static_cast<T*>(p.gbeta));
  });
}

}  // namespace glia::kernels::GLIA_CUDA_NS
