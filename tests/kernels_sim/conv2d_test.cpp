// Hand-written conv2d kernels (kernels/cuda/conv2d.cu) on sim, and on cuda and cuDNN when a
// GPU is present, against a direct double-precision convolution: forward (with and without
// bias), backward to input, weight and bias, on odd sizes with batch 3 — strided, dilated,
// asymmetric ("same") padding, groups = 2, 1x1, depthwise 3x3 and 5x5 at stride 1 and 2,
// and float64. Outputs start as NaN, so an unwritten element fails.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "tests/kernels_sim/backends.h"
#include "tests/support/random_data.h"

namespace glia::test {
namespace {

using kernels::Conv2dShape;

class Conv2dSim : public KernelTest {
 protected:
  void SetUp() override {
    KernelTest::SetUp();
    if (!kernels::conv2d_kernel.has(GetParam())) GTEST_SKIP() << "no conv2d kernel on " << backend_name(GetParam());
  }
};

Conv2dShape shape(int64_t n, int64_t ci, int64_t h, int64_t w, int64_t co, int64_t k, int64_t stride, int64_t pad,
                  int64_t dil = 1, int64_t groups = 1) {
  Conv2dShape s;
  s.n = n, s.c_in = ci, s.h_in = h, s.w_in = w, s.c_out = co, s.kh = k, s.kw = k;
  s.stride_h = s.stride_w = stride;
  s.pad_top = s.pad_bottom = s.pad_left = s.pad_right = pad;
  s.dilation_h = s.dilation_w = dil;
  s.groups = groups;
  return s;
}

// Calls fn(x_index, w_index, y_index) for every (input, weight, output) product of the conv.
template <class Fn>
void for_each_product(const Conv2dShape& s, Fn&& fn) {
  const int64_t ho = s.h_out(), wo = s.w_out(), cig = s.c_in / s.groups, cog = s.c_out / s.groups;
  for (int64_t b = 0; b < s.n; ++b)
    for (int64_t co = 0; co < s.c_out; ++co)
      for (int64_t oh = 0; oh < ho; ++oh)
        for (int64_t ow = 0; ow < wo; ++ow)
          for (int64_t ci = 0; ci < cig; ++ci)
            for (int64_t r = 0; r < s.kh; ++r)
              for (int64_t q = 0; q < s.kw; ++q) {
                int64_t ih = oh * s.stride_h - s.pad_top + r * s.dilation_h;
                int64_t iw = ow * s.stride_w - s.pad_left + q * s.dilation_w;
                if (ih < 0 || ih >= s.h_in || iw < 0 || iw >= s.w_in) continue;
                int64_t cin = (co / cog) * cig + ci;
                fn(((b * s.c_in + cin) * s.h_in + ih) * s.w_in + iw, ((co * cig + ci) * s.kh + r) * s.kw + q,
                   ((b * s.c_out + co) * ho + oh) * wo + ow);
              }
}

// |got - ref| <= tol * bound elementwise, where bound is the sum of |products|.
template <class T>
void expect_close(const std::vector<T>& got, const std::vector<double>& ref, const std::vector<double>& bound,
                  const std::string& what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(double(got[i]), ref[i], 4 * tolerance<T>() * (bound[i] + 1e-30)) << what << " element " << i;
}

template <class T>
void check_conv(Backend backend, const Conv2dShape& s, bool with_bias, const std::string& name) {
  const int64_t ho = s.h_out(), wo = s.w_out();
  const size_t nx = size_t(s.n * s.c_in * s.h_in * s.w_in), nw = size_t(s.c_out * (s.c_in / s.groups) * s.kh * s.kw);
  const size_t ny = size_t(s.n * s.c_out * ho * wo);
  std::vector<T> x = random_vector<T>(nx, 11), w = random_vector<T>(nw, 12), bias = random_vector<T>(size_t(s.c_out), 13);
  std::vector<T> gy = random_vector<T>(ny, 14);

  std::vector<double> y_ref(ny, 0.0), y_bound(ny, 0.0), gx_ref(nx, 0.0), gx_bound(nx, 0.0), gw_ref(nw, 0.0),
      gw_bound(nw, 0.0);
  for_each_product(s, [&](int64_t xi, int64_t wi, int64_t yi) {
    y_ref[yi] += double(x[xi]) * w[wi];
    y_bound[yi] += std::fabs(double(x[xi]) * w[wi]);
    gx_ref[xi] += double(gy[yi]) * w[wi];
    gx_bound[xi] += std::fabs(double(gy[yi]) * w[wi]);
    gw_ref[wi] += double(gy[yi]) * x[xi];
    gw_bound[wi] += std::fabs(double(gy[yi]) * x[xi]);
  });
  const int64_t plane = ho * wo;
  std::vector<double> gb_ref(size_t(s.c_out), 0.0), gb_bound(size_t(s.c_out), 0.0);
  for (size_t i = 0; i < ny; ++i) {
    int64_t c = int64_t(i) / plane % s.c_out;
    if (with_bias) {
      y_ref[i] += bias[size_t(c)];
      y_bound[i] += std::fabs(double(bias[size_t(c)]));
    }
    gb_ref[size_t(c)] += gy[i];
    gb_bound[size_t(c)] += std::fabs(double(gy[i]));
  }

  DeviceBuffer<T> dx(backend, x), dw(backend, w), db(backend, bias), dgy(backend, gy);
  DeviceBuffer<T> dy(backend, ny), dgx(backend, nx), dgw(backend, nw), dgb(backend, size_t(s.c_out));
  const DType dt = dtype_of<T>::value;
  kernels::Conv2dParams fp{dt, s, dx.data(), dw.data(), with_bias ? db.data() : nullptr, dy.data()};
  kernels::conv2d_kernel.get(backend)(fp);
  expect_close(dy.download(), y_ref, y_bound, name + " forward");

  kernels::Conv2dBackwardInputParams bi{dt, s, dgy.data(), dw.data(), dgx.data()};
  kernels::conv2d_backward_input_kernel.get(backend)(bi);
  expect_close(dgx.download(), gx_ref, gx_bound, name + " backward input");

  kernels::Conv2dBackwardWeightParams bw{dt, s, dx.data(), dgy.data(), dgw.data()};
  kernels::conv2d_backward_weight_kernel.get(backend)(bw);
  expect_close(dgw.download(), gw_ref, gw_bound, name + " backward weight");

  if (with_bias) {
    kernels::Conv2dBackwardBiasParams bb{dt, s.n, s.c_out, plane, dgy.data(), dgb.data()};
    kernels::conv2d_backward_bias_kernel.get(backend)(bb);
    expect_close(dgb.download(), gb_ref, gb_bound, name + " backward bias");
  }
}

TEST_P(Conv2dSim, Plain3x3WithBias) { check_conv<float>(GetParam(), shape(3, 5, 7, 9, 6, 3, 1, 1), true, "3x3"); }

TEST_P(Conv2dSim, StridedDilatedGrouped) {
  check_conv<float>(GetParam(), shape(3, 6, 9, 7, 10, 3, 2, 1), false, "stride 2");
  check_conv<float>(GetParam(), shape(3, 5, 9, 11, 3, 3, 1, 2, 2), true, "dilation 2");
  check_conv<float>(GetParam(), shape(3, 6, 7, 5, 10, 3, 1, 1, 1, 2), true, "groups 2");
  // More than one 64-row tile of C_out and more than one 8-deep K slice per group.
  check_conv<float>(GetParam(), shape(1, 14, 5, 3, 70, 1, 1, 0, 1, 2), false, "1x1 groups 2, 70 out");
}

TEST_P(Conv2dSim, AsymmetricSamePadding) {
  Conv2dShape s = shape(3, 5, 9, 8, 7, 3, 2, 0);
  auto ph = kernels::same_padding(9, 3, 2), pw = kernels::same_padding(8, 3, 2);
  s.pad_top = ph.before, s.pad_bottom = ph.after, s.pad_left = pw.before, s.pad_right = pw.after;
  ASSERT_NE(s.pad_left, s.pad_right);  // 8 wide, stride 2, k 3: 0 before, 1 after
  check_conv<float>(GetParam(), s, true, "same padding");
  Conv2dShape k4 = shape(3, 3, 7, 7, 5, 4, 1, 0);
  k4.pad_top = k4.pad_left = 1, k4.pad_bottom = k4.pad_right = 2;
  check_conv<float>(GetParam(), k4, false, "k4 pad 1/2");
}

TEST_P(Conv2dSim, PointwiseAndDepthwise) {
  check_conv<float>(GetParam(), shape(3, 7, 5, 9, 11, 1, 1, 0), true, "1x1");
  check_conv<float>(GetParam(), shape(3, 7, 9, 7, 7, 3, 1, 1, 1, 7), true, "depthwise 3x3 s1");
  check_conv<float>(GetParam(), shape(3, 7, 9, 7, 7, 3, 2, 1, 1, 7), false, "depthwise 3x3 s2");
  check_conv<float>(GetParam(), shape(3, 5, 11, 9, 5, 5, 1, 2, 1, 5), true, "depthwise 5x5 s1");
  check_conv<float>(GetParam(), shape(3, 5, 11, 9, 5, 5, 2, 2, 1, 5), false, "depthwise 5x5 s2");
  Conv2dShape same = shape(3, 6, 8, 10, 6, 5, 2, 0, 1, 6);
  auto p = kernels::same_padding(8, 5, 2);
  same.pad_top = same.pad_left = p.before, same.pad_bottom = same.pad_right = p.after;
  check_conv<float>(GetParam(), same, true, "depthwise 5x5 s2 same");
  check_conv<float>(GetParam(), shape(3, 5, 9, 9, 5, 3, 1, 2, 2, 5), false, "depthwise dilated");
  Conv2dShape k4 = shape(3, 5, 7, 9, 5, 4, 1, 0, 1, 5);  // not 3 or 5: the generic depthwise kernel
  k4.pad_top = k4.pad_left = 1, k4.pad_bottom = k4.pad_right = 2;
  check_conv<float>(GetParam(), k4, true, "depthwise 4x4 pad 1/2");
  // Channel multiplier 2 (groups == C_in, C_out = 2 C_in) is not the depthwise kernel's case.
  check_conv<float>(GetParam(), shape(3, 3, 7, 5, 6, 3, 1, 1, 1, 3), true, "depthwise multiplier 2");
}

// float32 1x1 stride-1 convs run as batched GEMMs on the 128 x 128 SGEMM: two row tiles
// (C_out 130) with float4 rows (HW 32), and a bias with odd HW (scalar loads); a strided
// 1x1 stays on the implicit GEMM.
TEST_P(Conv2dSim, PointwiseAsGemm) {
  check_conv<float>(GetParam(), shape(2, 9, 4, 8, 130, 1, 1, 0), false, "1x1 c_out 130");
  check_conv<float>(GetParam(), shape(2, 5, 3, 5, 7, 1, 1, 0), true, "1x1 bias hw 15");
  check_conv<float>(GetParam(), shape(2, 6, 5, 5, 4, 1, 2, 0), true, "1x1 stride 2");
}

TEST_P(Conv2dSim, BackwardWeightIsDeterministic) {
  // Split-K over N*Ho*Wo: the same inputs must give bit-identical gradients every run.
  const Conv2dShape s = shape(3, 5, 9, 11, 7, 3, 1, 1);
  std::vector<float> x = random_vector<float>(size_t(s.n * s.c_in * s.h_in * s.w_in), 15);
  std::vector<float> gy = random_vector<float>(size_t(s.n * s.c_out * s.h_out() * s.w_out()), 16);
  DeviceBuffer<float> dx(GetParam(), x), dgy(GetParam(), gy), dgw(GetParam(), size_t(s.c_out * s.c_in * 9));
  kernels::Conv2dBackwardWeightParams p{DType::f32, s, dx.data(), dgy.data(), dgw.data()};
  kernels::conv2d_backward_weight_kernel.get(GetParam())(p);
  std::vector<float> first = dgw.download();
  for (int run = 0; run < 3; ++run) {
    kernels::conv2d_backward_weight_kernel.get(GetParam())(p);
    ASSERT_EQ(dgw.download(), first) << "run " << run;
  }
}

TEST_P(Conv2dSim, Float64) {
  check_conv<double>(GetParam(), shape(3, 4, 7, 5, 6, 3, 2, 1, 1, 2), true, "f64 grouped");
  check_conv<double>(GetParam(), shape(3, 5, 7, 5, 5, 3, 1, 1, 1, 5), true, "f64 depthwise");
}

TEST_P(Conv2dSim, BadShapeIsAnError) {
  Conv2dShape s = shape(1, 5, 3, 3, 4, 3, 1, 0, 1, 2);  // 5 channels, 2 groups
  std::vector<float> buf(100, 1.0f);
  DeviceBuffer<float> d(GetParam(), buf);
  kernels::Conv2dParams p{DType::f32, s, d.data(), d.data(), nullptr, d.data()};
  EXPECT_THROW(kernels::conv2d_kernel.get(GetParam())(p), Error);
}

INSTANTIATE_TEST_SUITE_P(Backends, Conv2dSim, ::testing::ValuesIn(gpu_backends(true)), backend_param_name);

}  // namespace
}  // namespace glia::test
