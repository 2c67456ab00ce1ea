// CPU softmax family and fused losses against double references written here.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/softmax.h"
#include "tests/support/random_data.h"

namespace glia::kernels {
namespace {

struct Shape {
  int64_t outer, dim, inner;
};
// inner == 1 (row path), lane blocks (32) with a remainder, a single class, threaded sizes
const Shape kShapes[] = {{3, 5, 7}, {4, 11, 1}, {2, 3, 70}, {5, 1, 3}, {4, 201, 41}, {80, 411, 1}};

// softmax of x along dim, in double; every element at (o, r, i) -> y.
std::vector<double> softmax_reference(const Shape& s, const std::vector<double>& x, bool log) {
  std::vector<double> y(x.size());
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t i = 0; i < s.inner; ++i) {
      auto at = [&](int64_t r) { return static_cast<size_t>((o * s.dim + r) * s.inner + i); };
      double mx = -INFINITY, sum = 0;
      for (int64_t r = 0; r < s.dim; ++r) mx = std::max(mx, x[at(r)]);
      for (int64_t r = 0; r < s.dim; ++r) sum += std::exp(x[at(r)] - mx);
      for (int64_t r = 0; r < s.dim; ++r) y[at(r)] = log ? x[at(r)] - mx - std::log(sum) : std::exp(x[at(r)] - mx) / sum;
    }
  return y;
}

template <class T>
class SoftmaxTest : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(SoftmaxTest, FloatTypes);

TYPED_TEST(SoftmaxTest, ForwardAndBackwardMatchReference) {
  using T = TypeParam;
  uint32_t seed = 1;
  for (const Shape& s : kShapes)
    for (bool log : {false, true}) {
      const size_t n = static_cast<size_t>(s.outer * s.dim * s.inner);
      const auto x = test::random_vector<T>(n, seed++, -6, 6);
      const auto gy = test::random_vector<T>(n, seed++);
      auto y = test::poisoned<T>(n), gx = test::poisoned<T>(n);
      SoftmaxParams p;
      p.dtype = dtype_of<T>::value;
      p.log = log;
      p.outer = s.outer;
      p.dim = s.dim;
      p.inner = s.inner;
      p.x = x.data();
      p.y = y.data();
      cpu::softmax(p);
      const auto y_ref = softmax_reference(s, test::cast_vector<double>(x), log);
      const std::string where = std::string(log ? "log_softmax" : "softmax") + " [" + std::to_string(s.outer) +
                                "," + std::to_string(s.dim) + "," + std::to_string(s.inner) + "]";
      EXPECT_LE(test::max_rel_error(y, y_ref, 1e-3), test::tolerance<T>()) << where;

      // Backward as a Jacobian-vector product from the softmax probabilities p:
      // softmax: dy_r/dx_q = p_r (delta_rq - p_q); log_softmax: delta_rq - p_q.
      const auto prob = softmax_reference(s, test::cast_vector<double>(x), false);
      std::vector<double> gx_ref(n, 0.0);
      for (int64_t o = 0; o < s.outer; ++o)
        for (int64_t i = 0; i < s.inner; ++i)
          for (int64_t q = 0; q < s.dim; ++q) {
            const size_t aq = static_cast<size_t>((o * s.dim + q) * s.inner + i);
            for (int64_t r = 0; r < s.dim; ++r) {
              const size_t ar = static_cast<size_t>((o * s.dim + r) * s.inner + i);
              const double jac = log ? (r == q) - prob[aq] : prob[ar] * ((r == q) - prob[aq]);
              gx_ref[aq] += gy[ar] * jac;
            }
          }
      SoftmaxBackwardParams b;
      b.dtype = p.dtype;
      b.log = log;
      b.outer = s.outer;
      b.dim = s.dim;
      b.inner = s.inner;
      b.y = y.data();
      b.gy = gy.data();
      b.gx = gx.data();
      cpu::softmax_backward(b);
      // absolute below 0.1: gx sums to zero along dim, so entries cancel
      EXPECT_LE(test::max_rel_error(gx, gx_ref, 0.1), 2 * test::tolerance<T>()) << where << " backward";
    }
}

TEST(SoftmaxStability, HugeLogitsStayFinite) {
  const std::vector<float> x = {1000.f, 999.f, -1000.f, 1000.f};
  std::vector<float> y(4, NAN), ly(4, NAN);
  SoftmaxParams p;
  p.dim = 4;
  p.x = x.data();
  p.y = y.data();
  cpu::softmax(p);
  p.log = true;
  p.y = ly.data();
  cpu::softmax(p);
  const double e = std::exp(-1.0), z = 2 + e;
  EXPECT_LE(test::max_rel_error(y, {1 / z, e / z, 0, 1 / z}, 1e-6), 1e-6);
  EXPECT_LE(test::max_rel_error(ly, {-std::log(z), -1 - std::log(z), -2000 - std::log(z), -std::log(z)}, 1.0), 1e-6);
}

// Per-sample cross-entropy in double, PyTorch semantics:
// loss = -sum_c ((1-eps) t_c + eps/C) log p_c with t one-hot (indices) or given (probs).
std::vector<double> cross_entropy_reference(int64_t n, int64_t C, const std::vector<double>& logits,
                                            const std::vector<int64_t>* index, const std::vector<double>* prob,
                                            double eps, std::vector<double>* grad_per_unit) {
  std::vector<double> loss(static_cast<size_t>(n));
  if (grad_per_unit) grad_per_unit->assign(static_cast<size_t>(n * C), 0);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> row(logits.begin() + i * C, logits.begin() + (i + 1) * C);
    double mx = row[0], sum = 0;
    for (double v : row) mx = std::max(mx, v);
    for (double v : row) sum += std::exp(v - mx);
    double l = 0;
    for (int64_t c = 0; c < C; ++c) {
      const double logp = row[c] - mx - std::log(sum);
      const double t = index ? ((*index)[i] == c ? 1.0 : 0.0) : (*prob)[i * C + c];
      const double smoothed = (1 - eps) * t + eps / C;
      l -= smoothed * logp;
      if (grad_per_unit) (*grad_per_unit)[i * C + c] = std::exp(logp) - smoothed;
    }
    loss[i] = l;
  }
  return loss;
}

template <class T>
void check_cross_entropy(bool use_index, double eps, uint32_t seed) {
  const int64_t n = 9, C = 7;
  const auto logits = test::random_vector<T>(static_cast<size_t>(n * C), seed, -4, 4);
  const auto index = test::random_ints(static_cast<size_t>(n), seed + 1, 0, C);
  // probability rows: positive, normalised
  auto prob_d = test::random_doubles(static_cast<size_t>(n * C), seed + 2, 0.1, 1.0);
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t c = 0; c < C; ++c) s += prob_d[i * C + c];
    for (int64_t c = 0; c < C; ++c) prob_d[i * C + c] /= s;
  }
  const auto prob = test::cast_vector<T>(prob_d);
  const auto grad_loss = test::random_vector<T>(static_cast<size_t>(n), seed + 3);
  auto loss = test::poisoned<T>(static_cast<size_t>(n));
  auto grad = test::poisoned<T>(static_cast<size_t>(n * C));

  CrossEntropyParams p;
  p.dtype = dtype_of<T>::value;
  p.n = n;
  p.classes = C;
  p.logits = logits.data();
  if (use_index) p.target_index = index.data();
  else p.target_prob = prob.data();
  p.label_smoothing = eps;
  p.loss = loss.data();
  cpu::cross_entropy(p);
  CrossEntropyBackwardParams b;
  b.forward = p;
  b.grad_loss = grad_loss.data();
  b.grad_logits = grad.data();
  cpu::cross_entropy_backward(b);

  const auto prob_cast = test::cast_vector<double>(prob);
  std::vector<double> unit_grad;
  const auto ref = cross_entropy_reference(n, C, test::cast_vector<double>(logits), use_index ? &index : nullptr,
                                           use_index ? nullptr : &prob_cast, eps, &unit_grad);
  std::vector<double> grad_ref(unit_grad.size());
  for (size_t j = 0; j < grad_ref.size(); ++j) grad_ref[j] = unit_grad[j] * double(grad_loss[j / C]);
  EXPECT_LE(test::max_rel_error(loss, ref, 1e-2), test::tolerance<T>()) << "index=" << use_index << " eps=" << eps;
  // A probability row cast to float sums to 1 only to ~1e-7, hence the looser bound there.
  const double gtol = use_index || std::is_same_v<T, double> ? test::tolerance<T>() : 1e-5;
  EXPECT_LE(test::max_rel_error(grad, grad_ref, 1e-2), gtol) << "index=" << use_index << " eps=" << eps << " backward";
}

TYPED_TEST(SoftmaxTest, CrossEntropyIndicesProbabilitiesAndLabelSmoothing) {
  uint32_t seed = 10;
  for (bool use_index : {true, false})
    for (double eps : {0.0, 0.1, 0.3}) check_cross_entropy<TypeParam>(use_index, eps, seed += 5);
}

// Values printed by PyTorch 1.13: F.cross_entropy(logits, target, label_smoothing=...,
// reduction='none') for logits [[1,2,3],[0.5,-1,2]] in float64.
TEST(CrossEntropyPyTorch, MatchesRecordedValues) {
  const std::vector<double> logits = {1, 2, 3, 0.5, -1, 2};
  const std::vector<int64_t> index = {0, 2};
  const std::vector<double> prob = {0.2, 0.3, 0.5, 0.6, 0.4, 0.0};
  std::vector<double> loss(2, NAN);
  CrossEntropyParams p;
  p.dtype = DType::f64;
  p.n = 2;
  p.classes = 3;
  p.logits = logits.data();
  p.target_index = index.data();
  p.label_smoothing = 0.1;
  p.loss = loss.data();
  cpu::cross_entropy(p);
  EXPECT_LE(test::max_rel_error(loss, {2.3076059644443805, 0.391311296657157}), 1e-12);
  p.target_index = nullptr;
  p.target_prob = prob.data();
  p.label_smoothing = 0.2;
  cpu::cross_entropy(p);
  EXPECT_LE(test::max_rel_error(loss, {1.1676059644443804, 2.221311296657157}), 1e-12);
}

TEST(CrossEntropyErrors, BadTargetIndexNamesIndexAndSample) {
  const std::vector<float> logits(15, 0.5f);
  std::vector<float> loss(3);
  for (int64_t bad : {int64_t{5}, int64_t{-1}}) {
    const std::vector<int64_t> index = {0, 4, bad};
    CrossEntropyParams p;
    p.n = 3;
    p.classes = 5;
    p.logits = logits.data();
    p.target_index = index.data();
    p.loss = loss.data();
    try {
      cpu::cross_entropy(p);
      ADD_FAILURE() << "expected an error for target " << bad;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("target index " + std::to_string(bad)), std::string::npos) << msg;
      EXPECT_NE(msg.find("sample 2"), std::string::npos) << msg;
    }
  }
  CrossEntropyParams p;
  p.dtype = DType::u8;
  p.n = 1;
  p.classes = 1;
  try {
    cpu::cross_entropy(p);
    ADD_FAILURE() << "expected an error for uint8";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("uint8"), std::string::npos) << e.what();
  }
}

TYPED_TEST(SoftmaxTest, BceWithLogitsMatchesNaiveFormulaAndIsStable) {
  using T = TypeParam;
  const size_t n = 37;
  const auto x = test::random_vector<T>(n, 3, -6, 6);
  const auto t = test::random_vector<T>(n, 4, 0, 1, 0);
  const auto g = test::random_vector<T>(n, 5);
  auto loss = test::poisoned<T>(n), gx = test::poisoned<T>(n);
  BceWithLogitsParams p;
  p.dtype = dtype_of<T>::value;
  p.n = static_cast<int64_t>(n);
  p.logits = x.data();
  p.target = t.data();
  p.loss = loss.data();
  cpu::bce_with_logits(p);
  BceWithLogitsBackwardParams b;
  b.forward = p;
  b.grad_loss = g.data();
  b.grad_logits = gx.data();
  cpu::bce_with_logits_backward(b);
  std::vector<double> loss_ref(n), gx_ref(n);
  for (size_t i = 0; i < n; ++i) {
    const double s = 1 / (1 + std::exp(-double(x[i])));
    loss_ref[i] = -(t[i] * std::log(s) + (1 - double(t[i])) * std::log(1 - s));
    gx_ref[i] = (s - t[i]) * double(g[i]);
  }
  EXPECT_LE(test::max_rel_error(loss, loss_ref, 1e-2), (std::is_same_v<T, float> ? 1e-5 : 1e-10));
  EXPECT_LE(test::max_rel_error(gx, gx_ref, 1e-2), test::tolerance<T>());

  // |x| = 100: the naive form overflows/underflows, the stable one gives ~|x| or ~0
  const std::vector<T> big = {100, -100}, target = {0, 1};
  std::vector<T> big_loss(2, NAN);
  p.n = 2;
  p.logits = big.data();
  p.target = target.data();
  p.loss = big_loss.data();
  cpu::bce_with_logits(p);
  EXPECT_LE(test::max_rel_error(big_loss, {100.0, 100.0}), 1e-6);
}

}  // namespace
}  // namespace glia::kernels
