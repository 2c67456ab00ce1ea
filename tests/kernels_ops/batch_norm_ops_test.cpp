// Batch norm (kernels/batch_norm.h) on every backend against a double reference written
// from the formulas: training forward (y, saved mean / invstd, running statistics with the
// unbiased variance), eval forward, the fused activations and residual, and the backward
// in every mode (also without gx), over the cases of cases.h. The backward runs from the
// backend's own saved statistics, as training does.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/batch_norm.h"
#include "tests/kernels_ops/harness.h"

namespace glia::test::ops {
namespace {

using kernels::NormActivation;

class BatchNormOps : public OpTest {};

struct Inputs {
  std::vector<double> x, gy, gamma, beta, running_mean, running_var, residual;
};

struct Expected {
  std::vector<double> y, save_mean, save_invstd, running_mean, running_var, gx, ggamma, gbeta, gresidual;
};

double act_of(NormActivation a, double z) {
  if (a == NormActivation::relu) return z > 0 ? z : 0;
  if (a == NormActivation::silu) return z / (1 + std::exp(-z));
  return z;
}
double act_grad(NormActivation a, double z) {
  if (a == NormActivation::relu) return z > 0 ? 1 : 0;
  if (a == NormActivation::silu) {
    const double s = 1 / (1 + std::exp(-z));
    return s * (1 + z * (1 - s));
  }
  return 1;
}

constexpr double kEps = 1e-3, kMomentum = 0.3;

Expected reference(const BatchNormCase& c, const Inputs& in) {
  const int64_t hw = c.hw, count = c.n * c.hw;
  const size_t total = size_t(c.n * c.c * hw);
  Expected e;
  e.y.resize(total), e.gx.resize(total), e.gresidual.resize(c.residual ? total : 0);
  e.running_mean = in.running_mean, e.running_var = in.running_var;
  for (int64_t ch = 0; ch < c.c; ++ch) {
    auto at = [&](int64_t b, int64_t i) { return size_t((b * c.c + ch) * hw + i); };
    double mean, invstd;
    if (c.training) {
      double sum = 0, sq = 0;
      for (int64_t b = 0; b < c.n; ++b)
        for (int64_t i = 0; i < hw; ++i) sum += in.x[at(b, i)];
      mean = sum / double(count);
      for (int64_t b = 0; b < c.n; ++b)
        for (int64_t i = 0; i < hw; ++i) sq += (in.x[at(b, i)] - mean) * (in.x[at(b, i)] - mean);
      const double var = sq / double(count);
      invstd = 1 / std::sqrt(var + kEps);
      e.save_mean.push_back(mean), e.save_invstd.push_back(invstd);
      e.running_mean[size_t(ch)] = (1 - kMomentum) * in.running_mean[size_t(ch)] + kMomentum * mean;
      e.running_var[size_t(ch)] =
          (1 - kMomentum) * in.running_var[size_t(ch)] + kMomentum * var * double(count) / double(count - 1);
    } else {
      mean = in.running_mean[size_t(ch)];
      invstd = 1 / std::sqrt(in.running_var[size_t(ch)] + kEps);
    }
    const double g = c.affine ? in.gamma[size_t(ch)] : 1.0, bt = c.affine ? in.beta[size_t(ch)] : 0.0;
    double sum_gz = 0, sum_gz_xhat = 0;
    std::vector<double> gz(static_cast<size_t>(count)), xhat(static_cast<size_t>(count));
    for (int64_t b = 0; b < c.n; ++b)
      for (int64_t i = 0; i < hw; ++i) {
        const size_t k = size_t(b * hw + i);
        xhat[k] = (in.x[at(b, i)] - mean) * invstd;
        const double z = g * xhat[k] + bt + (c.residual ? in.residual[at(b, i)] : 0.0);
        e.y[at(b, i)] = act_of(c.act, z);
        gz[k] = in.gy[at(b, i)] * act_grad(c.act, z);
        if (c.residual) e.gresidual[at(b, i)] = gz[k];
        sum_gz += gz[k], sum_gz_xhat += gz[k] * xhat[k];
      }
    e.gbeta.push_back(sum_gz), e.ggamma.push_back(sum_gz_xhat);
    for (int64_t b = 0; b < c.n; ++b)
      for (int64_t i = 0; i < hw; ++i) {
        const size_t k = size_t(b * hw + i);
        e.gx[at(b, i)] = c.training ? g * invstd / double(count) * (double(count) * gz[k] - sum_gz - xhat[k] * sum_gz_xhat)
                                    : g * invstd * gz[k];
      }
  }
  return e;
}

template <class T>
void check(Backend backend, const BatchNormCase& c) {
  const size_t total = size_t(c.n * c.c * c.hw), nc = size_t(c.c);
  std::vector<T> x = random_vector<T>(total, 31);
  for (T& v : x) v += T(c.offset);
  const std::vector<T> gy = random_vector<T>(total, 32), gamma = random_vector<T>(nc, 33), beta = random_vector<T>(nc, 34);
  const std::vector<T> rm = random_vector<T>(nc, 35), rv = random_vector<T>(nc, 36, 0.5, 2.0), res = random_vector<T>(total, 37);
  const Inputs in{cast_vector<double>(x),  cast_vector<double>(gy), cast_vector<double>(gamma), cast_vector<double>(beta),
                  cast_vector<double>(rm), cast_vector<double>(rv), cast_vector<double>(res)};
  const Expected e = reference(c, in);

  DeviceBuffer<T> dx(backend, x), dgy(backend, gy), dg(backend, gamma), dbeta(backend, beta), dres(backend, res);
  DeviceBuffer<T> drm(backend, rm), drv(backend, rv), dy(backend, total), dsm(backend, nc), dsi(backend, nc);
  DeviceBuffer<T> dgx(backend, total), dgg(backend, nc), dgb(backend, nc), dgres(backend, total);
  kernels::BatchNormParams f;
  f.dtype = dtype_of<T>::value, f.n = c.n, f.c = c.c, f.hw = c.hw, f.eps = kEps, f.momentum = kMomentum;
  f.training = c.training, f.act = c.act, f.residual = c.residual ? dres.data() : nullptr;
  f.x = dx.data(), f.gamma = c.affine ? dg.data() : nullptr, f.beta = c.affine ? dbeta.data() : nullptr;
  f.y = dy.data(), f.running_mean = drm.data(), f.running_var = drv.data();
  f.save_mean = dsm.data(), f.save_invstd = dsi.data();
  const std::string name = what<T>(c.name, backend);
  const double scale = std::max(1.0, std::fabs(c.offset));
  if (OpTest::runs_on(kernels::batch_norm_kernel, backend)) {
    kernels::batch_norm_kernel.get(backend)(f);
    // y: O(1) values from a few roundings of the statistics, and x - mean loses the
    // digits of the offset: absolute error relative to it.
    EXPECT_TRUE(close_rel(dy.download(), e.y, scale, 512)) << name << " y";
    if (c.training) {
      EXPECT_TRUE(close_rel(dsm.download(), e.save_mean, 1.0, 512)) << name << " save_mean";
      EXPECT_TRUE(close_rel(dsi.download(), e.save_invstd, 0.0, 512)) << name << " save_invstd";
    }
    EXPECT_TRUE(close_rel(drm.download(), e.running_mean, 1.0, 512)) << name << " running_mean";
    EXPECT_TRUE(close_rel(drv.download(), e.running_var, 0.0, 512)) << name << " running_var";
  } else {  // the backward below reads y and the saved statistics: give it the reference's
    dy.upload(cast_vector<T>(e.y));
    if (c.training) dsm.upload(cast_vector<T>(e.save_mean)), dsi.upload(cast_vector<T>(e.save_invstd));
  }
  if (!OpTest::runs_on(kernels::batch_norm_backward_kernel, backend)) return;
  drm.upload(rm), drv.upload(rv);  // eval's backward reads the statistics the forward read
  kernels::BatchNormBackwardParams b;
  b.dtype = f.dtype, b.n = c.n, b.c = c.c, b.hw = c.hw, b.eps = kEps, b.training = c.training, b.act = c.act;
  b.fused_residual = c.residual, b.y = dy.data(), b.gresidual = c.residual ? dgres.data() : nullptr;
  b.x = dx.data(), b.gy = dgy.data(), b.gamma = f.gamma, b.beta = f.beta;
  b.save_mean = dsm.data(), b.save_invstd = dsi.data(), b.running_mean = drm.data(), b.running_var = drv.data();
  b.gx = dgx.data(), b.ggamma = dgg.data(), b.gbeta = dgb.data();
  kernels::batch_norm_backward_kernel.get(backend)(b);
  // gx subtracts per-channel sums from each term: absolute error; ggamma and gbeta are sums
  // over n*hw values of O(1), so error relative to that count.
  const double count = double(c.n * c.hw);
  EXPECT_TRUE(close_rel(dgx.download(), e.gx, scale, 4096)) << name << " gx";
  EXPECT_TRUE(close_rel(dgg.download(), e.ggamma, count, 512)) << name << " ggamma";
  EXPECT_TRUE(close_rel(dgb.download(), e.gbeta, count, 512)) << name << " gbeta";
  if (c.residual) {
    EXPECT_TRUE(close_rel(dgres.download(), e.gresidual, 1.0, 64)) << name << " gresidual";
  }
  // Without gx (a frozen input, or the first layer) the kernel computes the per-channel
  // sums alone, in its own scratch.
  dgg.upload(poisoned<T>(nc)), dgb.upload(poisoned<T>(nc));
  b.gx = nullptr, b.gresidual = nullptr;
  kernels::batch_norm_backward_kernel.get(backend)(b);
  EXPECT_TRUE(close_rel(dgg.download(), e.ggamma, count, 512)) << name << " ggamma without gx";
  EXPECT_TRUE(close_rel(dgb.download(), e.gbeta, count, 512)) << name << " gbeta without gx";
}

TEST_P(BatchNormOps, EveryCaseForwardAndBackward) {
  for (const BatchNormCase& c : kBatchNormCases) for_float_types([&](auto t) { check<decltype(t)>(backend(), c); });
}

TEST_P(BatchNormOps, TrainingNeedsTwoValuesPerChannel) {
  DeviceBuffer<float> d(backend(), std::vector<float>(4, 1.0f));
  if (!runs(kernels::batch_norm_kernel)) GTEST_SKIP() << "no library variant";
  kernels::BatchNormParams f;
  f.n = 1, f.c = 2, f.hw = 1, f.x = d.data(), f.y = d.data(), f.save_mean = d.data(), f.save_invstd = d.data();
  EXPECT_THROW(kernels::batch_norm_kernel.get(backend())(f), Error);
}

INSTANTIATE_TEST_SUITE_P(Backends, BatchNormOps, ::testing::ValuesIn(harness_backends(/*with_library=*/true)),
                         backend_param_name);

}  // namespace
}  // namespace glia::test::ops
