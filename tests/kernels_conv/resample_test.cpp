// Upsampling against a hand-computed case, an independent double reference and finite
// differences.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/error.h"
#include "kernels/resample.h"
#include "tests/kernels_conv/util.h"

namespace glia::test {
namespace {

using kernels::UpsampleMode;

TEST(Upsample, BilinearHandComputed2x2) {
  // PyTorch F.interpolate(scale_factor=2, mode="bilinear", align_corners=False) of
  // [[1, 2], [3, 4]]; along each axis the output is [a, .75a+.25b, .25a+.75b, b].
  std::vector<float> x = {1, 2, 3, 4};
  auto y = poisoned<float>(16);
  kernels::cpu::upsample2d({DType::f32, UpsampleMode::bilinear, 1, 1, 2, 2, 2, x.data(), y.data()});
  std::vector<double> want = {1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0};
  EXPECT_TRUE(all_close(y, want, 0, 1e-6));
  kernels::cpu::upsample2d({DType::f32, UpsampleMode::nearest, 1, 1, 2, 2, 2, x.data(), y.data()});
  EXPECT_TRUE(all_close(y, std::vector<double>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}, 0, 0));
}

// fn(out_index, in_index, weight) for every (output, input) pair with a non-zero weight.
template <class Fn>
void for_each_weight(UpsampleMode mode, int64_t n, int64_t c, int64_t h, int64_t w, int64_t s, Fn&& fn) {
  const int64_t ho = h * s, wo = w * s;
  auto axis = [&](int64_t o, int64_t in, std::vector<std::pair<int64_t, double>>& taps) {
    taps.clear();
    if (mode == UpsampleMode::nearest) {
      taps.push_back({int64_t(std::floor(double(o) / double(s))), 1.0});
      return;
    }
    double src = (o + 0.5) / double(s) - 0.5;
    if (src < 0) src = 0;
    int64_t lo = int64_t(std::floor(src));
    double frac = src - double(lo);
    taps.push_back({lo, 1 - frac});
    taps.push_back({lo + 1 < in ? lo + 1 : in - 1, frac});
  };
  std::vector<std::pair<int64_t, double>> th, tw;
  for (int64_t pl = 0; pl < n * c; ++pl)
    for (int64_t oh = 0; oh < ho; ++oh) {
      axis(oh, h, th);
      for (int64_t ow = 0; ow < wo; ++ow) {
        axis(ow, w, tw);
        for (auto [ih, a] : th)
          for (auto [iw, b] : tw) fn((pl * ho + oh) * wo + ow, (pl * h + ih) * w + iw, a * b);
      }
    }
}

TEST(Upsample, MatchesReferenceAndFiniteDifferences) {
  const int64_t n = 3, c = 5, h = 7, w = 9;
  for (UpsampleMode mode : {UpsampleMode::nearest, UpsampleMode::bilinear}) {
    for (int64_t s : {2, 3}) {
      SCOPED_TRACE(::testing::Message() << (mode == UpsampleMode::nearest ? "nearest" : "bilinear") << " x" << s);
      const size_t nx = size_t(n * c * h * w), ny = nx * size_t(s * s);
      auto x = random_doubles(nx, 1), gy = random_doubles(ny, 2);
      std::vector<double> y(ny, 0.0), gx(nx, 0.0);
      for_each_weight(mode, n, c, h, w, s, [&](int64_t o, int64_t i, double wt) {
        y[size_t(o)] += wt * x[size_t(i)];
        gx[size_t(i)] += wt * gy[size_t(o)];
      });
      auto xf = cast_to<float>(x), gyf = cast_to<float>(gy);
      auto yf = poisoned<float>(ny), gxf = poisoned<float>(nx);
      kernels::cpu::upsample2d({DType::f32, mode, n, c, h, w, s, xf.data(), yf.data()});
      EXPECT_TRUE(all_close(yf, y, 1e-5, 1e-6)) << "forward";
      kernels::cpu::upsample2d_backward({DType::f32, mode, n, c, h, w, s, gyf.data(), gxf.data()});
      EXPECT_TRUE(all_close(gxf, gx, 1e-5, 1e-5)) << "backward";
      EXPECT_TRUE(check_gradient(
          [&](const double* in, double* out) {
            kernels::cpu::upsample2d({DType::f64, mode, n, c, h, w, s, in, out});
          },
          x, ny,
          [&](const double* u, double* g) {
            kernels::cpu::upsample2d_backward({DType::f64, mode, n, c, h, w, s, u, g});
          },
          61));
    }
  }
}

TEST(Upsample, BadParametersAreNamedErrors) {
  std::vector<float> x(16);
  EXPECT_THAT(
      [&] { kernels::cpu::upsample2d({DType::f32, UpsampleMode::bilinear, 1, 1, 2, 2, 0, x.data(), x.data()}); },
      ::testing::ThrowsMessage<Error>(::testing::HasSubstr("upsample2d: scale must be a positive integer, got 0")));
  EXPECT_THAT(
      [&] { kernels::cpu::upsample2d({DType::f32, UpsampleMode::nearest, 1, 0, 2, 2, 2, x.data(), x.data()}); },
      ::testing::ThrowsMessage<Error>(::testing::HasSubstr("upsample2d: input shape [1, 0, 2, 2]")));
}

}  // namespace
}  // namespace glia::test
