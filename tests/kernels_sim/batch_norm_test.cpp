// Hand-written batch norm (kernels/cuda/batch_norm.cu) on sim, and on cuda and cuDNN when a
// GPU is present, against the CPU kernel run in float64 on the same data: training forward
// (y, saved mean / invstd, running statistics with the unbiased variance), eval forward,
// and the backward in both modes; odd sizes, channels not a multiple of 4, batch 3, data
// with |mean| >> std (cancellation check), with and without gamma/beta.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/batch_norm.h"
#include "tests/kernels_sim/backends.h"
#include "tests/support/random_data.h"

namespace glia::test {
namespace {

class BatchNormSim : public KernelTest {
 protected:
  void SetUp() override {
    KernelTest::SetUp();
    if (!kernels::batch_norm_kernel.has(GetParam()))
      GTEST_SKIP() << "no batch_norm kernel on " << backend_name(GetParam());
  }
};

void check(Backend backend, int64_t n, int64_t c, int64_t hw, bool training, bool affine, double offset,
           kernels::NormActivation act = kernels::NormActivation::identity, bool residual = false) {
  const std::string name = std::string(training ? "train" : "eval") + (affine ? " affine" : "") + " act " +
                           kernels::norm_activation_name(act) + (residual ? " + residual" : "") +
                           " n=" + std::to_string(n) + " c=" + std::to_string(c) + " hw=" + std::to_string(hw);
  const size_t total = size_t(n * c * hw);
  std::vector<float> x = random_vector<float>(total, 31), gy = random_vector<float>(total, 32);
  for (float& v : x) v += float(offset);
  std::vector<float> gamma = random_vector<float>(size_t(c), 33), beta = random_vector<float>(size_t(c), 34);
  std::vector<float> rm = random_vector<float>(size_t(c), 35), rv = random_vector<float>(size_t(c), 36, 0.5, 2.0);
  std::vector<float> res = random_vector<float>(total, 37);
  std::vector<double> resd = cast_vector<double>(res), gres_ref(residual ? total : 0);

  std::vector<double> xd = cast_vector<double>(x), gyd = cast_vector<double>(gy), gd = cast_vector<double>(gamma);
  std::vector<double> bd = cast_vector<double>(beta), rmd = cast_vector<double>(rm), rvd = cast_vector<double>(rv);
  std::vector<double> y_ref(total), sm_ref(static_cast<size_t>(c)), si_ref(static_cast<size_t>(c)), gx_ref(total), gg_ref(static_cast<size_t>(c)),
      gb_ref(static_cast<size_t>(c));
  kernels::BatchNormParams f;
  f.dtype = DType::f64, f.n = n, f.c = c, f.hw = hw, f.eps = 1e-3, f.momentum = 0.3, f.training = training;
  f.act = act;
  f.residual = residual ? resd.data() : nullptr;
  f.x = xd.data(), f.gamma = affine ? gd.data() : nullptr, f.beta = affine ? bd.data() : nullptr, f.y = y_ref.data();
  f.running_mean = rmd.data(), f.running_var = rvd.data(), f.save_mean = sm_ref.data(), f.save_invstd = si_ref.data();
  kernels::cpu::batch_norm(f);
  kernels::BatchNormBackwardParams b;
  b.dtype = DType::f64, b.n = n, b.c = c, b.hw = hw, b.eps = 1e-3, b.training = training, b.act = act;
  b.x = xd.data(), b.gy = gyd.data(), b.gamma = f.gamma, b.beta = f.beta, b.save_mean = sm_ref.data();
  b.save_invstd = si_ref.data();
  b.fused_residual = residual, b.y = y_ref.data(), b.gresidual = residual ? gres_ref.data() : nullptr;
  b.running_mean = rmd.data(), b.running_var = rvd.data();  // eval: unchanged by the forward
  b.gx = gx_ref.data(), b.ggamma = gg_ref.data(), b.gbeta = gb_ref.data();
  kernels::cpu::batch_norm_backward(b);

  DeviceBuffer<float> dx(backend, x), dgy(backend, gy), dg(backend, gamma), dbeta(backend, beta);
  DeviceBuffer<float> drm(backend, rm), drv(backend, rv), dy(backend, total), dsm(backend, static_cast<size_t>(c)),
      dsi(backend, static_cast<size_t>(c)), dgx(backend, total), dgg(backend, static_cast<size_t>(c)), dgb(backend, static_cast<size_t>(c));
  DeviceBuffer<float> dres(backend, res), dgres(backend, total);
  f.residual = residual ? dres.data() : nullptr;
  f.dtype = DType::f32, f.x = dx.data(), f.gamma = affine ? dg.data() : nullptr, f.beta = affine ? dbeta.data() : nullptr;
  f.y = dy.data(), f.running_mean = drm.data(), f.running_var = drv.data();
  f.save_mean = dsm.data(), f.save_invstd = dsi.data();
  kernels::batch_norm_kernel.get(backend)(f);
  EXPECT_LT(max_rel_error(dy.download(), y_ref, 1.0), 2e-5) << name << " y";
  if (training) {
    EXPECT_LT(max_rel_error(dsm.download(), sm_ref, 1.0), 1e-5) << name << " save_mean";
    EXPECT_LT(max_rel_error(dsi.download(), si_ref), 1e-5) << name << " save_invstd";
  }
  EXPECT_LT(max_rel_error(drm.download(), rmd), 1e-5) << name << " running_mean";
  EXPECT_LT(max_rel_error(drv.download(), rvd), 1e-5) << name << " running_var";

  // Backward from the device's own saved statistics (what training does).
  b.dtype = DType::f32, b.x = dx.data(), b.gy = dgy.data(), b.gamma = f.gamma, b.beta = f.beta, b.save_mean = dsm.data();
  b.save_invstd = dsi.data(), b.running_mean = drm.data(), b.running_var = drv.data();
  b.gx = dgx.data(), b.ggamma = dgg.data(), b.gbeta = dgb.data();
  b.y = dy.data(), b.gresidual = residual ? dgres.data() : nullptr;
  if (!training) {  // eval reads the running stats as they were before any update: upload them again
    drm.upload(rm), drv.upload(rv);
  }
  kernels::batch_norm_backward_kernel.get(backend)(b);
  // Sums over n*hw values of O(1): absolute error relative to that count.
  const double count = double(n * hw);
  EXPECT_LT(max_rel_error(dgx.download(), gx_ref, 1.0), 2e-4) << name << " gx";
  EXPECT_LT(max_rel_error(dgg.download(), gg_ref, count), 1e-5) << name << " ggamma";
  EXPECT_LT(max_rel_error(dgb.download(), gb_ref, count), 1e-5) << name << " gbeta";
  if (residual) {
    EXPECT_LT(max_rel_error(dgres.download(), gres_ref, 1.0), 1e-5) << name << " gresidual";
  }
}

TEST_P(BatchNormSim, Training) {
  check(GetParam(), 3, 5, 35, true, true, 0.0);
  check(GetParam(), 3, 7, 1, true, false, 0.0);     // hw = 1: statistics over the batch only
  check(GetParam(), 3, 3, 77, true, true, 100.0);   // |mean| >> std
}

TEST_P(BatchNormSim, Eval) {
  check(GetParam(), 3, 5, 35, false, true, 0.0);
  check(GetParam(), 3, 6, 9, false, false, 0.0);
}

// The fused activation against the CPU kernel's (itself checked against norm-then-act).
TEST_P(BatchNormSim, FusedActivation) {
  for (auto act : {kernels::NormActivation::relu, kernels::NormActivation::silu}) {
    check(GetParam(), 3, 5, 35, true, true, 0.0, act);
    check(GetParam(), 2, 4, 9, false, true, 0.0, act);
    check(GetParam(), 3, 3, 10, true, false, 0.0, act);
  }
  check(GetParam(), 3, 5, 35, true, true, 0.0, kernels::NormActivation::relu, true);
  check(GetParam(), 2, 4, 9, false, true, 0.0, kernels::NormActivation::relu, true);
}

// Channels of more than 4096 values (kernels/cuda/batch_norm.cu's kSplitChunk) take the
// split path: several blocks per channel, merged in a fixed order. hw % 4 == 0 runs its
// float4 loads, the odd hw the scalar ones; the last run is partial in both.
TEST_P(BatchNormSim, TrainingSplitOverBlocks) {
  check(GetParam(), 2, 3, 2500, true, true, 50.0);  // float4, 2 runs, |mean| >> std
  check(GetParam(), 3, 2, 1501, true, false, 0.0);  // scalar, 2 runs
  check(GetParam(), 2, 2, 2500, true, true, 0.0, kernels::NormActivation::silu);
  check(GetParam(), 2, 2, 2500, true, true, 0.0, kernels::NormActivation::relu, true);
}

TEST_P(BatchNormSim, TrainingNeedsTwoValues) {
  std::vector<float> v(4, 1.0f);
  DeviceBuffer<float> d(GetParam(), v);
  kernels::BatchNormParams f;
  f.n = 1, f.c = 2, f.hw = 1, f.x = d.data(), f.y = d.data(), f.save_mean = d.data(), f.save_invstd = d.data();
  EXPECT_THROW(kernels::batch_norm_kernel.get(GetParam())(f), Error);
}

INSTANTIATE_TEST_SUITE_P(Backends, BatchNormSim, ::testing::ValuesIn(gpu_backends(true)), backend_param_name);

}  // namespace
}  // namespace glia::test
