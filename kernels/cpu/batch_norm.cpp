// CPU batch norm: one channel per OpenMP task. Statistics in a single pass over the data
// with sums shifted by the channel's first element and accumulated in double, so there is
// no cancellation when |mean| >> std and the data is read once.
#include "kernels/batch_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/vec_math.h"
#include "kernels/error.h"

namespace glia::kernels::cpu {
namespace {

void check_sizes(int64_t n, int64_t c, int64_t hw, const char* op) {
  GLIA_CHECK(n >= 0 && c > 0 && hw >= 0, op << ": bad shape n=" << n << " c=" << c << " hw=" << hw);
}

void check_residual(bool residual, NormActivation act, const char* op) {
  GLIA_CHECK(!residual || act == NormActivation::relu,
             op << ": a fused residual needs act relu, got " << norm_activation_name(act));
}

// The fused activation, in place on a row just written (still in cache).
template <class T>
void activate_row(NormActivation act, T* y, int64_t n) {
  if (act == NormActivation::relu) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) y[j] = y[j] > T(0) ? y[j] : T(0);
  } else if (act == NormActivation::silu) {
    if constexpr (std::is_same_v<T, float>) {
      silu_array_f32(y, y, n);
    } else {
      for (int64_t j = 0; j < n; ++j) y[j] = y[j] / (T(1) + std::exp(-y[j]));
    }
  }
}

// g_pre = gz * act'(x * scale + offset): the gradient reaching the normalised value.
template <class T>
void activation_grad_row(NormActivation act, const T* x, const T* gz, T scale, T offset, T* g_pre, int64_t n) {
  if (act == NormActivation::relu) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) g_pre[j] = x[j] * scale + offset > T(0) ? gz[j] : T(0);
  } else if constexpr (std::is_same_v<T, float>) {
    silu_backward_affine_f32(x, gz, scale, offset, g_pre, n);
  } else {
    for (int64_t j = 0; j < n; ++j) {
      const T pre = x[j] * scale + offset, s = T(1) / (T(1) + std::exp(-pre));
      g_pre[j] = gz[j] * s * (T(1) + pre * (T(1) - s));
    }
  }
}

template <class T>
void forward_typed(const BatchNormParams& p) {
  const T* x = static_cast<const T*>(p.x);
  const T* gamma = static_cast<const T*>(p.gamma);
  const T* beta = static_cast<const T*>(p.beta);
  const T* res = static_cast<const T*>(p.residual);
  T* y = static_cast<T*>(p.y);
  T* rm = static_cast<T*>(p.running_mean);
  T* rv = static_cast<T*>(p.running_var);
  T* sm = static_cast<T*>(p.save_mean);
  T* si = static_cast<T*>(p.save_invstd);
  const int64_t N = p.n, C = p.c, HW = p.hw, M = N * HW;
#pragma omp parallel for schedule(static) if (N * C * HW > kParallelMin)
  for (int64_t c = 0; c < C; ++c) {
    double mean, invstd;
    if (p.training) {
      const double shift = x[c * HW];
      double s1 = 0, s2 = 0;
      for (int64_t n = 0; n < N; ++n) {
        const T* row = x + (n * C + c) * HW;
        double a1 = 0, a2 = 0;
#pragma omp simd reduction(+ : a1, a2)
        for (int64_t j = 0; j < HW; ++j) {
          double d = double(row[j]) - shift;
          a1 += d;
          a2 += d * d;
        }
        s1 += a1;
        s2 += a2;
      }
      const double dm = s1 / double(M);
      const double var = std::max(s2 / double(M) - dm * dm, 0.0);
      mean = shift + dm;
      invstd = 1.0 / std::sqrt(var + p.eps);
      sm[c] = T(mean);
      si[c] = T(invstd);
      if (rm) rm[c] = T((1 - p.momentum) * double(rm[c]) + p.momentum * mean);
      if (rv) rv[c] = T((1 - p.momentum) * double(rv[c]) + p.momentum * var * double(M) / double(M - 1));
    } else {
      mean = double(rm[c]);
      invstd = 1.0 / std::sqrt(double(rv[c]) + p.eps);
    }
    // y = x * scale + shift_out, folded per channel.
    const double g = gamma ? double(gamma[c]) : 1.0, b = beta ? double(beta[c]) : 0.0;
    const T scale = T(g * invstd), offset = T(b - mean * g * invstd);
    for (int64_t n = 0; n < N; ++n) {
      const T* row = x + (n * C + c) * HW;
      T* out = y + (n * C + c) * HW;
      if (res) {
        const T* r = res + (n * C + c) * HW;
#pragma omp simd
        for (int64_t j = 0; j < HW; ++j) out[j] = row[j] * scale + offset + r[j];
      } else {
#pragma omp simd
        for (int64_t j = 0; j < HW; ++j) out[j] = row[j] * scale + offset;
      }
      activate_row(p.act, out, HW);
    }
  }
}

template <class T>
void backward_typed(const BatchNormBackwardParams& p) {
  const T* x = static_cast<const T*>(p.x);
  const T* gy = static_cast<const T*>(p.gy);
  const T* gamma = static_cast<const T*>(p.gamma);
  const T* beta = static_cast<const T*>(p.beta);
  const bool fused = p.act != NormActivation::identity;
  T* gx = static_cast<T*>(p.gx);
  T* gg = static_cast<T*>(p.ggamma);
  T* gb = static_cast<T*>(p.gbeta);
  const int64_t N = p.n, C = p.c, HW = p.hw, M = N * HW;
#pragma omp parallel for schedule(static) if (N * C * HW > kParallelMin)
  for (int64_t c = 0; c < C; ++c) {
    double mean, invstd;
    if (p.training) {
      mean = double(static_cast<const T*>(p.save_mean)[c]);
      invstd = double(static_cast<const T*>(p.save_invstd)[c]);
    } else {
      mean = double(static_cast<const T*>(p.running_mean)[c]);
      invstd = 1.0 / std::sqrt(double(static_cast<const T*>(p.running_var)[c]) + p.eps);
    }
    const double g = gamma ? double(gamma[c]) : 1.0;
    // With a fused activation, gy is d/d act(y): the gradient reaching y is computed per
    // row into gx (which pass 2 then overwrites in place) or into scratch.
    const T act_scale = T(g * invstd), act_offset = T((beta ? double(beta[c]) : 0.0) - mean * g * invstd);
    std::vector<T> scratch(fused && !gx ? size_t(HW) : 0);
    auto grad_row = [&](int64_t n) -> const T* {
      const int64_t at = (n * C + c) * HW;
      const T* gr = gy + at;
      if (!fused) return gr;
      T* g_pre = gx ? gx + at : scratch.data();
      if (p.fused_residual) {  // relu(bn(x) + r): the mask is y > 0, and r's gradient is g_pre
        const T* yr = static_cast<const T*>(p.y) + at;
#pragma omp simd
        for (int64_t j = 0; j < HW; ++j) g_pre[j] = yr[j] > T(0) ? gr[j] : T(0);
        if (p.gresidual) std::copy(g_pre, g_pre + HW, static_cast<T*>(p.gresidual) + at);
      } else {
        activation_grad_row(p.act, x + at, gr, act_scale, act_offset, g_pre, HW);
      }
      return g_pre;
    };
    // sum_gy = dbeta, sum_gy_xhat = dgamma
    double sum_gy = 0, sum_gy_xc = 0;
    for (int64_t n = 0; n < N; ++n) {
      const T* xr = x + (n * C + c) * HW;
      const T* gr = grad_row(n);
      double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
      for (int64_t j = 0; j < HW; ++j) {
        a += double(gr[j]);
        b += double(gr[j]) * (double(xr[j]) - mean);
      }
      sum_gy += a;
      sum_gy_xc += b;
    }
    const double sum_gy_xhat = sum_gy_xc * invstd;
    if (gb) gb[c] = T(sum_gy);
    if (gg) gg[c] = T(sum_gy_xhat);
    if (!gx) continue;
    // training: gx = g * invstd * (gy - mean(gy) - xhat * mean(gy * xhat))
    //         = k * gy + k2 * x + k3 with the per-channel constants below.
    const double k = g * invstd;
    double k2 = 0, k3 = 0;
    if (p.training && M > 0) {
      k2 = -k * invstd * sum_gy_xhat / double(M);
      k3 = -k * sum_gy / double(M) - k2 * mean;
    }
    const T kt = T(k), k2t = T(k2), k3t = T(k3);
    for (int64_t n = 0; n < N; ++n) {
      const T* xr = x + (n * C + c) * HW;
      T* out = gx + (n * C + c) * HW;
      const T* gr = fused ? out : gy + (n * C + c) * HW;  // in place over the fused pass's g_pre
#pragma omp simd
      for (int64_t j = 0; j < HW; ++j) out[j] = kt * gr[j] + k2t * xr[j] + k3t;
    }
  }
}

}  // namespace

void batch_norm(const BatchNormParams& p) {
  check_sizes(p.n, p.c, p.hw, "batch_norm");
  if (p.training) {
    GLIA_CHECK(p.n * p.hw > 1, "batch_norm: training needs more than one value per channel, got n="
                                   << p.n << " hw=" << p.hw);
    GLIA_CHECK(p.save_mean && p.save_invstd, "batch_norm: training needs save_mean and save_invstd buffers");
    GLIA_CHECK((p.running_mean == nullptr) == (p.running_var == nullptr),
               "batch_norm: give both running_mean and running_var or neither");
  } else {
    GLIA_CHECK(p.running_mean && p.running_var, "batch_norm: eval mode needs running_mean and running_var");
  }
  GLIA_CHECK(p.eps > 0, "batch_norm: eps must be positive, got " << p.eps);
  GLIA_CHECK(p.momentum >= 0 && p.momentum <= 1, "batch_norm: momentum must be in [0, 1], got " << p.momentum);
  check_residual(p.residual != nullptr, p.act, "batch_norm");
  dispatch_float(p.dtype, "batch_norm", [&](auto tag) { forward_typed<typename decltype(tag)::type>(p); });
}

void batch_norm_backward(const BatchNormBackwardParams& p) {
  check_sizes(p.n, p.c, p.hw, "batch_norm_backward");
  GLIA_CHECK(p.gx == nullptr || p.gx != p.gy, "batch_norm_backward: gx must not alias gy");
  check_residual(p.fused_residual, p.act, "batch_norm_backward");
  GLIA_CHECK(!p.fused_residual || p.y, "batch_norm_backward: a fused residual needs the forward's output y");
  if (p.training)
    GLIA_CHECK(p.save_mean && p.save_invstd, "batch_norm_backward: training needs save_mean and save_invstd");
  else
    GLIA_CHECK(p.running_mean && p.running_var, "batch_norm_backward: eval mode needs running_mean and running_var");
  dispatch_float(p.dtype, "batch_norm_backward", [&](auto tag) { backward_typed<typename decltype(tag)::type>(p); });
}

}  // namespace glia::kernels::cpu
