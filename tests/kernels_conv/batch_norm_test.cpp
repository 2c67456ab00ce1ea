// batch_norm training/eval forward, running statistics and backward against double loops.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/batch_norm.h"
#include "kernels/error.h"
#include "tests/kernels_conv/util.h"

namespace glia::test {
namespace {

constexpr int64_t N = 3, C = 5, HW = 7 * 9;
constexpr double kEps = 1e-3, kMomentum = 0.3;

struct Ref {
  std::vector<double> y, mean, var_biased, var_unbiased;
};

Ref ref_train(const std::vector<double>& x, const std::vector<double>& g, const std::vector<double>& b) {
  Ref r;
  r.y.resize(x.size());
  const double M = N * HW;
  for (int64_t c = 0; c < C; ++c) {
    double s = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t j = 0; j < HW; ++j) s += x[(n * C + c) * HW + j];
    double mean = s / M, ss = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t j = 0; j < HW; ++j) ss += std::pow(x[(n * C + c) * HW + j] - mean, 2);
    r.mean.push_back(mean);
    r.var_biased.push_back(ss / M);
    r.var_unbiased.push_back(ss / (M - 1));
    for (int64_t n = 0; n < N; ++n)
      for (int64_t j = 0; j < HW; ++j) {
        size_t i = size_t((n * C + c) * HW + j);
        r.y[i] = (x[i] - mean) / std::sqrt(ss / M + kEps) * g[c] + b[c];
      }
  }
  return r;
}

// x with a large offset per channel, so naive E[x^2] - E[x]^2 in float would lose digits.
std::vector<double> make_x() {
  auto x = random_doubles(size_t(N * C * HW), 1, -2, 2);
  for (size_t i = 0; i < x.size(); ++i) x[i] += 10.0 * double((i / HW) % C) - 20.0;
  return x;
}

template <class T>
void check_training() {
  auto x = make_x(), g = random_doubles(C, 2, 0.5, 1.5), b = random_doubles(C, 3);
  auto rm0 = random_doubles(C, 4), rv0 = random_doubles(C, 5, 0.5, 2);
  Ref r = ref_train(x, g, b);
  auto xt = cast_to<T>(x), gt = cast_to<T>(g), bt = cast_to<T>(b), rm = cast_to<T>(rm0), rv = cast_to<T>(rv0);
  auto y = poisoned<T>(x.size()), sm = poisoned<T>(C), si = poisoned<T>(C);
  kernels::BatchNormParams p;
  p.dtype = dtype_v<T>, p.n = N, p.c = C, p.hw = HW, p.eps = kEps, p.momentum = kMomentum, p.training = true;
  p.x = xt.data(), p.gamma = gt.data(), p.beta = bt.data(), p.y = y.data();
  p.running_mean = rm.data(), p.running_var = rv.data(), p.save_mean = sm.data(), p.save_invstd = si.data();
  kernels::cpu::batch_norm(p);
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-11;
  EXPECT_TRUE(all_close(y, r.y, tol * 10, tol * 10)) << "y";
  std::vector<double> want_rm, want_rv, want_invstd;
  for (int64_t c = 0; c < C; ++c) {
    want_rm.push_back((1 - kMomentum) * rm0[c] + kMomentum * r.mean[c]);
    want_rv.push_back((1 - kMomentum) * rv0[c] + kMomentum * r.var_unbiased[c]);
    want_invstd.push_back(1 / std::sqrt(r.var_biased[c] + kEps));
  }
  EXPECT_TRUE(all_close(sm, r.mean, tol, tol)) << "saved mean";
  EXPECT_TRUE(all_close(si, want_invstd, tol, tol)) << "saved invstd";
  EXPECT_TRUE(all_close(rm, want_rm, tol, tol)) << "running mean";
  EXPECT_TRUE(all_close(rv, want_rv, tol, tol)) << "running var (unbiased)";

  // Backward by the textbook formula, written out per element.
  auto gy = random_doubles(x.size(), 6);
  auto gyt = cast_to<T>(gy);
  std::vector<double> want_gx(x.size()), want_gg(C, 0), want_gb(C, 0);
  for (int64_t c = 0; c < C; ++c) {
    double is = want_invstd[c], sg = 0, sgx = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t j = 0; j < HW; ++j) {
        size_t i = size_t((n * C + c) * HW + j);
        sg += gy[i];
        sgx += gy[i] * (x[i] - r.mean[c]) * is;
      }
    want_gb[c] = sg, want_gg[c] = sgx;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t j = 0; j < HW; ++j) {
        size_t i = size_t((n * C + c) * HW + j);
        double xhat = (x[i] - r.mean[c]) * is;
        want_gx[i] = g[c] * is * (gy[i] - sg / (N * HW) - xhat * sgx / (N * HW));
      }
  }
  auto gx = poisoned<T>(x.size()), gg = poisoned<T>(C), gb = poisoned<T>(C);
  kernels::BatchNormBackwardParams q;
  q.dtype = dtype_v<T>, q.n = N, q.c = C, q.hw = HW, q.training = true;
  q.x = xt.data(), q.gy = gyt.data(), q.gamma = gt.data(), q.save_mean = sm.data(), q.save_invstd = si.data();
  q.gx = gx.data(), q.ggamma = gg.data(), q.gbeta = gb.data();
  kernels::cpu::batch_norm_backward(q);
  EXPECT_TRUE(all_close(gx, want_gx, tol * 100, tol * 100)) << "gx";
  EXPECT_TRUE(all_close(gg, want_gg, tol * 100, tol * 100)) << "ggamma";
  EXPECT_TRUE(all_close(gb, want_gb, tol * 100, tol * 100)) << "gbeta";
}

TEST(BatchNorm, TrainingFloat32) { check_training<float>(); }
TEST(BatchNorm, TrainingFloat64) { check_training<double>(); }

TEST(BatchNorm, EvalUsesRunningStatistics) {
  auto x = make_x(), g = random_doubles(C, 2), b = random_doubles(C, 3);
  auto rm = random_doubles(C, 4), rv = random_doubles(C, 5, 0.5, 2), gy = random_doubles(x.size(), 6);
  std::vector<double> want(x.size()), want_gx(x.size()), want_gg(C, 0), want_gb(C, 0);
  for (size_t i = 0; i < x.size(); ++i) {
    size_t c = (i / HW) % C;
    double is = 1 / std::sqrt(rv[c] + kEps);
    want[i] = (x[i] - rm[c]) * is * g[c] + b[c];
    want_gx[i] = gy[i] * g[c] * is;
    want_gg[c] += gy[i] * (x[i] - rm[c]) * is;
    want_gb[c] += gy[i];
  }
  auto xt = cast_to<float>(x), gt = cast_to<float>(g), bt = cast_to<float>(b), rmt = cast_to<float>(rm),
       rvt = cast_to<float>(rv), gyt = cast_to<float>(gy);
  auto y = poisoned<float>(x.size());
  kernels::BatchNormParams p;
  p.n = N, p.c = C, p.hw = HW, p.eps = kEps, p.training = false;
  p.x = xt.data(), p.gamma = gt.data(), p.beta = bt.data(), p.y = y.data();
  p.running_mean = rmt.data(), p.running_var = rvt.data();
  kernels::cpu::batch_norm(p);
  EXPECT_TRUE(all_close(y, want, 1e-5, 1e-4));
  EXPECT_TRUE(all_close(rmt, rm, 0, 1e-7)) << "eval must not touch running stats";
  auto gx = poisoned<float>(x.size()), gg = poisoned<float>(C), gb = poisoned<float>(C);
  kernels::BatchNormBackwardParams q;
  q.n = N, q.c = C, q.hw = HW, q.eps = kEps, q.training = false;
  q.x = xt.data(), q.gy = gyt.data(), q.gamma = gt.data(), q.running_mean = rmt.data(), q.running_var = rvt.data();
  q.gx = gx.data(), q.ggamma = gg.data(), q.gbeta = gb.data();
  kernels::cpu::batch_norm_backward(q);
  EXPECT_TRUE(all_close(gx, want_gx, 1e-5, 1e-5));
  EXPECT_TRUE(all_close(gg, want_gg, 1e-4, 1e-3));
  EXPECT_TRUE(all_close(gb, want_gb, 1e-4, 1e-3));
}

TEST(BatchNorm, FiniteDifferencesTrainingAndEval) {
  auto x = random_doubles(size_t(N * C * HW), 1), g = random_doubles(C, 2, 0.5, 1.5), b = random_doubles(C, 3);
  auto rm = random_doubles(C, 4), rv = random_doubles(C, 5, 0.5, 2);
  std::vector<double> sm(C), si(C);
  for (auto act : {kernels::NormActivation::identity, kernels::NormActivation::silu})
  for (bool training : {true, false}) {
    SCOPED_TRACE(std::string(training ? "training " : "eval ") + kernels::norm_activation_name(act));
    auto forward = [&](const double* xp, const double* gp, const double* bp, double* y) {
      kernels::BatchNormParams p;
      p.dtype = DType::f64, p.n = N, p.c = C, p.hw = HW, p.eps = kEps, p.training = training, p.act = act;
      p.x = xp, p.gamma = gp, p.beta = bp, p.y = y, p.save_mean = sm.data(), p.save_invstd = si.data();
      if (!training) p.running_mean = rm.data(), p.running_var = rv.data();
      kernels::cpu::batch_norm(p);
    };
    std::vector<double> y(x.size());
    forward(x.data(), g.data(), b.data(), y.data());  // saves the statistics of x
    auto backward = [&](const double* u, double* gx, double* gg, double* gb) {
      kernels::BatchNormBackwardParams q;
      q.dtype = DType::f64, q.n = N, q.c = C, q.hw = HW, q.eps = kEps, q.training = training, q.act = act;
      q.x = x.data(), q.gy = u, q.gamma = g.data(), q.beta = b.data(), q.save_mean = sm.data(), q.save_invstd = si.data();
      q.running_mean = rm.data(), q.running_var = rv.data(), q.gx = gx, q.ggamma = gg, q.gbeta = gb;
      kernels::cpu::batch_norm_backward(q);
    };
    auto saved_m = sm, saved_i = si;
    auto restore = [&] { sm = saved_m, si = saved_i; };
    EXPECT_TRUE(check_gradient([&](const double* in, double* out) { forward(in, g.data(), b.data(), out); }, x,
                               x.size(), [&](const double* u, double* gx) { restore(); backward(u, gx, nullptr, nullptr); },
                               31, 1e-5, 1e-6, 1e-7))
        << "d/dx";
    EXPECT_TRUE(check_gradient([&](const double* in, double* out) { forward(x.data(), in, b.data(), out); }, g,
                               x.size(), [&](const double* u, double* gg) { restore(); backward(u, nullptr, gg, nullptr); },
                               32, 1e-5, 1e-6, 1e-7))
        << "d/dgamma";
    EXPECT_TRUE(check_gradient([&](const double* in, double* out) { forward(x.data(), g.data(), in, out); }, b,
                               x.size(), [&](const double* u, double* gb) { restore(); backward(u, nullptr, nullptr, gb); },
                               33, 1e-5, 1e-6, 1e-7))
        << "d/dbeta";
  }
}

// act(batch_norm(x)) in one kernel against the unfused kernel followed by the activation
// in double, forward and backward (the backward from d/d act(y), recomputing y from x),
// also with gx skipped (ggamma / gbeta only: the kernel then needs its own scratch).
// with_residual: relu(bn(x) + r), whose backward reads the mask from y and also returns
// r's gradient.
template <class T>
void check_fused(kernels::NormActivation act, bool training, bool with_residual = false) {
  SCOPED_TRACE(std::string(kernels::norm_activation_name(act)) + (training ? " training" : " eval") +
               (with_residual ? " + residual" : ""));
  auto x = random_doubles(size_t(N * C * HW), 11), g = random_doubles(C, 12, 0.5, 1.5), b = random_doubles(C, 13);
  auto rm = random_doubles(C, 14), rv = random_doubles(C, 15, 0.5, 2), gz = random_doubles(x.size(), 16);
  auto res = random_doubles(x.size(), 17);
  std::vector<double> pre(x.size()), sm(C), si(C);
  kernels::BatchNormParams f;
  f.dtype = DType::f64, f.n = N, f.c = C, f.hw = HW, f.eps = kEps, f.momentum = kMomentum, f.training = training;
  f.x = x.data(), f.gamma = g.data(), f.beta = b.data(), f.y = pre.data(), f.save_mean = sm.data(),
  f.save_invstd = si.data();
  auto rm_ref = rm, rv_ref = rv;
  f.running_mean = rm_ref.data(), f.running_var = rv_ref.data();
  kernels::cpu::batch_norm(f);
  std::vector<double> y_ref(x.size()), g_pre(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = pre[i] + (with_residual ? res[i] : 0.0), s = 1 / (1 + std::exp(-v));
    y_ref[i] = act == kernels::NormActivation::relu ? std::max(v, 0.0) : v * s;
    g_pre[i] = gz[i] * (act == kernels::NormActivation::relu ? (v > 0 ? 1.0 : 0.0) : s * (1 + v * (1 - s)));
  }
  std::vector<double> gx_ref(x.size()), gg_ref(C), gb_ref(C);
  kernels::BatchNormBackwardParams q;
  q.dtype = DType::f64, q.n = N, q.c = C, q.hw = HW, q.eps = kEps, q.training = training;
  q.x = x.data(), q.gy = g_pre.data(), q.gamma = g.data(), q.save_mean = sm.data(), q.save_invstd = si.data();
  q.running_mean = rm.data(), q.running_var = rv.data(), q.gx = gx_ref.data(), q.ggamma = gg_ref.data(),
  q.gbeta = gb_ref.data();
  kernels::cpu::batch_norm_backward(q);

  auto xt = cast_to<T>(x), gt = cast_to<T>(g), bt = cast_to<T>(b), gzt = cast_to<T>(gz);
  auto rmt = cast_to<T>(rm), rvt = cast_to<T>(rv);
  auto y = poisoned<T>(x.size()), smt = poisoned<T>(C), sit = poisoned<T>(C);
  kernels::BatchNormParams ft;
  ft.dtype = dtype_v<T>, ft.n = N, ft.c = C, ft.hw = HW, ft.eps = kEps, ft.momentum = kMomentum;
  ft.training = training, ft.act = act, ft.x = xt.data(), ft.gamma = gt.data(), ft.beta = bt.data(), ft.y = y.data();
  ft.save_mean = smt.data(), ft.save_invstd = sit.data();
  auto rest = cast_to<T>(res);
  if (with_residual) ft.residual = rest.data();
  auto rm_run = rmt, rv_run = rvt;
  ft.running_mean = rm_run.data(), ft.running_var = rv_run.data();
  kernels::cpu::batch_norm(ft);
  EXPECT_TRUE(all_close(y, y_ref, rtol_for<T>(), atol_for<T>())) << "y";

  auto gx = poisoned<T>(x.size()), gg = poisoned<T>(C), gb = poisoned<T>(C);
  kernels::BatchNormBackwardParams qt;
  qt.dtype = dtype_v<T>, qt.n = N, qt.c = C, qt.hw = HW, qt.eps = kEps, qt.training = training, qt.act = act;
  qt.x = xt.data(), qt.gy = gzt.data(), qt.gamma = gt.data(), qt.beta = bt.data(), qt.save_mean = smt.data();
  qt.save_invstd = sit.data(), qt.running_mean = rmt.data(), qt.running_var = rvt.data();
  qt.gx = gx.data(), qt.ggamma = gg.data(), qt.gbeta = gb.data();
  auto gres = poisoned<T>(x.size());
  if (with_residual) qt.fused_residual = true, qt.y = y.data(), qt.gresidual = gres.data();
  kernels::cpu::batch_norm_backward(qt);
  if (with_residual) {
    EXPECT_TRUE(all_close(gres, g_pre, rtol_for<T>(), atol_for<T>())) << "gresidual";
  }
  const double count = double(N * HW);  // sums of that many O(1) terms
  EXPECT_TRUE(all_close(gx, gx_ref, rtol_for<T>(), atol_for<T>())) << "gx";
  EXPECT_TRUE(all_close(gg, gg_ref, rtol_for<T>(), atol_for<T>() * count)) << "ggamma";
  EXPECT_TRUE(all_close(gb, gb_ref, rtol_for<T>(), atol_for<T>() * count)) << "gbeta";

  auto gg_only = poisoned<T>(C), gb_only = poisoned<T>(C);
  qt.gx = nullptr, qt.ggamma = gg_only.data(), qt.gbeta = gb_only.data(), qt.gresidual = nullptr;
  kernels::cpu::batch_norm_backward(qt);
  EXPECT_TRUE(all_close(gg_only, gg_ref, rtol_for<T>(), atol_for<T>() * count)) << "ggamma without gx";
  EXPECT_TRUE(all_close(gb_only, gb_ref, rtol_for<T>(), atol_for<T>() * count)) << "gbeta without gx";
}

TEST(BatchNorm, FusedActivationMatchesNormThenActivation) {
  for (auto act : {kernels::NormActivation::relu, kernels::NormActivation::silu})
    for (bool training : {true, false}) {
      check_fused<float>(act, training);
      check_fused<double>(act, training);
    }
  for (bool training : {true, false}) {
    check_fused<float>(kernels::NormActivation::relu, training, true);
    check_fused<double>(kernels::NormActivation::relu, training, true);
  }
}

TEST(BatchNorm, FusedResidualNeedsReluAndTheOutput) {
  std::vector<float> buf(64, 1.f);
  kernels::BatchNormParams p;
  p.n = 2, p.c = 2, p.hw = 4, p.x = buf.data(), p.y = buf.data(), p.save_mean = buf.data(),
  p.save_invstd = buf.data(), p.residual = buf.data(), p.act = kernels::NormActivation::silu;
  EXPECT_THAT([&] { kernels::cpu::batch_norm(p); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("a fused residual needs act relu, got silu")));
  kernels::BatchNormBackwardParams q;
  q.n = 2, q.c = 2, q.hw = 4, q.x = buf.data(), q.gy = buf.data(), q.save_mean = buf.data(),
  q.save_invstd = buf.data(), q.fused_residual = true, q.act = kernels::NormActivation::relu;
  EXPECT_THAT([&] { kernels::cpu::batch_norm_backward(q); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("needs the forward's output y")));
}

TEST(BatchNorm, BadParametersAreNamedErrors) {
  std::vector<float> buf(64, 1.f);
  kernels::BatchNormParams p;
  p.n = 1, p.c = 2, p.hw = 1, p.x = buf.data(), p.y = buf.data(), p.save_mean = buf.data(),
  p.save_invstd = buf.data();
  EXPECT_THAT([&] { kernels::cpu::batch_norm(p); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("batch_norm: training needs more than one value")));
  p.hw = 4, p.training = false;
  EXPECT_THAT([&] { kernels::cpu::batch_norm(p); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("eval mode needs running_mean")));
  p.training = true, p.eps = -1;
  EXPECT_THAT([&] { kernels::cpu::batch_norm(p); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("eps must be positive")));
}

}  // namespace
}  // namespace glia::test
