// Pooling on cpu beyond the cross-backend harness (tests/kernels_ops/pool_ops_test.cpp
// checks every backend against the float64 reference on cases.h's shapes): NaN and
// padding in max pool, finite differences of the backwards, error messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/error.h"
#include "kernels/pool.h"
#include "tests/kernels_conv/util.h"
#include "tests/kernels_ops/cases.h"

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

TEST(Pool, FiniteDifferences) {
  for (const ops::Pool2dCase& c : ops::kPool2dCases) {
    SCOPED_TRACE(c.name);
    const Pool2dShape& s = c.shape;
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
