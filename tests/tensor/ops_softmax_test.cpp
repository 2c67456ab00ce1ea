// softmax / log_softmax over every dim, cross-entropy (indices, probabilities, label
// smoothing, reductions) and BCE with logits against a double reference.
#include "tests/tensor/helpers.h"

namespace glia {
namespace {

using test::expect_close;
using test::random_tensor;
using test::values_of;

class Softmax : public ::testing::TestWithParam<Device> {};

std::vector<double> ref_softmax(const std::vector<double>& x, const Shape& shape, int64_t dim, bool log) {
  std::vector<double> y(x.size());
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= shape[static_cast<size_t>(d)];
  for (size_t d = static_cast<size_t>(dim) + 1; d < shape.size(); ++d) inner *= shape[d];
  const int64_t n = shape[static_cast<size_t>(dim)];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t k) { return static_cast<size_t>((o * n + k) * inner + i); };
      double m = -INFINITY, s = 0;
      for (int64_t k = 0; k < n; ++k) m = std::max(m, x[at(k)]);
      for (int64_t k = 0; k < n; ++k) s += std::exp(x[at(k)] - m);
      for (int64_t k = 0; k < n; ++k) y[at(k)] = log ? x[at(k)] - m - std::log(s) : std::exp(x[at(k)] - m) / s;
    }
  return y;
}

TEST_P(Softmax, SoftmaxAndLogSoftmaxOverEveryDim) {
  const Device dev = GetParam();
  for (DType dt : test::float_dtypes()) {
    Tensor x = random_tensor({3, 5, 7}, dt, dev, 81, 5);
    for (int64_t d = -1; d < 3; ++d) {
      const int64_t nd = d < 0 ? d + 3 : d;
      expect_close(values_of(softmax(x, d)), ref_softmax(values_of(x), {3, 5, 7}, nd, false), dt,
                   "softmax dim " + std::to_string(d));
      expect_close(values_of(log_softmax(x, d)), ref_softmax(values_of(x), {3, 5, 7}, nd, true), dt,
                   "log_softmax dim " + std::to_string(d));
    }
    // Large logits must not overflow.
    Tensor big = from_vector(std::vector<double>{1000, 0, -1000}, {1, 3}, dt, dev);
    auto s = values_of(softmax(big, 1));
    EXPECT_NEAR(s[0], 1.0, 1e-6);
    EXPECT_EQ(s[2], 0.0);
  }
}

// Per-sample loss: -sum_c q_c log_softmax(x)_c, q = (1-eps) t + eps / C.
std::vector<double> ref_cross_entropy(const std::vector<double>& x, const std::vector<double>& t, int64_t n, int64_t c,
                                      double eps) {
  auto ls = ref_softmax(x, {n, c}, 1, true);
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t k = 0; k < c; ++k) {
      const size_t j = static_cast<size_t>(i * c + k);
      s -= ((1 - eps) * t[j] + eps / static_cast<double>(c)) * ls[j];
    }
    out[static_cast<size_t>(i)] = s;
  }
  return out;
}

TEST_P(Softmax, CrossEntropyWithIndicesAndProbabilities) {
  const Device dev = GetParam();
  const int64_t n = 5, c = 7;
  std::vector<int64_t> idx{3, 0, 6, 2, 2};
  std::vector<double> onehot(static_cast<size_t>(n * c), 0.0);
  for (int64_t i = 0; i < n; ++i) onehot[static_cast<size_t>(i * c + idx[static_cast<size_t>(i)])] = 1;
  for (DType dt : test::float_dtypes()) {
    Tensor logits = random_tensor({n, c}, dt, dev, 91, 3);
    Tensor target = from_vector(idx, {n}, dev);
    // Soft targets: a random distribution per row.
    auto raw = test::random_values(n * c, 92);
    std::vector<double> probs(raw.size());
    for (int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (int64_t k = 0; k < c; ++k) s += std::fabs(raw[static_cast<size_t>(i * c + k)]);
      for (int64_t k = 0; k < c; ++k) probs[static_cast<size_t>(i * c + k)] = std::fabs(raw[static_cast<size_t>(i * c + k)]) / s;
    }
    Tensor ptarget = from_vector(probs, {n, c}, dt, dev);
    auto lv = values_of(logits);
    for (double eps : {0.0, 0.1}) {
      auto want = ref_cross_entropy(lv, onehot, n, c, eps);
      expect_close(values_of(cross_entropy(logits, target, Reduction::none, eps)), want, dt, "ce none");
      double total = 0;
      for (double v : want) total += v;
      expect_close(values_of(cross_entropy(logits, target, Reduction::sum, eps)), {total}, dt, "ce sum");
      expect_close(values_of(cross_entropy(logits, target, Reduction::mean, eps)), {total / n}, dt, "ce mean");
      expect_close(values_of(cross_entropy(logits, ptarget, Reduction::none, eps)),
                   ref_cross_entropy(lv, values_of(ptarget), n, c, eps), dt, "ce probabilities");
    }
  }
}

TEST_P(Softmax, BinaryCrossEntropyWithLogits) {
  const Device dev = GetParam();
  for (DType dt : test::float_dtypes()) {
    Tensor x = random_tensor({3, 5, 7}, dt, dev, 101, 30);  // large logits too
    Tensor t = abs(random_tensor({3, 5, 7}, dt, dev, 102));
    auto xv = values_of(x), tv = values_of(t);
    std::vector<double> want;
    double total = 0;
    for (size_t i = 0; i < xv.size(); ++i) {
      const double p = 1 / (1 + std::exp(-xv[i]));
      // log(1 - p) written stably for large x: log(sigmoid(-x)) = -x - log(1 + e^{-x}).
      const double log_p = -std::log1p(std::exp(-xv[i]));
      const double log_1mp = -xv[i] - std::log1p(std::exp(-xv[i]));
      (void)p;
      want.push_back(-(tv[i] * log_p + (1 - tv[i]) * log_1mp));
      total += want.back();
    }
    expect_close(values_of(binary_cross_entropy_with_logits(x, t, Reduction::none)), want, dt, "bce none", 4);
    expect_close(values_of(binary_cross_entropy_with_logits(x, t)), {total / 105}, dt, "bce mean", 4);
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, Softmax, ::testing::ValuesIn(test::devices()), test::device_param_name);

}  // namespace
}  // namespace glia
