// Pooling kernels against naive double loops, plus finite differences of the backwards.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/error.h"
#include "kernels/pool.h"
#include "tests/kernels_conv/util.h"

namespace glia::test {
namespace {

using kernels::Pool2dShape;

Pool2dShape make(int64_t k, int64_t stride, int64_t pad, int64_t n = 3, int64_t c = 5, int64_t h = 7, int64_t w = 9) {
  Pool2dShape s;
  s.n = n, s.c = c, s.h_in = h, s.w_in = w, s.kh = s.kw = k, s.stride_h = s.stride_w = stride,
  s.pad_h = s.pad_w = pad;
  return s;
}

size_t in_size(const Pool2dShape& s) { return size_t(s.n * s.c * s.h_in * s.w_in); }
size_t out_size(const Pool2dShape& s) { return size_t(s.n * s.c * s.h_out() * s.w_out()); }

// fn(out_index, in_index or -1 for a padded tap) for every window tap.
template <class Fn>
void for_each_tap(const Pool2dShape& s, Fn&& fn) {
  const int64_t ho = s.h_out(), wo = s.w_out();
  for (int64_t pl = 0; pl < s.n * s.c; ++pl)
    for (int64_t oh = 0; oh < ho; ++oh)
      for (int64_t ow = 0; ow < wo; ++ow)
        for (int64_t i = 0; i < s.kh; ++i)
          for (int64_t j = 0; j < s.kw; ++j) {
            int64_t ih = oh * s.stride_h - s.pad_h + i, iw = ow * s.stride_w - s.pad_w + j;
            bool inside = ih >= 0 && ih < s.h_in && iw >= 0 && iw < s.w_in;
            fn((pl * ho + oh) * wo + ow, inside ? (pl * s.h_in + ih) * s.w_in + iw : -1);
          }
}

const std::vector<Pool2dShape>& shapes() {
  static const std::vector<Pool2dShape> v = {make(2, 2, 0), make(3, 2, 1), make(3, 1, 1), make(3, 3, 0),
                                             make(5, 2, 2, 2, 3, 11, 8)};
  return v;
}

template <class T>
void check_max(const Pool2dShape& s) {
  auto x = random_doubles(in_size(s), 1);
  for (double& v : x) v = double(T(v));  // max is exact: compare with the values T holds
  std::vector<double> y(out_size(s), -INFINITY), gx(in_size(s), 0.0);
  std::vector<int64_t> arg(out_size(s), -1);
  for_each_tap(s, [&](int64_t o, int64_t i) {
    if (i >= 0 && x[i] > y[o]) y[o] = x[i], arg[o] = i % (s.h_in * s.w_in);
  });
  auto gy = random_doubles(out_size(s), 2);
  for (size_t o = 0; o < y.size(); ++o) gx[(o / (s.h_out() * s.w_out())) * s.h_in * s.w_in + arg[o]] += gy[o];
  auto xt = cast_to<T>(x), gyt = cast_to<T>(gy);
  auto yt = poisoned<T>(y.size()), gxt = poisoned<T>(gx.size());
  std::vector<int64_t> idx(y.size(), -7);
  kernels::cpu::max_pool2d({dtype_v<T>, s, xt.data(), yt.data(), idx.data()});
  EXPECT_TRUE(all_close(yt, y, 0, 0)) << "max forward";
  EXPECT_EQ(idx, arg) << "argmax indices";
  kernels::cpu::max_pool2d_backward({dtype_v<T>, s, gyt.data(), idx.data(), gxt.data()});
  EXPECT_TRUE(all_close(gxt, gx, 1e-6, 1e-6)) << "max backward";
}

template <class T>
void check_avg(const Pool2dShape& s, bool include_pad) {
  auto x = random_doubles(in_size(s), 3), gy = random_doubles(out_size(s), 4);
  std::vector<double> y(out_size(s), 0.0), count(out_size(s), 0.0), gx(in_size(s), 0.0);
  for_each_tap(s, [&](int64_t o, int64_t i) {
    if (i >= 0) y[o] += x[i];
    if (i >= 0 || include_pad) count[o] += 1;
  });
  for (size_t o = 0; o < y.size(); ++o) y[o] /= count[o];
  for_each_tap(s, [&](int64_t o, int64_t i) {
    if (i >= 0) gx[i] += gy[o] / count[o];
  });
  auto xt = cast_to<T>(x), gyt = cast_to<T>(gy);
  auto yt = poisoned<T>(y.size()), gxt = poisoned<T>(gx.size());
  kernels::cpu::avg_pool2d({dtype_v<T>, s, include_pad, xt.data(), yt.data()});
  EXPECT_TRUE(all_close(yt, y, rtol_for<T>(), atol_for<T>())) << "avg forward";
  kernels::cpu::avg_pool2d_backward({dtype_v<T>, s, include_pad, gyt.data(), gxt.data()});
  EXPECT_TRUE(all_close(gxt, gx, rtol_for<T>(), atol_for<T>())) << "avg backward";
}

TEST(Pool, MaxPoolMatchesReference) {
  for (const auto& s : shapes()) {
    SCOPED_TRACE(::testing::Message() << "k" << s.kh << " s" << s.stride_h << " p" << s.pad_h);
    check_max<float>(s);
    check_max<double>(s);
  }
}

TEST(Pool, AvgPoolMatchesReference) {
  for (const auto& s : shapes()) {
    for (bool include_pad : {true, false}) {
      SCOPED_TRACE(::testing::Message() << "k" << s.kh << " s" << s.stride_h << " p" << s.pad_h << " include_pad "
                                        << include_pad);
      check_avg<float>(s, include_pad);
      check_avg<double>(s, include_pad);
    }
  }
}

TEST(Pool, MaxPoolPropagatesNaNAndPadsWithMinusInfinity) {
  Pool2dShape s = make(3, 2, 1, 1, 1, 3, 3);  // 2x2 output
  std::vector<float> x = {-5, -6, -7, -8, NAN, -9, -10, -11, -12}, y(4);
  std::vector<int64_t> idx(4);
  kernels::cpu::max_pool2d({DType::f32, s, x.data(), y.data(), idx.data()});
  for (float v : y) EXPECT_TRUE(std::isnan(v));  // every window contains the centre
  x[4] = -100;
  kernels::cpu::max_pool2d({DType::f32, s, x.data(), y.data(), idx.data()});
  EXPECT_EQ(y, (std::vector<float>{-5, -6, -8, -9}));  // padding never wins over negatives
  EXPECT_EQ(idx, (std::vector<int64_t>{0, 1, 3, 5}));
}

TEST(Pool, AdaptiveAndGlobalAverage) {
  const int64_t n = 3, c = 5, h = 7, w = 9;
  auto x = random_doubles(size_t(n * c * h * w), 5);
  for (auto [ho, wo] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {3, 4}, {7, 9}, {5, 2}, {9, 10}}) {
    SCOPED_TRACE(::testing::Message() << ho << "x" << wo);
    std::vector<double> y(size_t(n * c * ho * wo)), gx(x.size(), 0.0);
    auto gy = random_doubles(y.size(), 6);
    for (int64_t pl = 0; pl < n * c; ++pl)
      for (int64_t i = 0; i < ho; ++i)
        for (int64_t j = 0; j < wo; ++j) {
          int64_t h0 = int64_t(std::floor(double(i * h) / ho)), h1 = int64_t(std::ceil(double((i + 1) * h) / ho));
          int64_t w0 = int64_t(std::floor(double(j * w) / wo)), w1 = int64_t(std::ceil(double((j + 1) * w) / wo));
          double sum = 0, cnt = double((h1 - h0) * (w1 - w0));
          size_t o = size_t((pl * ho + i) * wo + j);
          for (int64_t a = h0; a < h1; ++a)
            for (int64_t b = w0; b < w1; ++b) {
              sum += x[size_t((pl * h + a) * w + b)];
              gx[size_t((pl * h + a) * w + b)] += gy[o] / cnt;
            }
          y[o] = sum / cnt;
        }
    auto yt = poisoned<double>(y.size()), gxt = poisoned<double>(x.size());
    kernels::cpu::adaptive_avg_pool2d({DType::f64, n, c, h, w, ho, wo, x.data(), yt.data()});
    EXPECT_TRUE(all_close(yt, y, 1e-12, 1e-12));
    kernels::cpu::adaptive_avg_pool2d_backward({DType::f64, n, c, h, w, ho, wo, gy.data(), gxt.data()});
    EXPECT_TRUE(all_close(gxt, gx, 1e-12, 1e-12));
    if (ho == 1 && wo == 1) {
      auto xf = cast_to<float>(x), gyf = cast_to<float>(gy);
      auto g = poisoned<float>(size_t(n * c)), gxf = poisoned<float>(x.size());
      kernels::cpu::global_avg_pool({DType::f32, n, c, h * w, xf.data(), g.data()});
      EXPECT_TRUE(all_close(g, y, 1e-5, 1e-6)) << "global";
      kernels::cpu::global_avg_pool_backward({DType::f32, n, c, h * w, gyf.data(), gxf.data()});
      EXPECT_TRUE(all_close(gxf, gx, 1e-5, 1e-6)) << "global backward";
    }
  }
}

TEST(Pool, FiniteDifferences) {
  for (const auto& s : shapes()) {
    SCOPED_TRACE(::testing::Message() << "k" << s.kh << " s" << s.stride_h << " p" << s.pad_h);
    auto x = random_doubles(in_size(s), 7);
    std::vector<int64_t> idx(out_size(s));
    EXPECT_TRUE(check_gradient(
        [&](const double* in, double* y) {
          std::vector<int64_t> scratch(out_size(s));
          kernels::cpu::max_pool2d({DType::f64, s, in, y, scratch.data()});
        },
        x, out_size(s),
        [&](const double* u, double* gx) {
          std::vector<double> y(out_size(s));
          kernels::cpu::max_pool2d({DType::f64, s, x.data(), y.data(), idx.data()});
          kernels::cpu::max_pool2d_backward({DType::f64, s, u, idx.data(), gx});
        },
        41))
        << "max";
    for (bool include_pad : {true, false})
      EXPECT_TRUE(check_gradient(
          [&](const double* in, double* y) { kernels::cpu::avg_pool2d({DType::f64, s, include_pad, in, y}); }, x,
          out_size(s), [&](const double* u, double* gx) {
            kernels::cpu::avg_pool2d_backward({DType::f64, s, include_pad, u, gx});
          },
          42))
          << "avg";
  }
  auto x = random_doubles(3 * 5 * 7 * 9, 8);
  EXPECT_TRUE(check_gradient(
      [&](const double* in, double* y) { kernels::cpu::adaptive_avg_pool2d({DType::f64, 3, 5, 7, 9, 3, 4, in, y}); },
      x, 3 * 5 * 3 * 4,
      [&](const double* u, double* gx) {
        kernels::cpu::adaptive_avg_pool2d_backward({DType::f64, 3, 5, 7, 9, 3, 4, u, gx});
      },
      43))
      << "adaptive";
}

TEST(Pool, BadParametersAreNamedErrors) {
  std::vector<float> buf(1024);
  std::vector<int64_t> idx(1024);
  auto run = [&](Pool2dShape s) { kernels::cpu::max_pool2d({DType::f32, s, buf.data(), buf.data(), idx.data()}); };
  EXPECT_THAT([&] { run(make(3, 2, 2)); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("max_pool2d: padding 2x2 must be non-negative and at most half the kernel 3x3")));
  EXPECT_THAT([&] { run(make(3, 0, 1)); }, ::testing::ThrowsMessage<Error>(::testing::HasSubstr("stride must be positive")));
  EXPECT_THAT([&] { run(make(9, 1, 0, 1, 1, 3, 3)); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("kernel 9x9 is larger than the padded input 3x3")));
  EXPECT_THAT(
      [&] { kernels::cpu::avg_pool2d({DType::f32, make(3, 1, -1), true, buf.data(), buf.data()}); },
      ::testing::ThrowsMessage<Error>(::testing::HasSubstr("avg_pool2d: padding -1x-1")));
  EXPECT_THAT(
      [&] { kernels::cpu::adaptive_avg_pool2d({DType::f32, 1, 1, 3, 3, 0, 2, buf.data(), buf.data()}); },
      ::testing::ThrowsMessage<Error>(::testing::HasSubstr("adaptive_avg_pool2d: sizes must be positive")));
}

}  // namespace
}  // namespace glia::test
