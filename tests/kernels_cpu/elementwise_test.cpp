// CPU elementwise kernels: what the cross-backend harness (tests/kernels_ops) does not
// check. The values against references are there; here are NaN propagation, the backward
// against finite differences of the kernel's own forward, PyTorch's values at kinks and
// tails, and the errors' wording.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "kernels/elementwise.h"
#include "tests/support/random_data.h"

namespace glia::kernels {
namespace {

using test::max_rel_error;
using test::random_vector;

template <class T>
class ElementwiseTest : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(ElementwiseTest, FloatTypes);

TYPED_TEST(ElementwiseTest, MaximumAndMinimumPropagateNaN) {
  using T = TypeParam;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  std::vector<T> a = {nan, 1, 2}, b = {3, nan, 1};
  for (BinaryOp op : {BinaryOp::maximum, BinaryOp::minimum}) {
    std::vector<T> out = {0, 0, 0};
    BinaryParams p;
    p.dtype = dtype_of<T>::value;
    p.op = op;
    p.ndim = 1;
    p.sizes[0] = 3;
    p.a_strides[0] = p.b_strides[0] = 1;
    p.numel = 3;
    p.a = a.data();
    p.b = b.data();
    p.out = out.data();
    cpu::binary(p);
    EXPECT_TRUE(std::isnan(out[0]));
    EXPECT_TRUE(std::isnan(out[1]));
    EXPECT_EQ(out[2], op == BinaryOp::maximum ? T(2) : T(1));
  }
}

// The op, its scalar, and an input range that keeps it defined and away from kinks.
struct UnaryCase {
  UnaryOp op;
  const char* name;
  double scalar, lo, hi;
};

const UnaryCase kUnaryCases[] = {
    {UnaryOp::neg, "neg", 0, -3, 3},          {UnaryOp::exp, "exp", 0, -3, 3},
    {UnaryOp::log, "log", 0, 0.1, 5},         {UnaryOp::sqrt, "sqrt", 0, 0.1, 5},
    {UnaryOp::abs, "abs", 0, -3, 3},          {UnaryOp::relu, "relu", 0, -3, 3},
    {UnaryOp::relu6, "relu6", 0, -4, 10},     {UnaryOp::sigmoid, "sigmoid", 0, -8, 8},
    {UnaryOp::silu, "silu", 0, -8, 8},        {UnaryOp::tanh, "tanh", 0, -4, 4},
    {UnaryOp::hardswish, "hardswish", 0, -6, 6}, {UnaryOp::leaky_relu, "leaky_relu", 0.1, -3, 3},
    {UnaryOp::pow_scalar, "pow_scalar", 2.5, 0.1, 3}, {UnaryOp::add_scalar, "add_scalar", 1.75, -3, 3},
    {UnaryOp::mul_scalar, "mul_scalar", -1.5, -3, 3},
};

// The backward agrees with central differences of the kernel's own forward (float64).
TEST(ElementwiseGradient, BackwardMatchesFiniteDifferencesOfForward) {
  for (const UnaryCase& c : kUnaryCases) {
    const auto x = random_vector<double>(41, 7, c.lo, c.hi);
    const double h = 1e-6;
    std::vector<double> xp(x), xm(x), yp(x.size()), ym(x.size()), ones(x.size(), 1.0), gx(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      xp[i] += h;
      xm[i] -= h;
    }
    UnaryParams p;
    p.dtype = DType::f64;
    p.op = c.op;
    p.scalar = c.scalar;
    p.n = static_cast<int64_t>(x.size());
    p.x = xp.data();
    p.y = yp.data();
    cpu::unary(p);
    p.x = xm.data();
    p.y = ym.data();
    cpu::unary(p);
    UnaryBackwardParams bp;
    bp.op = c.op;
    bp.dtype = DType::f64;
    bp.scalar = c.scalar;
    bp.n = p.n;
    bp.x = x.data();
    bp.gy = ones.data();
    bp.gx = gx.data();
    cpu::unary_backward(bp);
    std::vector<double> numeric(x.size());
    for (size_t i = 0; i < x.size(); ++i) numeric[i] = (yp[i] - ym[i]) / (2 * h);
    EXPECT_LE(max_rel_error(gx, numeric, 1.0), 1e-7) << c.name;
  }
}

// Values PyTorch 1.13 gives at the kinks and far out in the tails.
TEST(ElementwiseSpecialValues, KinksAndTailsFollowPyTorch) {
  auto run = [](UnaryOp op, double x, bool backward) {
    double y = NAN, g = 1;
    if (backward) {
      UnaryBackwardParams p;
      p.dtype = DType::f64;
      p.op = op;
      p.n = 1;
      p.x = &x;
      p.gy = &g;
      p.gx = &y;
      cpu::unary_backward(p);
    } else {
      UnaryParams p;
      p.dtype = DType::f64;
      p.op = op;
      p.n = 1;
      p.x = &x;
      p.y = &y;
      cpu::unary(p);
    }
    return y;
  };
  EXPECT_EQ(run(UnaryOp::relu, 0, true), 0);
  EXPECT_EQ(run(UnaryOp::relu6, 0, true), 0);
  EXPECT_EQ(run(UnaryOp::relu6, 6, true), 0);
  EXPECT_EQ(run(UnaryOp::hardswish, -3, true), -0.5);
  EXPECT_EQ(run(UnaryOp::hardswish, 3, true), 1.5);
  EXPECT_EQ(run(UnaryOp::sigmoid, -1000, false), 0);
  EXPECT_EQ(run(UnaryOp::sigmoid, 1000, false), 1);
  EXPECT_EQ(run(UnaryOp::sigmoid, -1000, true), 0);
  EXPECT_EQ(run(UnaryOp::silu, -1000, false), 0);
  EXPECT_EQ(run(UnaryOp::silu, 1000, true), 1);
  float xf = -200.f, yf = NAN;  // float: exp(200) overflows unless the stable branch is used
  UnaryParams p;
  p.op = UnaryOp::sigmoid;
  p.n = 1;
  p.x = &xf;
  p.y = &yf;
  cpu::unary(p);
  EXPECT_EQ(yf, 0.f);
}

template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ElementwiseErrors, UnsupportedDtypeAndBadFillValueNameTheProblem) {
  int32_t a[2] = {1, 2}, out[2];
  BinaryParams bp;
  bp.dtype = DType::i32;
  bp.ndim = 1;
  bp.sizes[0] = 2;
  bp.a_strides[0] = bp.b_strides[0] = 1;
  bp.numel = 2;
  bp.a = bp.b = a;
  bp.out = out;
  std::string msg = error_of([&] { cpu::binary(bp); });
  EXPECT_NE(msg.find("binary"), std::string::npos) << msg;
  EXPECT_NE(msg.find("int32"), std::string::npos) << msg;

  UnaryParams up;
  up.dtype = DType::f16;
  up.op = UnaryOp::silu;
  msg = error_of([&] { cpu::unary(up); });
  EXPECT_NE(msg.find("silu"), std::string::npos) << msg;
  EXPECT_NE(msg.find("float16"), std::string::npos) << msg;

  uint8_t bytes[1];
  FillParams fp;
  fp.dtype = DType::u8;
  fp.value = 300;
  fp.n = 1;
  fp.out = bytes;
  msg = error_of([&] { cpu::fill(fp); });
  EXPECT_NE(msg.find("300"), std::string::npos) << msg;
  EXPECT_NE(msg.find("uint8"), std::string::npos) << msg;
}

}  // namespace
}  // namespace glia::kernels
