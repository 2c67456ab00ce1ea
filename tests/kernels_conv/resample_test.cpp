// Upsampling on cpu beyond the cross-backend harness (tests/kernels_ops checks every
// backend against the float64 reference on cases.h's shapes): a case computed by hand
// (PyTorch's values), finite differences, error messages.
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

TEST(Upsample, FiniteDifferences) {
  const int64_t n = 3, c = 5, h = 7, w = 9;
  for (UpsampleMode mode : {UpsampleMode::nearest, UpsampleMode::bilinear}) {
    for (int64_t s : {2, 3}) {
      SCOPED_TRACE(::testing::Message() << (mode == UpsampleMode::nearest ? "nearest" : "bilinear") << " x" << s);
      const size_t nx = size_t(n * c * h * w), ny = nx * size_t(s * s);
      EXPECT_TRUE(check_gradient(
          [&](const double* in, double* out) {
            kernels::cpu::upsample2d({DType::f64, mode, n, c, h, w, s, in, out});
          },
          random_doubles(nx, 1), ny,
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
