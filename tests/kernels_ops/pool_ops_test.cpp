// Pooling (kernels/pool.h) on every backend against direct double loops: max pool (values,
// first-maximum indices, backward scatter; ties on rounded data), average pool with and
// without counting the padding, adaptive and global average pooling, each with its
// backward, over the cases of cases.h.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/pool.h"
#include "tests/kernels_ops/harness.h"

namespace glia::test::ops {
namespace {

using kernels::Pool2dShape;

class PoolOps : public OpTest {};

// Calls fn(x_index, y_index, in_image) for every window position of every output.
template <class Fn>
void for_each_window_cell(const Pool2dShape& s, Fn&& fn) {
  const int64_t ho = s.h_out(), wo = s.w_out();
  for (int64_t p = 0; p < s.n * s.c; ++p)
    for (int64_t oh = 0; oh < ho; ++oh)
      for (int64_t ow = 0; ow < wo; ++ow)
        for (int64_t r = 0; r < s.kh; ++r)
          for (int64_t q = 0; q < s.kw; ++q) {
            const int64_t ih = oh * s.stride_h - s.pad_h + r, iw = ow * s.stride_w - s.pad_w + q;
            const bool in = ih >= 0 && ih < s.h_in && iw >= 0 && iw < s.w_in;
            fn(in ? size_t((p * s.h_in + ih) * s.w_in + iw) : size_t(0), size_t((p * ho + oh) * wo + ow), in,
               in ? ih * s.w_in + iw : -1);
          }
}

template <class T>
void check_max(Backend backend, const Pool2dCase& c, bool ties) {
  const Pool2dShape& s = c.shape;
  const size_t nx = size_t(s.n * s.c * s.h_in * s.w_in), ny = size_t(s.n * s.c * s.h_out() * s.w_out());
  std::vector<T> x = random_vector<T>(nx, 41);
  if (ties)
    for (T& v : x) v = std::round(v);  // many equal values: the first maximum must win
  const std::vector<T> gy = random_vector<T>(ny, 42);
  std::vector<double> y(ny, -INFINITY), gx(nx, 0.0);
  std::vector<int64_t> idx(ny, -1);
  for_each_window_cell(s, [&](size_t xi, size_t yi, bool in, int64_t plane_index) {
    if (in && double(x[xi]) > y[yi]) y[yi] = double(x[xi]), idx[yi] = plane_index;
  });
  for (size_t i = 0; i < ny; ++i) {
    const int64_t plane = int64_t(i) / (s.h_out() * s.w_out());
    gx[size_t(plane * s.h_in * s.w_in + idx[i])] += double(gy[i]);
  }
  DeviceBuffer<T> dx(backend, x), dgy(backend, gy), dy(backend, ny), dgx(backend, nx);
  DeviceBuffer<int64_t> didx(backend, ny);
  const DType dt = dtype_of<T>::value;
  const std::string name = what<T>(std::string(c.name) + (ties ? " ties" : ""), backend);
  if (OpTest::runs_on(kernels::max_pool2d_kernel, backend)) {
    kernels::max_pool2d_kernel.get(backend)({dt, s, dx.data(), dy.data(), didx.data()});
    EXPECT_TRUE(close_rel(dy.download(), y, 0.0, 0.0)) << name << " forward";
    EXPECT_EQ(didx.download(), idx) << name << " indices";
  } else {
    didx.upload(idx);
  }
  if (OpTest::runs_on(kernels::max_pool2d_backward_kernel, backend)) {
    kernels::max_pool2d_backward_kernel.get(backend)({dt, s, dgy.data(), didx.data(), dgx.data()});
    EXPECT_TRUE(close_rel(dgx.download(), gx, 1.0, 16)) << name << " backward";
  }
}

template <class T>
void check_avg(Backend backend, const Pool2dCase& c, bool include_pad) {
  const Pool2dShape& s = c.shape;
  const size_t nx = size_t(s.n * s.c * s.h_in * s.w_in), ny = size_t(s.n * s.c * s.h_out() * s.w_out());
  const std::vector<T> x = random_vector<T>(nx, 43), gy = random_vector<T>(ny, 44);
  std::vector<double> sum(ny, 0.0), count(ny, 0.0), y(ny), gx(nx, 0.0);
  for_each_window_cell(s, [&](size_t xi, size_t yi, bool in, int64_t) {
    if (in) sum[yi] += double(x[xi]);
    if (in || include_pad) count[yi] += 1;
  });
  for (size_t i = 0; i < ny; ++i) y[i] = sum[i] / count[i];
  for_each_window_cell(s, [&](size_t xi, size_t yi, bool in, int64_t) {
    if (in) gx[xi] += double(gy[yi]) / count[yi];
  });
  DeviceBuffer<T> dx(backend, x), dgy(backend, gy), dy(backend, ny), dgx(backend, nx);
  const DType dt = dtype_of<T>::value;
  const std::string name = what<T>(std::string(c.name) + (include_pad ? " count_include_pad" : ""), backend);
  if (OpTest::runs_on(kernels::avg_pool2d_kernel, backend)) {
    kernels::avg_pool2d_kernel.get(backend)({dt, s, include_pad, dx.data(), dy.data()});
    EXPECT_TRUE(close_rel(dy.download(), y, 1.0, 32)) << name << " forward";
  }
  if (OpTest::runs_on(kernels::avg_pool2d_backward_kernel, backend)) {
    kernels::avg_pool2d_backward_kernel.get(backend)({dt, s, include_pad, dgy.data(), dgx.data()});
    EXPECT_TRUE(close_rel(dgx.download(), gx, 1.0, 32)) << name << " backward";
  }
}

TEST_P(PoolOps, MaxAndAveragePoolEveryCase) {
  for (const Pool2dCase& c : kPool2dCases)
    for_float_types([&](auto t) {
      using T = decltype(t);
      check_max<T>(backend(), c, false);
      check_max<T>(backend(), c, true);
      check_avg<T>(backend(), c, true);
      check_avg<T>(backend(), c, false);
    });
}

template <class T>
void check_adaptive(Backend backend, const AdaptivePoolCase& c) {
  const size_t planes = size_t(c.n * c.c), nx = planes * size_t(c.h_in * c.w_in), ny = planes * size_t(c.h_out * c.w_out);
  const std::vector<T> x = random_vector<T>(nx, 45), gy = random_vector<T>(ny, 46);
  std::vector<double> y(ny, 0.0), gx(nx, 0.0);
  for (size_t p = 0; p < planes; ++p)
    for (int64_t i = 0; i < c.h_out; ++i)
      for (int64_t j = 0; j < c.w_out; ++j) {
        const int64_t h0 = i * c.h_in / c.h_out, h1 = ((i + 1) * c.h_in + c.h_out - 1) / c.h_out;
        const int64_t w0 = j * c.w_in / c.w_out, w1 = ((j + 1) * c.w_in + c.w_out - 1) / c.w_out;
        const double area = double((h1 - h0) * (w1 - w0));
        const size_t yi = p * size_t(c.h_out * c.w_out) + size_t(i * c.w_out + j);
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) {
            const size_t xi = p * size_t(c.h_in * c.w_in) + size_t(h * c.w_in + w);
            y[yi] += double(x[xi]) / area;
            gx[xi] += double(gy[yi]) / area;
          }
      }
  DeviceBuffer<T> dx(backend, x), dgy(backend, gy), dy(backend, ny), dgx(backend, nx);
  const DType dt = dtype_of<T>::value;
  kernels::adaptive_avg_pool2d_kernel.get(backend)({dt, c.n, c.c, c.h_in, c.w_in, c.h_out, c.w_out, dx.data(), dy.data()});
  kernels::adaptive_avg_pool2d_backward_kernel.get(backend)(
      {dt, c.n, c.c, c.h_in, c.w_in, c.h_out, c.w_out, dgy.data(), dgx.data()});
  EXPECT_TRUE(close_rel(dy.download(), y, 1.0, 32)) << what<T>(c.name, backend) << " forward";
  EXPECT_TRUE(close_rel(dgx.download(), gx, 1.0, 32)) << what<T>(c.name, backend) << " backward";
}

template <class T>
void check_global(Backend backend, const GlobalPoolCase& c) {
  const size_t planes = size_t(c.n * c.c), nx = planes * size_t(c.hw);
  const std::vector<T> x = random_vector<T>(nx, 47), gy = random_vector<T>(planes, 48);
  std::vector<double> y(planes, 0.0), gx(nx);
  for (size_t i = 0; i < nx; ++i) {
    y[i / size_t(c.hw)] += double(x[i]) / double(c.hw);
    gx[i] = double(gy[i / size_t(c.hw)]) / double(c.hw);
  }
  DeviceBuffer<T> dx(backend, x), dgy(backend, gy), dy(backend, planes), dgx(backend, nx);
  const DType dt = dtype_of<T>::value;
  kernels::global_avg_pool_kernel.get(backend)({dt, c.n, c.c, c.hw, dx.data(), dy.data()});
  kernels::global_avg_pool_backward_kernel.get(backend)({dt, c.n, c.c, c.hw, dgy.data(), dgx.data()});
  // Sums of hw values of O(1) divided by hw: absolute error of a few ulps.
  EXPECT_TRUE(close_rel(dy.download(), y, 1.0, 64)) << what<T>(c.name, backend) << " forward";
  EXPECT_TRUE(close_rel(dgx.download(), gx, 0.0, 4)) << what<T>(c.name, backend) << " backward";
}

TEST_P(PoolOps, AdaptiveAndGlobalAverageEveryCase) {
  if (!runs(kernels::adaptive_avg_pool2d_kernel) || !runs(kernels::global_avg_pool_kernel))
    GTEST_SKIP() << "no library variant";
  for_float_types([&](auto t) {
    using T = decltype(t);
    for (const AdaptivePoolCase& c : kAdaptivePoolCases) check_adaptive<T>(backend(), c);
    for (const GlobalPoolCase& c : kGlobalPoolCases) check_global<T>(backend(), c);
  });
}

TEST_P(PoolOps, PaddingOverHalfTheKernelIsAnError) {
  DeviceBuffer<float> d(backend(), std::vector<float>(100, 1.0f));
  if (!runs(kernels::avg_pool2d_kernel)) GTEST_SKIP() << "no library variant";
  const kernels::AvgPool2dParams p{DType::f32, pool_shape(3, 5, 5, 5, 3, 1, 2), true, d.data(), d.data()};
  EXPECT_THROW(kernels::avg_pool2d_kernel.get(backend())(p), Error);
}

INSTANTIATE_TEST_SUITE_P(Backends, PoolOps, ::testing::ValuesIn(harness_backends(/*with_library=*/true)),
                         backend_param_name);

}  // namespace
}  // namespace glia::test::ops
