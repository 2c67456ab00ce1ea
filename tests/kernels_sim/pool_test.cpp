// Hand-written pooling kernels (kernels/cuda/pool.cu) on sim, and on cuda when a GPU is
// present, against the CPU kernels run in float64 on the same data: max pool (values and
// argmax indices, with padding, overlapping windows and ties), average pool with and
// without count_include_pad, adaptive and global average pooling; forward and backward.
// Odd sizes, batch 3; the backward gathers must equal the CPU's scatters.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/pool.h"
#include "tests/kernels_sim/backends.h"
#include "tests/support/random_data.h"

namespace glia::test {
namespace {

using kernels::Pool2dShape;

class PoolSim : public KernelTest {
 protected:
  void SetUp() override {
    KernelTest::SetUp();
    if (!kernels::max_pool2d_kernel.has(GetParam())) GTEST_SKIP() << "no pool kernels on " << backend_name(GetParam());
  }
};

Pool2dShape shape(int64_t h, int64_t w, int64_t k, int64_t stride, int64_t pad) {
  Pool2dShape s;
  s.n = 3, s.c = 5, s.h_in = h, s.w_in = w, s.kh = s.kw = k, s.stride_h = s.stride_w = stride, s.pad_h = s.pad_w = pad;
  return s;
}

void check_max(Backend backend, const Pool2dShape& s, bool with_ties) {
  const size_t nx = size_t(s.n * s.c * s.h_in * s.w_in), ny = size_t(s.n * s.c * s.h_out() * s.w_out());
  std::vector<float> x = random_vector<float>(nx, 41), gy = random_vector<float>(ny, 42);
  if (with_ties)
    for (float& v : x) v = std::round(v);  // many equal values: the first maximum must win
  std::vector<double> xd = cast_vector<double>(x), gyd = cast_vector<double>(gy), y_ref(ny), gx_ref(nx);
  std::vector<int64_t> idx_ref(ny);
  kernels::cpu::max_pool2d({DType::f64, s, xd.data(), y_ref.data(), idx_ref.data()});
  kernels::cpu::max_pool2d_backward({DType::f64, s, gyd.data(), idx_ref.data(), gx_ref.data()});

  DeviceBuffer<float> dx(backend, x), dgy(backend, gy), dy(backend, ny), dgx(backend, nx);
  DeviceBuffer<int64_t> didx(backend, ny);
  kernels::max_pool2d_kernel.get(backend)({DType::f32, s, dx.data(), dy.data(), didx.data()});
  kernels::max_pool2d_backward_kernel.get(backend)({DType::f32, s, dgy.data(), didx.data(), dgx.data()});
  EXPECT_EQ(max_rel_error(dy.download(), y_ref), 0.0);
  EXPECT_EQ(didx.download(), idx_ref);
  EXPECT_LT(max_rel_error(dgx.download(), gx_ref, 1.0), 1e-6);
}

void check_avg(Backend backend, const Pool2dShape& s, bool include_pad) {
  const size_t nx = size_t(s.n * s.c * s.h_in * s.w_in), ny = size_t(s.n * s.c * s.h_out() * s.w_out());
  std::vector<float> x = random_vector<float>(nx, 43), gy = random_vector<float>(ny, 44);
  std::vector<double> xd = cast_vector<double>(x), gyd = cast_vector<double>(gy), y_ref(ny), gx_ref(nx);
  kernels::cpu::avg_pool2d({DType::f64, s, include_pad, xd.data(), y_ref.data()});
  kernels::cpu::avg_pool2d_backward({DType::f64, s, include_pad, gyd.data(), gx_ref.data()});
  DeviceBuffer<float> dx(backend, x), dgy(backend, gy), dy(backend, ny), dgx(backend, nx);
  kernels::avg_pool2d_kernel.get(backend)({DType::f32, s, include_pad, dx.data(), dy.data()});
  kernels::avg_pool2d_backward_kernel.get(backend)({DType::f32, s, include_pad, dgy.data(), dgx.data()});
  EXPECT_LT(max_rel_error(dy.download(), y_ref, 1.0), 1e-6) << "include_pad=" << include_pad;
  EXPECT_LT(max_rel_error(dgx.download(), gx_ref, 1.0), 1e-6) << "include_pad=" << include_pad;
}

TEST_P(PoolSim, MaxPool) {
  check_max(GetParam(), shape(7, 9, 3, 2, 1), false);  // overlapping windows with padding
  check_max(GetParam(), shape(7, 9, 3, 2, 1), true);
  check_max(GetParam(), shape(9, 7, 2, 2, 0), false);  // U-Net's 2x2
  check_max(GetParam(), shape(5, 7, 3, 1, 1), true);   // stride 1: 9 windows per pixel
}

TEST_P(PoolSim, AvgPool) {
  for (bool include_pad : {true, false}) {
    check_avg(GetParam(), shape(7, 9, 3, 2, 1), include_pad);
    check_avg(GetParam(), shape(9, 5, 2, 2, 0), include_pad);
    check_avg(GetParam(), shape(6, 7, 5, 3, 2), include_pad);
  }
}

TEST_P(PoolSim, AdaptiveAndGlobalAverage) {
  const int64_t n = 3, c = 5;
  for (auto [h, w, ho, wo] : {std::array<int64_t, 4>{7, 9, 3, 4}, {5, 5, 5, 5}, {3, 7, 5, 2}}) {
    const size_t nx = size_t(n * c * h * w), ny = size_t(n * c * ho * wo);
    std::vector<float> x = random_vector<float>(nx, 45), gy = random_vector<float>(ny, 46);
    std::vector<double> xd = cast_vector<double>(x), gyd = cast_vector<double>(gy), y_ref(ny), gx_ref(nx);
    kernels::cpu::adaptive_avg_pool2d({DType::f64, n, c, h, w, ho, wo, xd.data(), y_ref.data()});
    kernels::cpu::adaptive_avg_pool2d_backward({DType::f64, n, c, h, w, ho, wo, gyd.data(), gx_ref.data()});
    DeviceBuffer<float> dx(GetParam(), x), dgy(GetParam(), gy), dy(GetParam(), ny), dgx(GetParam(), nx);
    kernels::adaptive_avg_pool2d_kernel.get(GetParam())({DType::f32, n, c, h, w, ho, wo, dx.data(), dy.data()});
    kernels::adaptive_avg_pool2d_backward_kernel.get(GetParam())(
        {DType::f32, n, c, h, w, ho, wo, dgy.data(), dgx.data()});
    std::string name = std::to_string(h) + "x" + std::to_string(w) + "->" + std::to_string(ho) + "x" + std::to_string(wo);
    EXPECT_LT(max_rel_error(dy.download(), y_ref, 1.0), 1e-6) << name;
    EXPECT_LT(max_rel_error(dgx.download(), gx_ref, 1.0), 1e-6) << name;
  }
  const int64_t hw = 37;
  std::vector<float> x = random_vector<float>(size_t(n * c * hw), 47), gy = random_vector<float>(size_t(n * c), 48);
  std::vector<double> xd = cast_vector<double>(x), gyd = cast_vector<double>(gy), y_ref(size_t(n * c)),
                      gx_ref(x.size());
  kernels::cpu::global_avg_pool({DType::f64, n, c, hw, xd.data(), y_ref.data()});
  kernels::cpu::global_avg_pool_backward({DType::f64, n, c, hw, gyd.data(), gx_ref.data()});
  DeviceBuffer<float> dx(GetParam(), x), dgy(GetParam(), gy), dy(GetParam(), gy.size()), dgx(GetParam(), x.size());
  kernels::global_avg_pool_kernel.get(GetParam())({DType::f32, n, c, hw, dx.data(), dy.data()});
  kernels::global_avg_pool_backward_kernel.get(GetParam())({DType::f32, n, c, hw, dgy.data(), dgx.data()});
  EXPECT_LT(max_rel_error(dy.download(), y_ref, 1.0), 1e-6);
  EXPECT_LT(max_rel_error(dgx.download(), gx_ref, 1.0), 1e-6);
}

TEST_P(PoolSim, PaddingOverHalfTheKernelIsAnError) {
  std::vector<float> v(100, 1.0f);
  DeviceBuffer<float> d(GetParam(), v);
  kernels::AvgPool2dParams p{DType::f32, shape(5, 5, 3, 1, 2), true, d.data(), d.data()};
  EXPECT_THROW(kernels::avg_pool2d_kernel.get(GetParam())(p), Error);
}

INSTANTIATE_TEST_SUITE_P(Backends, PoolSim, ::testing::ValuesIn(gpu_backends()), backend_param_name);

// The average-pooling forward on every backend that has one, cuDNN included (its only
// pooling kernel): same windows and divisors as the CPU.
class AvgPoolForwardSim : public KernelTest {
 protected:
  void SetUp() override {
    KernelTest::SetUp();
    if (!kernels::avg_pool2d_kernel.has(GetParam())) GTEST_SKIP() << "no avg_pool2d on " << backend_name(GetParam());
  }
};

TEST_P(AvgPoolForwardSim, AgainstCpu) {
  for (bool include_pad : {true, false})
    for (const Pool2dShape& s : {shape(7, 9, 3, 2, 1), shape(6, 7, 5, 3, 2), shape(9, 5, 2, 2, 0)}) {
      const size_t nx = size_t(s.n * s.c * s.h_in * s.w_in), ny = size_t(s.n * s.c * s.h_out() * s.w_out());
      std::vector<float> x = random_vector<float>(nx, 49);
      std::vector<double> xd = cast_vector<double>(x), y_ref(ny);
      kernels::cpu::avg_pool2d({DType::f64, s, include_pad, xd.data(), y_ref.data()});
      DeviceBuffer<float> dx(GetParam(), x), dy(GetParam(), ny);
      kernels::avg_pool2d_kernel.get(GetParam())({DType::f32, s, include_pad, dx.data(), dy.data()});
      EXPECT_LT(max_rel_error(dy.download(), y_ref, 1.0), 1e-6) << "include_pad=" << include_pad << " k=" << s.kh;
    }
}

INSTANTIATE_TEST_SUITE_P(Backends, AvgPoolForwardSim, ::testing::ValuesIn(gpu_backends(true)), backend_param_name);

}  // namespace
}  // namespace glia::test
