// Every differentiable op: autograd's gradient against central finite differences in
// float64 (gradcheck), including broadcasting and views, on every available device.
#include "tensor/gradcheck.h"
#include "tests/tensor/helpers.h"

namespace glia {
namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

class Gradcheck : public ::testing::TestWithParam<Device> {
 protected:
  Tensor input(const Shape& shape, uint64_t seed, double scale = 1) {
    return test::random_tensor(shape, DType::f64, GetParam(), seed, scale).requires_grad_();
  }
  void check(const char* what, const Fn& fn, const std::vector<Tensor>& inputs) {
    SCOPED_TRACE(what);
    GradcheckResult r = gradcheck(fn, inputs);
    EXPECT_TRUE(r.ok) << what << ": " << r.message;
  }
};

TEST_P(Gradcheck, BinaryOpsWithBroadcasting) {
  Tensor a = input({3, 5, 7}, 1), b = input({5, 1}, 2), c = input({7}, 3);
  check("add", [](auto& in) { return in[0] + in[1]; }, {a, b});
  check("sub", [](auto& in) { return in[0] - in[1]; }, {a, c});
  check("mul", [](auto& in) { return in[0] * in[1]; }, {a, b});
  check("div", [](auto& in) { return in[0] / in[1]; }, {a, c});
  check("maximum", [](auto& in) { return maximum(in[0], in[1]); }, {a, b});
  check("minimum", [](auto& in) { return minimum(in[0], in[1]); }, {a, c});
  check("same operand twice", [](auto& in) { return in[0] * in[0]; }, {b});
}

TEST_P(Gradcheck, ScalarAndUnaryOps) {
  Tensor x = input({3, 5, 7}, 4), p = abs(input({3, 5, 7}, 5)).detach().requires_grad_();
  Tensor wide = input({3, 5, 7}, 6, 8);  // reaches the kinks' far sides (relu6, hardswish)
  check("neg", [](auto& in) { return -in[0]; }, {x});
  check("add scalar", [](auto& in) { return in[0] + 2.0; }, {x});
  check("mul scalar", [](auto& in) { return 3.0 * in[0]; }, {x});
  check("rsub", [](auto& in) { return 1.0 - in[0]; }, {x});
  check("rdiv", [](auto& in) { return 2.0 / in[0]; }, {x});
  check("pow 3", [](auto& in) { return pow(in[0], 3); }, {x});
  check("pow -1.5", [](auto& in) { return pow(in[0], -1.5); }, {p});
  check("exp", [](auto& in) { return exp(in[0]); }, {x});
  check("log", [](auto& in) { return log(in[0]); }, {p});
  check("sqrt", [](auto& in) { return sqrt(in[0]); }, {p});
  check("abs", [](auto& in) { return abs(in[0]); }, {x});
  check("relu", [](auto& in) { return relu(in[0]); }, {x});
  check("relu6", [](auto& in) { return relu6(in[0]); }, {wide});
  check("leaky_relu", [](auto& in) { return leaky_relu(in[0], 0.1); }, {x});
  check("sigmoid", [](auto& in) { return sigmoid(in[0]); }, {wide});
  check("silu", [](auto& in) { return silu(in[0]); }, {wide});
  check("tanh", [](auto& in) { return tanh(in[0]); }, {x});
  check("hardswish", [](auto& in) { return hardswish(in[0]); }, {wide});
}

TEST_P(Gradcheck, Reductions) {
  Tensor x = input({3, 5, 7}, 7);
  check("sum all", [](auto& in) { return sum(in[0]); }, {x});
  check("sum dims 0,2", [](auto& in) { return sum(in[0], {0, 2}); }, {x});
  check("sum dim -1 keepdim", [](auto& in) { return sum(in[0], {-1}, true); }, {x});
  check("mean dim 1", [](auto& in) { return mean(in[0], {1}); }, {x});
  check("mean all", [](auto& in) { return mean(in[0]); }, {x});
  check("max dim 1", [](auto& in) { return max(in[0], {1}); }, {x});
  check("max dims 0,2 keepdim", [](auto& in) { return max(in[0], {0, 2}, true); }, {x});
}

TEST_P(Gradcheck, MaxSplitsTheGradientBetweenTies) {
  Tensor x = from_vector(std::vector<double>{1, 3, 3, 2}, {4}, DType::f64, GetParam()).requires_grad_();
  max(x).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 0.5, 0.5, 0}));
}

TEST_P(Gradcheck, ViewsAndCopies) {
  Tensor x = input({3, 5, 7}, 8);
  check("reshape", [](auto& in) { return in[0].reshape({15, 7}) * 2.0; }, {x});
  check("permute", [](auto& in) { return in[0].permute({2, 0, 1}) * 2.0; }, {x});
  check("transpose+reshape (copy)", [](auto& in) { return in[0].transpose(0, 2).reshape({-1}) * 2.0; }, {x});
  check("slice step 2", [](auto& in) { return in[0].slice(2, 1, 7, 2) * 2.0; }, {x});
  check("narrow", [](auto& in) { return in[0].narrow(1, 1, 3) * 2.0; }, {x});
  check("select", [](auto& in) { return in[0].select(1, -2) * 2.0; }, {x});
  check("unsqueeze/squeeze", [](auto& in) { return in[0].unsqueeze(1).squeeze(1) * 2.0; }, {x});
  check("expand", [](auto& in) { return in[0].select(0, 0).unsqueeze(0).expand({4, 5, 7}) * 2.0; }, {x});
  check("flatten", [](auto& in) { return in[0].flatten(1) * 2.0; }, {x});
  check("contiguous", [](auto& in) { return in[0].permute({1, 0, 2}).contiguous() * 2.0; }, {x});
  check("clone", [](auto& in) { return in[0].clone() * 2.0; }, {x});
}

TEST_P(Gradcheck, MatmulAndLinear) {
  Tensor a = input({3, 5}, 9), b = input({5, 4}, 10);
  check("matmul 2d", [](auto& in) { return matmul(in[0], in[1]); }, {a, b});
  check("matmul transposed views", [](auto& in) { return matmul(in[1].transpose(0, 1), in[0].transpose(0, 1)); },
        {a, b});
  Tensor ba = input({2, 3, 5}, 11), bb = input({2, 5, 4}, 12);
  check("matmul batched", [](auto& in) { return matmul(in[0], in[1]); }, {ba, bb});
  check("matmul 3d@2d", [](auto& in) { return matmul(in[0], in[1]); }, {ba, b});
  check("matmul 2d@3d", [](auto& in) { return matmul(in[0], in[1]); }, {a, bb});
  Tensor x = input({2, 3, 5}, 13), w = input({4, 5}, 14), bias = input({4}, 15);
  check("linear", [](auto& in) { return linear(in[0], in[1], in[2]); }, {x, w, bias});
}

TEST_P(Gradcheck, SoftmaxAndLosses) {
  const Device dev = GetParam();
  Tensor x = input({3, 5, 7}, 16, 3);
  check("softmax dim 1", [](auto& in) { return softmax(in[0], 1); }, {x});
  check("log_softmax dim -1", [](auto& in) { return log_softmax(in[0], -1); }, {x});
  Tensor logits = input({5, 7}, 17, 3);
  Tensor target = from_vector(std::vector<int64_t>{1, 0, 6, 3, 3}, {5}, dev);
  Tensor probs = softmax(test::random_tensor({5, 7}, DType::f64, dev, 18), 1);
  check("cross_entropy mean", [&](auto& in) { return cross_entropy(in[0], target); }, {logits});
  check("cross_entropy sum smoothing",
        [&](auto& in) { return cross_entropy(in[0], target, Reduction::sum, 0.2); }, {logits});
  check("cross_entropy none probabilities",
        [&](auto& in) { return cross_entropy(in[0], probs, Reduction::none, 0.1); }, {logits});
  Tensor t = abs(test::random_tensor({3, 5, 7}, DType::f64, dev, 19));
  check("bce_with_logits", [&](auto& in) { return binary_cross_entropy_with_logits(in[0], t); }, {x});
  check("bce_with_logits none",
        [&](auto& in) { return binary_cross_entropy_with_logits(in[0], t, Reduction::none); }, {x});
}

TEST_P(Gradcheck, ConcatAndSplit) {
  Tensor a = input({3, 2, 7}, 20), b = input({3, 5, 7}, 21);
  check("concat dim 1", [](auto& in) { return concat({in[0], in[1]}, 1); }, {a, b});
  check("split dim 2", [](auto& in) { auto p = split(in[0], 3, 2); return p[0] * p[1] + sum(p[2], {-1}, true); }, {b});
  check("chunk", [](auto& in) { auto p = chunk(in[0], 3, 1); return concat({p[2], p[0]}, 1); }, {b});
}

TEST_P(Gradcheck, CompositeExpression) {
  const Device dev = GetParam();
  // A tiny two-layer classifier: every piece together.
  Tensor x = input({4, 5}, 22), w1 = input({6, 5}, 23), b1 = input({6}, 24), w2 = input({3, 6}, 25);
  Tensor y = from_vector(std::vector<int64_t>{0, 2, 1, 2}, {4}, dev);
  check("mlp", [&](auto& in) { return cross_entropy(linear(silu(linear(in[0], in[1], in[2])), in[3]), y); },
        {x, w1, b1, w2});
}

INSTANTIATE_TEST_SUITE_P(Devices, Gradcheck, ::testing::ValuesIn(test::devices()), test::device_param_name);

TEST(GradcheckItself, CatchesAWrongGradient) {
  // sum(x*x) with its gradient deliberately wrong via a detached factor: d/dx = x, not 2x.
  Tensor x = test::random_tensor({4}, DType::f64, Device::cpu, 30).requires_grad_();
  GradcheckResult r = gradcheck([](auto& in) { return in[0] * in[0].detach(); }, {x});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("FAILED"), std::string::npos) << r.message;
  EXPECT_THROW(gradcheck([](auto& in) { return in[0] * 2.0; }, {x.to(DType::f32).detach().requires_grad_()}),
               Error);
}

}  // namespace
}  // namespace glia
