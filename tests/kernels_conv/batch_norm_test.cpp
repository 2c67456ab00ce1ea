// batch_norm on cpu beyond the cross-backend harness (tests/kernels_ops/batch_norm_ops_test.cpp
// checks every backend against the float64 reference: training and eval, running
// statistics, fused activations and residual, backward with and without gx): finite
// differences of the backward, error messages.
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
constexpr double kEps = 1e-3;

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
