// Bad input: one test per case, each checking that the message names what is wrong.
#include "tests/tensor/helpers.h"

namespace glia {
namespace {

// Runs f, expects a glia::Error whose message contains every needle.
template <class F>
void expect_error(F&& f, const std::vector<std::string>& needles) {
  try {
    f();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    const std::string m = e.what();
    for (const auto& n : needles) EXPECT_NE(m.find(n), std::string::npos) << "'" << n << "' not in: " << m;
  }
}

TEST(Errors, BroadcastMismatchNamesBothShapes) {
  Tensor a = zeros({3, 5}), b = zeros({4, 5});
  expect_error([&] { add(a, b); }, {"add", "[3, 5]", "[4, 5]"});
  expect_error([&] { mul(zeros({2, 3}), zeros({3, 2})); }, {"mul", "[2, 3]", "[3, 2]"});
}

TEST(Errors, DtypeMixNamesBothDtypes) {
  Tensor a = zeros({3}), b = zeros({3}, DType::f64);
  expect_error([&] { add(a, b); }, {"add", "float32", "float64"});
  expect_error([&] { matmul(zeros({2, 2}), zeros({2, 2}, DType::f64)); }, {"matmul", "float32", "float64"});
}

TEST(Errors, DeviceMixNamesBothDevices) {
  if (!device_available(Device::sim)) GTEST_SKIP() << "needs a second device (sim not built)";
  Tensor a = zeros({3}), b = zeros({3}, DType::f32, Device::sim);
  expect_error([&] { sub(a, b); }, {"sub", "cpu", "sim"});
}

TEST(Errors, OutOfRangeDimNamesDimAndRank) {
  Tensor x = zeros({3, 5, 7});
  expect_error([&] { sum(x, {3}); }, {"sum", "dim 3", "rank 3", "[3, 5, 7]"});
  expect_error([&] { softmax(x, -4); }, {"softmax", "dim -4", "rank 3"});
  expect_error([&] { x.transpose(0, 5); }, {"transpose", "dim 5"});
  expect_error([&] { argmax(x, 7); }, {"argmax", "dim 7"});
  expect_error([&] { concat({x, x}, 3); }, {"concat", "dim 3"});
}

TEST(Errors, BackwardOnNonScalarWithoutGradient) {
  Tensor x = zeros({2, 3}, DType::f64).requires_grad_();
  expect_error([&] { (x * 2.0).backward(); }, {"backward", "[2, 3]", "scalar"});
}

TEST(Errors, BackwardWithoutGrad) {
  expect_error([&] { sum(zeros({2})).backward(); }, {"backward", "does not require grad"});
}

TEST(Errors, MatmulInnerDimsMismatch) {
  expect_error([&] { matmul(zeros({2, 3}), zeros({4, 5})); }, {"matmul", "[2, 3]", "[4, 5]"});
  expect_error([&] { matmul(zeros({2}), zeros({2, 5})); }, {"matmul", "[2]"});
  expect_error([&] { linear(zeros({2, 3}), zeros({4, 5})); }, {"linear", "[2, 3]", "[4, 5]"});
}

TEST(Errors, CrossEntropyTargets) {
  Tensor logits = zeros({2, 3});
  expect_error([&] { cross_entropy(logits, from_vector(std::vector<int64_t>{0, 3})); }, {"cross_entropy", "class 3"});
  expect_error([&] { cross_entropy(logits, from_vector(std::vector<int64_t>{0})); }, {"cross_entropy", "[2]", "[1]"});
  expect_error([&] { cross_entropy(logits, zeros({2, 4})); }, {"cross_entropy", "[2, 4]", "[2, 3]"});
  expect_error([&] { cross_entropy(zeros({2, 3, 4}), zeros({2, 3, 4})); }, {"cross_entropy", "[N, C]"});
}

TEST(Errors, ConcatShapeMismatch) {
  expect_error([&] { concat({zeros({2, 3}), zeros({3, 4})}, 1); }, {"concat", "[3, 4]", "[2, 3]"});
}

TEST(Errors, ViewOfNonViewableLayout) {
  Tensor t = zeros({4, 6}).transpose(0, 1);
  expect_error([&] { t.view({24}); }, {"view", "[6, 4]", "reshape"});
  expect_error([&] { zeros({4, 6}).reshape({5, -1}); }, {"reshape", "[5, -1]", "[4, 6]"});
}

TEST(Errors, UndefinedTensor) {
  Tensor u;
  expect_error([&] { u.numel(); }, {"undefined"});
  expect_error([&] { exp(u); }, {"exp", "undefined"});
}

TEST(Errors, IntegerTensorsInFloatOps) {
  expect_error([&] { exp(arange(3)); }, {"exp", "int64"});
  expect_error([&] { mean(arange(3)); }, {"mean", "int64"});
}

}  // namespace
}  // namespace glia
