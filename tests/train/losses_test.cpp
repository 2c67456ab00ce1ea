// Losses: values against hand-computed cases, gradients against central differences.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "kernels/error.h"
#include "tensor/autograd.h"
#include "train/losses.h"

namespace glia {
namespace {

Tensor f64(const std::vector<double>& v, const Shape& shape) { return from_vector(v, shape); }

TEST(Losses, BinaryCrossEntropyOfKnownProbabilities) {
  // sigmoid(0) = 1/2 against 1: ln 2; sigmoid(ln 3) = 3/4 against 0: -ln(1/4) = ln 4.
  Tensor loss = binary_cross_entropy(f64({0.0, std::log(3.0)}, {2}), f64({1, 0}, {2}));
  EXPECT_NEAR(loss.item<double>(), 1.5 * std::log(2.0), 1e-14);
}

TEST(Losses, SoftDiceBatchAndPerSample) {
  Tensor logits = zeros({2, 2}, DType::f64);  // p = 1/2 everywhere
  Tensor target = f64({1, 1, 0, 0}, {2, 2});
  // batch: intersection 1, sum p + sum t = 2 + 2 = 4 -> 1 - (2 + 1) / (4 + 1) = 0.4
  EXPECT_NEAR(soft_dice_loss(logits, target).item<double>(), 0.4, 1e-14);
  // per sample: (2 + 1) / (3 + 1) = 3/4 and (0 + 1) / (1 + 1) = 1/2 -> 1 - 5/8
  EXPECT_NEAR(soft_dice_loss(logits, target, {1.0, true}).item<double>(), 0.375, 1e-14);
  // Empty target, nothing predicted: near-zero loss, not NaN.
  Tensor confident_empty = full({1, 4}, -30.0, DType::f64);
  EXPECT_NEAR(soft_dice_loss(confident_empty, zeros({1, 4}, DType::f64)).item<double>(), 0.0, 1e-12);
}

TEST(Losses, BceDiceIsTheWeightedSum) {
  Tensor logits = f64({0.3, -1.2, 2.0, 0.1}, {1, 1, 2, 2});
  Tensor target = f64({1, 0, 1, 0}, {1, 1, 2, 2});
  double bce = binary_cross_entropy(logits, target).item<double>();
  double dice = soft_dice_loss(logits, target).item<double>();
  EXPECT_NEAR(bce_dice_loss(logits, target, {0.5, 2.0, {}}).item<double>(), 0.5 * bce + 2.0 * dice, 1e-14);
}

TEST(Losses, CrossEntropyWithLabelSmoothingMatchesTheFormula) {
  Tensor logits = f64({1, 2, 3}, {1, 3});
  Tensor target = from_vector<int64_t>({2}, {1});
  double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  double expected = 0.9 * (lse - 3) + 0.1 * (lse - 2);  // (1-eps) nll + eps * mean_c(-log p_c)
  EXPECT_NEAR(categorical_cross_entropy(logits, target, 0.1).item<double>(), expected, 1e-14);
  EXPECT_THROW(categorical_cross_entropy(logits, target, 1.5), Error);
}

// Central differences of loss(logits) against autograd's gradient, in float64.
void expect_gradient_matches(const std::function<Tensor(const Tensor&)>& loss, const std::vector<double>& x0,
                             const Shape& shape) {
  Tensor x = f64(x0, shape).requires_grad_();
  loss(x).backward();
  std::vector<double> analytic = x.grad().to_vector<double>();
  const double h = 1e-6;
  for (size_t i = 0; i < x0.size(); ++i) {
    std::vector<double> up = x0, down = x0;
    up[i] += h;
    down[i] -= h;
    double numeric = (loss(f64(up, shape)).item<double>() - loss(f64(down, shape)).item<double>()) / (2 * h);
    EXPECT_NEAR(analytic[i], numeric, 1e-7 * (1 + std::abs(numeric))) << "element " << i;
  }
}

TEST(Losses, GradientsMatchFiniteDifferences) {
  std::vector<double> x0 = {0.3, -1.2, 2.0, 0.1, -0.7, 1.4};
  Tensor target = f64({1, 0, 1, 0, 0, 1}, {2, 1, 3});
  expect_gradient_matches([&](const Tensor& x) { return soft_dice_loss(x, target); }, x0, {2, 1, 3});
  expect_gradient_matches([&](const Tensor& x) { return soft_dice_loss(x, target, {0.5, true}); }, x0, {2, 1, 3});
  expect_gradient_matches([&](const Tensor& x) { return bce_dice_loss(x, target); }, x0, {2, 1, 3});
  Tensor classes = from_vector<int64_t>({2, 0}, {2});
  expect_gradient_matches([&](const Tensor& x) { return categorical_cross_entropy(x, classes, 0.2); }, x0, {2, 3});
}

TEST(Losses, ShapeMismatchNamesBothShapes) {
  try {
    soft_dice_loss(zeros({2, 3}, DType::f64), zeros({3, 2}, DType::f64));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 3]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[3, 2]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(binary_cross_entropy(zeros({2}, DType::f64), zeros({3}, DType::f64)), Error);
}

}  // namespace
}  // namespace glia
