// conv2d and conv_transpose2d (kernels/conv2d.h, kernels/conv_transpose2d.h) on every
// backend against direct double loops: forward (with and without bias) and the backward
// products to input, weight and bias, over the cases of cases.h (strided, dilated,
// asymmetric "same" padding, groups, 1x1, depthwise 3x3/4x4/5x5, Winograd's shapes on cpu
// up to 130 -> 72 channels). Outputs start as NaN, so an unwritten element fails.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/conv_transpose2d.h"
#include "tests/kernels_ops/conv_products.h"
#include "tests/kernels_ops/harness.h"

namespace glia::test::ops {
namespace {

using kernels::Conv2dShape;
using kernels::ConvTranspose2dShape;

class ConvOps : public OpTest {};

// A reference value and the sum of |terms| it is made of (float rounding is relative to that).
struct Ref {
  std::vector<double> value, bound;
  explicit Ref(size_t n) : value(n, 0.0), bound(n, 1e-300) {}
  void add(size_t i, double term) {
    value[i] += term;
    bound[i] += std::fabs(term);
  }
};

// sum over n, hw of gy, per channel.
Ref bias_grad(const std::vector<double>& gy, int64_t c, int64_t plane) {
  Ref gb(static_cast<size_t>(c));
  for (size_t i = 0; i < gy.size(); ++i) gb.add(size_t(int64_t(i) / plane % c), gy[i]);
  return gb;
}

template <class T>
::testing::AssertionResult matches(const std::vector<T>& got, const Ref& ref) {
  // A sum of terms rounded in any order (blocked, threaded, Winograd transforms): ulps
  // of the sum of |terms|, enough for the ~1200-term sums of the largest case.
  return close_to(got, ref.value, ref.bound, 256 * unit_roundoff<T>());
}

template <class T>
void check_conv2d(Backend backend, const Conv2dCase& c) {
  const Conv2dShape& s = c.shape;
  const size_t nx = size_t(s.n * s.c_in * s.h_in * s.w_in), nw = size_t(s.c_out * (s.c_in / s.groups) * s.kh * s.kw);
  const size_t ny = size_t(s.n * s.c_out * s.h_out() * s.w_out());
  const int64_t plane = s.h_out() * s.w_out();
  const std::vector<T> x = random_vector<T>(nx, 11), w = random_vector<T>(nw, 12), bias = random_vector<T>(size_t(s.c_out), 13);
  const std::vector<T> gy = random_vector<T>(ny, 14);
  Ref y(ny), gx(nx), gw(nw);
  for_each_product(s, [&](size_t xi, size_t wi, size_t yi) {
    y.add(yi, double(x[xi]) * double(w[wi]));
    gx.add(xi, double(gy[yi]) * double(w[wi]));
    gw.add(wi, double(gy[yi]) * double(x[xi]));
  });
  if (c.bias)
    for (size_t i = 0; i < ny; ++i) y.add(i, double(bias[size_t(int64_t(i) / plane % s.c_out)]));
  const Ref gb = bias_grad(cast_vector<double>(gy), s.c_out, plane);

  DeviceBuffer<T> dx(backend, x), dw(backend, w), db(backend, bias), dgy(backend, gy);
  DeviceBuffer<T> dy(backend, ny), dgx(backend, nx), dgw(backend, nw), dgb(backend, size_t(s.c_out));
  const DType dt = dtype_of<T>::value;
  const std::string name = what<T>(c.name, backend);
  if (OpTest::runs_on(kernels::conv2d_kernel, backend)) {
    kernels::conv2d_kernel.get(backend)({dt, s, dx.data(), dw.data(), c.bias ? db.data() : nullptr, dy.data()});
    EXPECT_TRUE(matches(dy.download(), y)) << name << " forward";
  }
  if (OpTest::runs_on(kernels::conv2d_backward_input_kernel, backend)) {
    kernels::conv2d_backward_input_kernel.get(backend)({dt, s, dgy.data(), dw.data(), dgx.data()});
    EXPECT_TRUE(matches(dgx.download(), gx)) << name << " backward input";
  }
  if (OpTest::runs_on(kernels::conv2d_backward_weight_kernel, backend)) {
    kernels::conv2d_backward_weight_kernel.get(backend)({dt, s, dx.data(), dgy.data(), dgw.data()});
    EXPECT_TRUE(matches(dgw.download(), gw)) << name << " backward weight";
  }
  if (OpTest::runs_on(kernels::conv2d_backward_bias_kernel, backend)) {
    kernels::conv2d_backward_bias_kernel.get(backend)({dt, s.n, s.c_out, plane, dgy.data(), dgb.data()});
    EXPECT_TRUE(matches(dgb.download(), gb)) << name << " backward bias";
  }
}

TEST_P(ConvOps, Conv2dEveryCaseForwardAndBackward) {
  int ran = 0;
  for (const Conv2dCase& c : kConv2dCases) {
    if (!fits(c.work())) continue;
    kernels::validate_conv2d(c.shape, c.name);
    for_float_types([&](auto t) { check_conv2d<decltype(t)>(backend(), c); });
    ++ran;
  }
  EXPECT_GT(ran, 10);
}

TEST_P(ConvOps, Conv2dBackwardWeightIsDeterministic) {
  // Split-K over N*Ho*Wo on the GPU (the implicit GEMM; the depthwise kernel's slices of
  // pixels), threads on cpu: the same inputs give bit-identical gradients every run.
  if (!runs(kernels::conv2d_backward_weight_kernel)) GTEST_SKIP() << "no library variant";
  for (const Conv2dShape& s : {conv_shape(3, 5, 9, 11, 7, 3, 1, 1), conv_shape(2, 3, 40, 36, 3, 3, 1, 1, 1, 3)}) {
    const std::vector<float> x = random_vector<float>(size_t(s.n * s.c_in * s.h_in * s.w_in), 15);
    const std::vector<float> gy = random_vector<float>(size_t(s.n * s.c_out * s.h_out() * s.w_out()), 16);
    DeviceBuffer<float> dx(backend(), x), dgy(backend(), gy);
    DeviceBuffer<float> dgw(backend(), size_t(s.c_out * (s.c_in / s.groups) * s.kh * s.kw));
    const kernels::Conv2dBackwardWeightParams p{DType::f32, s, dx.data(), dgy.data(), dgw.data()};
    kernels::conv2d_backward_weight_kernel.get(backend())(p);
    const std::vector<float> first = dgw.download();
    for (int run = 0; run < 2; ++run) {
      kernels::conv2d_backward_weight_kernel.get(backend())(p);
      ASSERT_EQ(dgw.download(), first) << "groups " << s.groups << ", run " << run;
    }
  }
}

template <class T>
void check_conv_transpose2d(Backend backend, const ConvTranspose2dCase& c) {
  const ConvTranspose2dShape& s = c.shape;
  kernels::validate_conv_transpose2d(s, c.name);
  const int64_t ho = s.h_out(), wo = s.w_out(), plane = ho * wo;
  const size_t nx = size_t(s.n * s.c_in * s.h_in * s.w_in), nw = size_t(s.c_in * s.c_out * s.kh * s.kw);
  const size_t ny = size_t(s.n * s.c_out * plane);
  const std::vector<T> x = random_vector<T>(nx, 21), w = random_vector<T>(nw, 22);
  const std::vector<T> bias = random_vector<T>(size_t(s.c_out), 23), gy = random_vector<T>(ny, 24);
  // Direct scatter: input pixel (ih, iw) lands on output (ih*stride - pad + k*dilation).
  Ref y(ny), gx(nx), gw(nw);
  for (int64_t b = 0; b < s.n; ++b)
    for (int64_t ci = 0; ci < s.c_in; ++ci)
      for (int64_t ih = 0; ih < s.h_in; ++ih)
        for (int64_t iw = 0; iw < s.w_in; ++iw)
          for (int64_t co = 0; co < s.c_out; ++co)
            for (int64_t r = 0; r < s.kh; ++r)
              for (int64_t q = 0; q < s.kw; ++q) {
                const int64_t oh = ih * s.stride_h - s.pad_h + r * s.dilation_h;
                const int64_t ow = iw * s.stride_w - s.pad_w + q * s.dilation_w;
                if (oh < 0 || oh >= ho || ow < 0 || ow >= wo) continue;
                const size_t xi = size_t(((b * s.c_in + ci) * s.h_in + ih) * s.w_in + iw);
                const size_t wi = size_t(((ci * s.c_out + co) * s.kh + r) * s.kw + q);
                const size_t yi = size_t(((b * s.c_out + co) * ho + oh) * wo + ow);
                y.add(yi, double(x[xi]) * double(w[wi]));
                gx.add(xi, double(gy[yi]) * double(w[wi]));
                gw.add(wi, double(gy[yi]) * double(x[xi]));
              }
  if (c.bias)
    for (size_t i = 0; i < ny; ++i) y.add(i, double(bias[size_t(int64_t(i) / plane % s.c_out)]));

  DeviceBuffer<T> dx(backend, x), dw(backend, w), db(backend, bias), dgy(backend, gy);
  DeviceBuffer<T> dy(backend, ny), dgx(backend, nx), dgw(backend, nw);
  const DType dt = dtype_of<T>::value;
  const std::string name = what<T>(c.name, backend);
  if (OpTest::runs_on(kernels::conv_transpose2d_kernel, backend)) {
    kernels::conv_transpose2d_kernel.get(backend)({dt, s, dx.data(), dw.data(), c.bias ? db.data() : nullptr, dy.data()});
    EXPECT_TRUE(matches(dy.download(), y)) << name << " forward";
  }
  if (OpTest::runs_on(kernels::conv_transpose2d_backward_input_kernel, backend)) {
    kernels::conv_transpose2d_backward_input_kernel.get(backend)({dt, s, dgy.data(), dw.data(), dgx.data()});
    EXPECT_TRUE(matches(dgx.download(), gx)) << name << " backward input";
  }
  if (OpTest::runs_on(kernels::conv_transpose2d_backward_weight_kernel, backend)) {
    kernels::conv_transpose2d_backward_weight_kernel.get(backend)({dt, s, dx.data(), dgy.data(), dgw.data()});
    EXPECT_TRUE(matches(dgw.download(), gw)) << name << " backward weight";
  }
}

TEST_P(ConvOps, ConvTranspose2dEveryCaseForwardAndBackward) {
  for (const ConvTranspose2dCase& c : kConvTranspose2dCases) {
    if (!fits(c.work())) continue;
    for_float_types([&](auto t) { check_conv_transpose2d<decltype(t)>(backend(), c); });
  }
}

TEST_P(ConvOps, ChannelsNotDivisibleByGroupsIsAnError) {
  DeviceBuffer<float> d(backend(), std::vector<float>(100, 1.0f));
  if (!runs(kernels::conv2d_kernel)) GTEST_SKIP() << "no library variant";
  const kernels::Conv2dParams p{DType::f32, conv_shape(1, 5, 3, 3, 4, 3, 1, 0, 1, 2), d.data(), d.data(), nullptr, d.data()};
  EXPECT_THROW(kernels::conv2d_kernel.get(backend())(p), Error);
}

INSTANTIATE_TEST_SUITE_P(Backends, ConvOps, ::testing::ValuesIn(harness_backends(/*with_library=*/true)),
                         backend_param_name);

}  // namespace
}  // namespace glia::test::ops
