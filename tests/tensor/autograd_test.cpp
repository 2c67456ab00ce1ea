// Autograd semantics: accumulation, shared sub-expressions, no_grad, detach, views, the
// saved-tensor version check, in-place rules, retain_graph.
#include "tests/tensor/helpers.h"

namespace glia {
namespace {

Tensor vec(std::vector<double> v) { return from_vector(v, {static_cast<int64_t>(v.size())}); }

TEST(Autograd, GradientOfASimpleExpression) {
  Tensor x = vec({1, 2, 3}).requires_grad_();
  Tensor y = sum(x * x * 3.0);  // dy/dx = 6x
  EXPECT_FALSE(y.is_leaf());
  EXPECT_TRUE(x.is_leaf());
  y.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{6, 12, 18}));
}

TEST(Autograd, GradientsAccumulateOverTwoBackwardCalls) {
  Tensor x = vec({1, -2}).requires_grad_();
  sum(x * 2.0).backward();
  sum(x * x).backward();  // a second graph: 2 + 2x
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{4, -2}));
  x.set_grad(Tensor());
  sum(x).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 1}));
}

TEST(Autograd, SharedSubExpressionSumsBothPaths) {
  Tensor x = vec({0.5, 2}).requires_grad_();
  Tensor s = exp(x);        // used twice
  Tensor y = sum(s * s + s);  // dy/dx = 2 e^{2x} + e^x
  y.backward();
  auto g = x.grad().to_vector<double>();
  for (int i = 0; i < 2; ++i) {
    const double xv = i == 0 ? 0.5 : 2;
    EXPECT_NEAR(g[i], 2 * std::exp(2 * xv) + std::exp(xv), 1e-12);
  }
}

TEST(Autograd, SameLeafTwiceInOneOp) {
  Tensor x = vec({3}).requires_grad_();
  mul(x, x).backward(ones({1}, DType::f64));
  EXPECT_EQ(x.grad().item<double>(), 6.0);
}

TEST(Autograd, NoGradRecordsNothing) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor y;
  {
    NoGradGuard guard;
    EXPECT_FALSE(grad_enabled());
    y = x * 2.0;
  }
  EXPECT_TRUE(grad_enabled());
  EXPECT_FALSE(y.requires_grad());
  EXPECT_TRUE(y.is_leaf());
  EXPECT_THROW(sum(y).backward(), Error);
}

TEST(Autograd, EnableGradInsideNoGradRecordsAgain) {
  Tensor x = vec({1, 2}).requires_grad_();
  NoGradGuard off;
  Tensor y;
  {
    EnableGradGuard on;
    EXPECT_TRUE(grad_enabled());
    y = sum(x * x);
  }
  EXPECT_FALSE(grad_enabled());  // the NoGradGuard's setting is back
  EXPECT_TRUE(y.requires_grad());
  y.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 4}));
}

TEST(Autograd, DetachCutsTheGraphButSharesStorage) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor d = (x * 2.0).detach();
  EXPECT_FALSE(d.requires_grad());
  Tensor y = sum(x * d);  // d is a constant: dy/dx = d = 2x
  y.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 4}));
  Tensor a = x.detach();
  EXPECT_EQ(a.storage(), x.storage());
}

TEST(Autograd, GradientsFlowThroughViews) {
  Tensor x = from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}).requires_grad_();
  // slice scatters into zeros; expand sums; permute and reshape map back.
  Tensor y = sum(x.slice(1, 1, 3).permute({1, 0}).reshape({4}) * 2.0) + sum(x.select(0, 1).unsqueeze(0).expand({5, 3}));
  y.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 2, 2, 5, 7, 7}));
}

TEST(Autograd, InPlaceChangeOfASavedTensorIsAClearError) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor w = vec({3, 4});
  Tensor y = sum(x * w);  // mul saves w
  w.add_(1);
  try {
    y.backward();
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("saved for backward of mul was modified in place (version 1, saved at 0)"), std::string::npos) << m;
  }
}

TEST(Autograd, InPlaceOnAViewBumpsTheSharedVersion) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor a = x * 2.0;
  Tensor b = exp(a);  // saves a
  {
    NoGradGuard g;
    a.narrow(0, 0, 1).mul_(3);  // a view of a: same storage
  }
  EXPECT_THROW(sum(b).backward(), Error);
}

TEST(Autograd, InPlaceOnALeafThatRequiresGradIsAnError) {
  Tensor x = vec({1, 2}).requires_grad_();
  EXPECT_THROW(x.add_(1), Error);
  EXPECT_THROW(x.fill_(0), Error);
  Tensor y = x * 2.0;
  EXPECT_THROW(y.mul_(2), Error);  // part of the graph
  NoGradGuard g;
  x.add_(1);  // a parameter update
  EXPECT_EQ(x.to_vector<double>(), (std::vector<double>{2, 3}));
}

TEST(Autograd, BackwardOnNonScalarNeedsAGradient) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor y = x * 3.0;
  try {
    y.backward();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[2]"), std::string::npos) << e.what();
  }
  y.backward(vec({1, 10}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{3, 30}));
  EXPECT_THROW(y.backward(vec({1, 2, 3})), Error);
}

TEST(Autograd, SecondBackwardNeedsRetainGraph) {
  Tensor x = vec({2}).requires_grad_();
  Tensor y = sum(x * x);
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  EXPECT_EQ(x.grad().item<double>(), 8.0);
  EXPECT_THROW(y.backward(), Error);  // saved tensors freed by the last call
}

TEST(Autograd, OnlyInputsThatRequireGradGetOne) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor c = vec({5, 6});
  sum(x * c + c).backward();
  EXPECT_FALSE(c.grad().defined());
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{5, 6}));
  EXPECT_THROW(arange(3).requires_grad_(), Error);  // integer tensors cannot
}

TEST(Autograd, DtypeAndDeviceConversionsPassTheGradientBack) {
  Tensor x = vec({1.5, -2}).requires_grad_();
  Tensor y = sum(x.to(DType::f32) * 2.0);
  EXPECT_EQ(y.dtype(), DType::f32);
  y.backward();
  EXPECT_EQ(x.grad().dtype(), DType::f64);
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 2}));
  for (Device d : test::devices()) {
    Tensor z = vec({1, 2}).requires_grad_();
    Tensor on = z.to(d);
    EXPECT_EQ(on.device(), d);
    on.backward(ones({2}, DType::f64, d));
    EXPECT_EQ(z.grad().device(), Device::cpu);
    EXPECT_EQ(z.grad().to_vector<double>(), (std::vector<double>{1, 1})) << device_name(d);
  }
}

TEST(Autograd, GradFnNamesTheOp) {
  Tensor x = vec({1}).requires_grad_();
  EXPECT_EQ((x * 2.0).grad_fn()->name(), "mul_scalar");
  EXPECT_EQ(relu(x).grad_fn()->name(), "relu");
  EXPECT_EQ(x.grad_fn(), nullptr);
}

}  // namespace
}  // namespace glia

namespace glia {
namespace {

// The custom-op recipe of tensor/README.md, checked.
Tensor my_square(const Tensor& x) {
  Tensor y;
  {
    NoGradGuard g;
    y = mul(x, x);
  }
  record("my_square", y, {x}, {x}, [](const Tensor& g, const FunctionNode& n) {
    return std::vector<Tensor>{mul(mul(g, n.saved(0)), 2.0)};
  });
  return y;
}

TEST(Autograd, ReadmeCustomOpRecipe) {
  Tensor x = from_vector(std::vector<double>{1.5, -2}).requires_grad_();
  Tensor y = my_square(x);
  EXPECT_EQ(y.grad_fn()->name(), "my_square");
  sum(y).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{3, -4}));
}

TEST(Autograd, ReadmeExampleRuns) {
  manual_seed(1);
  Tensor w = randn({4, 3}, DType::f32, Device::cpu).requires_grad_();
  Tensor x = rand({8, 3});
  Tensor loss = cross_entropy(linear(x, w), from_vector(std::vector<int64_t>{0, 1, 2, 3, 0, 1, 2, 3}));
  loss.backward();
  ASSERT_TRUE(w.grad().defined());
  const float before = loss.item<float>();
  {
    NoGradGuard g;
    w.add_(w.grad(), -0.1);
  }
  // A small step against the gradient lowers the loss.
  EXPECT_LT(cross_entropy(linear(x, w), from_vector(std::vector<int64_t>{0, 1, 2, 3, 0, 1, 2, 3})).item<float>(),
            before);
}

}  // namespace
}  // namespace glia
