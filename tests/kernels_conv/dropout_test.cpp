// Dropout and stochastic depth: the mask is the documented Philox rule, reproducible from
// (seed, offset), independent of the thread count; kept values are scaled by 1 / (1 - p).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>

#include "kernels/dropout.h"
#include "kernels/error.h"
#include "kernels/philox.h"
#include "tests/kernels_conv/util.h"

namespace glia::test {
namespace {

template <class T>
void check_dropout(int64_t n, double p, uint64_t seed, uint64_t offset) {
  auto x = random_doubles(size_t(n), 1, 0.5, 1.5), gy = random_doubles(size_t(n), 2);
  auto xt = cast_to<T>(x), gyt = cast_to<T>(gy);
  auto y = poisoned<T>(size_t(n)), gx = poisoned<T>(size_t(n));
  std::vector<uint8_t> mask(size_t(n), 7);
  kernels::cpu::dropout({dtype_v<T>, n, p, seed, offset, xt.data(), y.data(), mask.data()});
  kernels::cpu::dropout_backward({dtype_v<T>, n, p, seed, offset, gyt.data(), gx.data()});
  const size_t count = static_cast<size_t>(n);
  std::vector<double> want_y(count), want_gx(count);
  int64_t mismatched_mask = 0;
  for (int64_t i = 0; i < n; ++i) {
    // The rule from kernels/dropout.h, spelled out with the raw Philox stream: kept when
    // the draw is below 1 - p, as tensor's bernoulli(1 - p) decides.
    bool keep = double(philox_uniform(philox_bits(seed, offset, uint64_t(i)))) < 1 - p;
    want_y[size_t(i)] = keep ? x[size_t(i)] / (1 - p) : 0.0;
    want_gx[size_t(i)] = keep ? gy[size_t(i)] / (1 - p) : 0.0;
    mismatched_mask += mask[size_t(i)] != (keep ? 1 : 0);
  }
  EXPECT_EQ(mismatched_mask, 0);
  EXPECT_TRUE(all_close(y, want_y, rtol_for<T>(), 0)) << "forward";
  EXPECT_TRUE(all_close(gx, want_gx, rtol_for<T>(), 0)) << "backward";
}

TEST(Dropout, MatchesPhiloxRuleForwardAndBackward) {
  check_dropout<float>(1001, 0.3, 42, 0);
  check_dropout<double>(1001, 0.3, 42, 17);
  check_dropout<float>(7, 0.5, 1, 5);
  check_dropout<float>(100, 0.0, 3, 0);
}

TEST(Dropout, SameSeedAndOffsetSameMaskAnyThreadCount) {
  const int64_t n = 200003;  // above the parallel threshold, not a multiple of 4
  const size_t count = static_cast<size_t>(n);
  std::vector<float> x(count, 1.f), a(count), b(count), c(count);
  std::vector<uint8_t> ma(count), mb(count), mc(count);
  int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  kernels::cpu::dropout({DType::f32, n, 0.25, 9, 4, x.data(), a.data(), ma.data()});
  omp_set_num_threads(std::max(2, saved));
  kernels::cpu::dropout({DType::f32, n, 0.25, 9, 4, x.data(), b.data(), mb.data()});
  omp_set_num_threads(saved);
  EXPECT_EQ(ma, mb);
  EXPECT_EQ(a, b);
  kernels::cpu::dropout({DType::f32, n, 0.25, 9, 5, x.data(), c.data(), mc.data()});
  EXPECT_NE(ma, mc) << "a different offset must give a different mask";
  // Mean preserved: E[y] = 1 for x = 1; the kept fraction is 1 - p within 5 sigma.
  double sum = 0, kept = 0;
  for (int64_t i = 0; i < n; ++i) sum += a[size_t(i)], kept += ma[size_t(i)];
  double sigma = std::sqrt(0.25 * 0.75 / double(n));
  EXPECT_NEAR(kept / double(n), 0.75, 5 * sigma);
  EXPECT_NEAR(sum / double(n), 1.0, 5 * sigma / 0.75);
}

TEST(Dropout, ProbabilityOneDropsEverything) {
  std::vector<float> x(9, 2.f), y(9, NAN);
  kernels::cpu::dropout({DType::f32, 9, 1.0, 1, 0, x.data(), y.data(), nullptr});
  for (float v : y) EXPECT_EQ(v, 0.f);
}

TEST(Dropout, FiniteDifferences) {
  auto x = random_doubles(37, 3);
  EXPECT_TRUE(check_gradient(
      [&](const double* in, double* y) { kernels::cpu::dropout({DType::f64, 37, 0.4, 5, 2, in, y, nullptr}); }, x, 37,
      [&](const double* u, double* gx) { kernels::cpu::dropout_backward({DType::f64, 37, 0.4, 5, 2, u, gx}); }, 51));
}

TEST(StochasticDepth, DropsWholeSamplesWithOneDrawEach) {
  const int64_t batch = 64, per = 3 * 5 * 7;
  const double p = 0.3;
  auto x = random_doubles(size_t(batch * per), 4);
  auto y = poisoned<double>(x.size());
  kernels::cpu::stochastic_depth({DType::f64, batch, per, p, 11, 3, x.data(), y.data()});
  int kept = 0;
  for (int64_t b = 0; b < batch; ++b) {
    bool keep = double(philox_uniform(philox_bits(11, 3, uint64_t(b)))) < 1 - p;
    kept += keep;
    for (int64_t j = 0; j < per; ++j) {
      size_t i = size_t(b * per + j);
      EXPECT_DOUBLE_EQ(y[i], keep ? x[i] / (1 - p) : 0.0) << "sample " << b << " element " << j;
    }
  }
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, batch);
  // The backward is the same op on gy: a linear map, so finite differences agree.
  EXPECT_TRUE(check_gradient(
      [&](const double* in, double* out) {
        kernels::cpu::stochastic_depth({DType::f64, batch, per, p, 11, 3, in, out});
      },
      x, x.size(),
      [&](const double* u, double* gx) { kernels::cpu::stochastic_depth({DType::f64, batch, per, p, 11, 3, u, gx}); },
      52));
}

// The integer threshold decides exactly as the double comparison u < 1 - p does, at the
// draws either side of the boundary (where a float comparison of p would round).
TEST(Dropout, IntegerThresholdEqualsDoubleComparisonAtTheBoundary) {
  for (double p : {0.0, 0.1, 0.2, 0.25, 1.0 / 3.0, 0.5, 0.7, 0.999999, 1.0}) {
    const uint32_t t = kernels::dropout_threshold(p);
    const auto edge = static_cast<int64_t>((1 - p) * 16777216.0);
    for (int64_t m = std::max<int64_t>(edge - 2, 0); m <= std::min<int64_t>(edge + 2, (1 << 24) - 1); ++m) {
      const bool want = double(philox_uniform(uint32_t(m) << 8)) < 1 - p;
      EXPECT_EQ(kernels::dropout_keep_bits(uint32_t(m) << 8 | 0xff, t), want) << "p=" << p << " m=" << m;
    }
  }
}

TEST(Dropout, BadProbabilityIsNamedError) {
  std::vector<float> x(4);
  EXPECT_THAT([&] { kernels::cpu::dropout({DType::f32, 4, 1.5, 0, 0, x.data(), x.data(), nullptr}); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("dropout: drop probability p=1.5 must be in [0, 1]")));
  EXPECT_THAT([&] { kernels::cpu::stochastic_depth({DType::f32, 2, 2, -0.1, 0, 0, x.data(), x.data()}); },
              ::testing::ThrowsMessage<Error>(::testing::HasSubstr("stochastic_depth: drop probability p=-0.1")));
}

}  // namespace
}  // namespace glia::test
