// Generator: determinism (seed, state restore, devices, thread count) and distributions.
#include <omp.h>

#include <algorithm>
#include <numeric>

#include "tensor/random.h"
#include "tests/tensor/helpers.h"

namespace glia {
namespace {

TEST(Random, SameSeedSameNumbersDifferentSeedDifferentNumbers) {
  Generator a(42), b(42), c(43);
  auto x = rand({1000}, DType::f64, Device::cpu, &a).to_vector<double>();
  auto y = rand({1000}, DType::f64, Device::cpu, &b).to_vector<double>();
  auto z = rand({1000}, DType::f64, Device::cpu, &c).to_vector<double>();
  EXPECT_EQ(x, y);
  EXPECT_NE(x, z);
  // Consecutive draws differ (the offset advances).
  EXPECT_NE(rand({1000}, DType::f64, Device::cpu, &a).to_vector<double>(), x);
}

TEST(Random, StateRestoresTheStream) {
  Generator g(7);
  randn({13}, DType::f32, Device::cpu, &g);
  const GeneratorState s = g.state();
  EXPECT_EQ(s.seed, 7u);
  EXPECT_GT(s.offset, 0u);
  auto first = randn({50}, DType::f32, Device::cpu, &g).to_vector<float>();
  g.set_state(s);
  EXPECT_EQ(randn({50}, DType::f32, Device::cpu, &g).to_vector<float>(), first);
}

TEST(Random, DefaultGeneratorFollowsManualSeed) {
  manual_seed(123);
  auto a = rand({20}).to_vector<float>();
  manual_seed(123);
  EXPECT_EQ(rand({20}).to_vector<float>(), a);
}

TEST(Random, IndependentOfThreadCount) {
  const int saved = omp_get_max_threads();
  Generator g1(5), g2(5);
  omp_set_num_threads(1);
  auto one = randn({1 << 17}, DType::f32, Device::cpu, &g1).to_vector<float>();
  omp_set_num_threads(std::max(2, saved));
  auto many = randn({1 << 17}, DType::f32, Device::cpu, &g2).to_vector<float>();
  omp_set_num_threads(saved);
  EXPECT_EQ(one, many);
}

TEST(Random, SameNumbersOnEveryDevice) {
  for (Device d : test::devices()) {
    Generator a(9), b(9);
    EXPECT_EQ(randn({3, 5, 7}, DType::f32, d, &a).to_vector<float>(),
              randn({3, 5, 7}, DType::f32, Device::cpu, &b).to_vector<float>())
        << device_name(d);
  }
}

// Mean within 5 standard errors and variance within 5% of the truth for n = 200000: a
// wrong scale, shift or a broken Box-Muller fails by far more.
void expect_moments(const std::vector<double>& v, double mean, double var, const char* what) {
  const double n = static_cast<double>(v.size());
  const double m = std::accumulate(v.begin(), v.end(), 0.0) / n;
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  s /= n - 1;
  EXPECT_NEAR(m, mean, 5 * std::sqrt(var / n)) << what;
  EXPECT_NEAR(s, var, 0.05 * var) << what;
}

TEST(Random, DistributionsHaveTheRightMoments) {
  Generator g(2024);
  const int64_t n = 200000;
  auto u = uniform({n}, -1, 3, DType::f64, Device::cpu, &g).to_vector<double>();
  expect_moments(u, 1.0, 16.0 / 12.0, "uniform(-1, 3)");
  EXPECT_GE(*std::min_element(u.begin(), u.end()), -1.0);
  EXPECT_LT(*std::max_element(u.begin(), u.end()), 3.0);
  expect_moments(normal({n}, 2, 0.5, DType::f64, Device::cpu, &g).to_vector<double>(), 2.0, 0.25, "normal(2, 0.5)");
  expect_moments(bernoulli({n}, 0.3, DType::f64, Device::cpu, &g).to_vector<double>(), 0.3, 0.21, "bernoulli(0.3)");
  // A normal's tails: about 4.55% beyond 2 sigma.
  auto z = randn({n}, DType::f64, Device::cpu, &g).to_vector<double>();
  const double beyond = static_cast<double>(std::count_if(z.begin(), z.end(), [](double x) { return std::fabs(x) > 2; })) / n;
  EXPECT_NEAR(beyond, 0.0455, 0.003);
}

TEST(Random, RandpermIsAPermutationAndShuffles) {
  Generator g(11);
  auto p = randperm(1000, Device::cpu, &g).to_vector<int64_t>();
  auto sorted = p;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> iota(1000);
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);
  int fixed = 0;
  for (int64_t i = 0; i < 1000; ++i) fixed += p[static_cast<size_t>(i)] == i;
  EXPECT_LT(fixed, 10);  // expected about 1 fixed point
  Generator h(11);
  EXPECT_EQ(randperm(1000, Device::cpu, &h).to_vector<int64_t>(), p);
  EXPECT_EQ(randperm(0).numel(), 0);
}

TEST(Random, BadArgumentsAreErrors) {
  EXPECT_THROW(bernoulli({3}, 1.5), Error);
  EXPECT_THROW(uniform({3}, 2, 1), Error);
  EXPECT_THROW(rand({3}, DType::i64), Error);
  EXPECT_THROW(randperm(-1), Error);
}

}  // namespace
}  // namespace glia
