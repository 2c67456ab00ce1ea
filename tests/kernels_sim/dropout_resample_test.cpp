// Hand-written dropout / stochastic depth (kernels/cuda/dropout.cu) and upsampling
// (kernels/cuda/resample.cu) on sim, and on cuda when a GPU is present, against the CPU
// kernels: the dropout mask and outputs must equal the CPU's bit for bit (same Philox
// stream), including a size that is not a multiple of 4 and a non-zero offset; upsampling
// nearest and bilinear at scale 2 and 3, forward and backward (a gather on the device, a
// scatter on the CPU), odd sizes, batch 3.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/dropout.h"
#include "kernels/resample.h"
#include "tests/kernels_sim/backends.h"
#include "tests/support/random_data.h"

namespace glia::test {
namespace {

class DropoutSim : public KernelTest {
 protected:
  void SetUp() override {
    KernelTest::SetUp();
    if (!kernels::dropout_kernel.has(GetParam())) GTEST_SKIP() << "no dropout kernel on " << backend_name(GetParam());
  }
};

TEST_P(DropoutSim, MaskAndValuesEqualCpu) {
  for (double p : {0.0, 0.3, 0.5, 1.0}) {
    const int64_t n = 1001;  // not a multiple of 4
    std::vector<float> x = random_vector<float>(size_t(n), 51), gy = random_vector<float>(size_t(n), 52);
    std::vector<float> y_ref(static_cast<size_t>(n)), gx_ref(static_cast<size_t>(n));
    std::vector<uint8_t> mask_ref(static_cast<size_t>(n));
    kernels::DropoutParams f{DType::f32, n, p, 1234, 77, x.data(), y_ref.data(), mask_ref.data()};
    kernels::cpu::dropout(f);
    kernels::cpu::dropout_backward({DType::f32, n, p, 1234, 77, gy.data(), gx_ref.data()});

    DeviceBuffer<float> dx(GetParam(), x), dgy(GetParam(), gy), dy(GetParam(), size_t(n)), dgx(GetParam(), size_t(n));
    DeviceBuffer<uint8_t> dmask(GetParam(), size_t(n));
    kernels::dropout_kernel.get(GetParam())({DType::f32, n, p, 1234, 77, dx.data(), dy.data(), dmask.data()});
    kernels::dropout_backward_kernel.get(GetParam())({DType::f32, n, p, 1234, 77, dgy.data(), dgx.data()});
    EXPECT_EQ(dmask.download(), mask_ref) << "p=" << p;
    EXPECT_EQ(dy.download(), y_ref) << "p=" << p;
    EXPECT_EQ(dgx.download(), gx_ref) << "p=" << p;
  }
}

TEST_P(DropoutSim, StochasticDepthEqualsCpu) {
  const int64_t batch = 9, per_sample = 35;
  std::vector<float> x = random_vector<float>(size_t(batch * per_sample), 53), y_ref(x.size());
  kernels::cpu::stochastic_depth({DType::f32, batch, per_sample, 0.4, 99, 5, x.data(), y_ref.data()});
  DeviceBuffer<float> dx(GetParam(), x), dy(GetParam(), x.size());
  kernels::stochastic_depth_kernel.get(GetParam())({DType::f32, batch, per_sample, 0.4, 99, 5, dx.data(), dy.data()});
  std::vector<float> got = dy.download();
  EXPECT_EQ(got, y_ref);
  int dropped = 0;
  for (int64_t b = 0; b < batch; ++b) dropped += got[size_t(b * per_sample)] == 0.0f;
  EXPECT_GT(dropped, 0) << "with p=0.4 and 9 samples this seed drops some";
  EXPECT_LT(dropped, batch);
}

TEST_P(DropoutSim, BadProbabilityIsAnError) {
  DeviceBuffer<float> d(GetParam(), std::vector<float>(4, 1.0f));
  EXPECT_THROW(kernels::dropout_kernel.get(GetParam())({DType::f32, 4, 1.5, 0, 0, d.data(), d.data(), nullptr}), Error);
}

TEST_P(DropoutSim, UpsampleNearestAndBilinear) {
  for (auto mode : {kernels::UpsampleMode::nearest, kernels::UpsampleMode::bilinear})
    for (int64_t scale : {2, 3}) {
      const int64_t n = 3, c = 3, h = 5, w = 7;
      const size_t nx = size_t(n * c * h * w), ny = nx * size_t(scale * scale);
      std::vector<float> x = random_vector<float>(nx, 54), gy = random_vector<float>(ny, 55);
      std::vector<double> xd = cast_vector<double>(x), gyd = cast_vector<double>(gy), y_ref(ny), gx_ref(nx);
      kernels::cpu::upsample2d({DType::f64, mode, n, c, h, w, scale, xd.data(), y_ref.data()});
      kernels::cpu::upsample2d_backward({DType::f64, mode, n, c, h, w, scale, gyd.data(), gx_ref.data()});
      DeviceBuffer<float> dx(GetParam(), x), dgy(GetParam(), gy), dy(GetParam(), ny), dgx(GetParam(), nx);
      kernels::upsample2d_kernel.get(GetParam())({DType::f32, mode, n, c, h, w, scale, dx.data(), dy.data()});
      kernels::upsample2d_backward_kernel.get(GetParam())({DType::f32, mode, n, c, h, w, scale, dgy.data(), dgx.data()});
      std::string name = std::string(mode == kernels::UpsampleMode::nearest ? "nearest" : "bilinear") + " x" +
                         std::to_string(scale);
      EXPECT_LT(max_rel_error(dy.download(), y_ref, 1.0), 1e-6) << name;
      EXPECT_LT(max_rel_error(dgx.download(), gx_ref, 1.0), 1e-6) << name;
    }
}

INSTANTIATE_TEST_SUITE_P(Backends, DropoutSim, ::testing::ValuesIn(gpu_backends()), backend_param_name);

}  // namespace
}  // namespace glia::test
