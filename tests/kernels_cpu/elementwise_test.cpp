// CPU elementwise kernels against double-precision references written here.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "kernels/elementwise.h"
#include "tests/support/random_data.h"

namespace glia::kernels {
namespace {

using test::max_rel_error;
using test::random_vector;
using test::tolerance;

template <class T>
class ElementwiseTest : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(ElementwiseTest, FloatTypes);

double binary_reference(BinaryOp op, double a, double b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
    case BinaryOp::maximum: return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b);
    case BinaryOp::minimum: return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b);
  }
  return NAN;
}

const BinaryOp kBinaryOps[] = {BinaryOp::add, BinaryOp::sub, BinaryOp::mul,
                               BinaryOp::div, BinaryOp::maximum, BinaryOp::minimum};

// One broadcasting case: output shape, and each input's strides into its own buffer.
struct BinaryCase {
  std::string name;
  std::vector<int64_t> sizes, a_strides, b_strides;
  size_t a_len, b_len;  // buffer sizes
};

std::vector<BinaryCase> binary_cases() {
  return {
      {"same_shape", {3, 5, 7}, {35, 7, 1}, {35, 7, 1}, 105, 105},
      // [3,1,7] + [5,1] -> [3,5,7]
      {"broadcast_both", {3, 5, 7}, {7, 0, 1}, {0, 1, 0}, 21, 5},
      {"scalar_b", {3, 5, 7}, {35, 7, 1}, {0, 0, 0}, 105, 1},
      {"scalar_a", {4, 9}, {0, 0}, {9, 1}, 1, 36},
      // a is a transposed [7,5,3] buffer, b every other column of a [3,5,14] buffer
      {"non_contiguous", {3, 5, 7}, {1, 3, 15}, {70, 14, 2}, 105, 210},
      {"zero_dim", {}, {}, {}, 1, 1},
      // big enough to run threaded: many rows with a broadcast row vector, one long row
      {"threaded_rows", {301, 257}, {257, 1}, {0, 1}, 301 * 257, 257},
      {"threaded_flat", {70001}, {1}, {1}, 70001, 70001},
      {"threaded_scalar", {70001}, {1}, {0}, 70001, 1},
  };
}

TYPED_TEST(ElementwiseTest, BinaryMatchesReferenceForEveryOpAndLayout) {
  using T = TypeParam;
  uint32_t seed = 1;
  for (const BinaryCase& c : binary_cases()) {
    const auto a = random_vector<T>(c.a_len, seed++);
    const auto b = random_vector<T>(c.b_len, seed++);
    const int64_t numel = test::shape_numel(c.sizes);
    for (BinaryOp op : kBinaryOps) {
      auto out = test::poisoned<T>(static_cast<size_t>(numel));
      BinaryParams p;
      p.dtype = dtype_of<T>::value;
      p.op = op;
      p.ndim = static_cast<int>(c.sizes.size());
      for (int d = 0; d < p.ndim; ++d) {
        p.sizes[d] = c.sizes[d];
        p.a_strides[d] = c.a_strides[d];
        p.b_strides[d] = c.b_strides[d];
      }
      p.numel = numel;
      p.a = a.data();
      p.b = b.data();
      p.out = out.data();
      cpu::binary(p);
      std::vector<double> ref(static_cast<size_t>(numel));
      for (int64_t i = 0; i < numel; ++i)
        ref[i] = binary_reference(op, a[test::strided_offset(c.sizes, c.a_strides, i)],
                                  b[test::strided_offset(c.sizes, c.b_strides, i)]);
      EXPECT_LE(max_rel_error(out, ref), tolerance<T>()) << c.name << " op " << static_cast<int>(op);
    }
  }
}

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

// The op, its scalar, an input range that keeps it defined and away from kinks, and the
// double reference of f and f'.
struct UnaryCase {
  UnaryOp op;
  const char* name;
  double scalar, lo, hi;
  std::function<double(double)> f, df;
};

double sigmoid_ref(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double relu6_ref(double x) { return std::min(std::max(x, 0.0), 6.0); }

std::vector<UnaryCase> unary_cases() {
  return {
      {UnaryOp::neg, "neg", 0, -3, 3, [](double x) { return -x; }, [](double) { return -1.0; }},
      {UnaryOp::exp, "exp", 0, -3, 3, [](double x) { return std::exp(x); }, [](double x) { return std::exp(x); }},
      {UnaryOp::log, "log", 0, 0.1, 5, [](double x) { return std::log(x); }, [](double x) { return 1 / x; }},
      {UnaryOp::sqrt, "sqrt", 0, 0.1, 5, [](double x) { return std::sqrt(x); },
       [](double x) { return 0.5 / std::sqrt(x); }},
      {UnaryOp::abs, "abs", 0, -3, 3, [](double x) { return std::fabs(x); }, [](double x) { return x > 0 ? 1.0 : -1.0; }},
      {UnaryOp::relu, "relu", 0, -3, 3, [](double x) { return x > 0 ? x : 0.0; }, [](double x) { return x > 0 ? 1.0 : 0.0; }},
      {UnaryOp::relu6, "relu6", 0, -4, 10, relu6_ref, [](double x) { return x > 0 && x < 6 ? 1.0 : 0.0; }},
      {UnaryOp::sigmoid, "sigmoid", 0, -8, 8, sigmoid_ref,
       [](double x) { return std::exp(-x) / ((1 + std::exp(-x)) * (1 + std::exp(-x))); }},
      {UnaryOp::silu, "silu", 0, -8, 8, [](double x) { return x / (1 + std::exp(-x)); },
       [](double x) { return sigmoid_ref(x) + x * sigmoid_ref(x) * (1 - sigmoid_ref(x)); }},
      {UnaryOp::tanh, "tanh", 0, -4, 4, [](double x) { return std::tanh(x); },
       [](double x) { return 1 / (std::cosh(x) * std::cosh(x)); }},
      {UnaryOp::hardswish, "hardswish", 0, -6, 6, [](double x) { return x * relu6_ref(x + 3) / 6; },
       [](double x) { return x < -3 ? 0.0 : (x > 3 ? 1.0 : (2 * x + 3) / 6); }},
      {UnaryOp::leaky_relu, "leaky_relu", 0.1, -3, 3, [](double x) { return x > 0 ? x : 0.1 * x; },
       [](double x) { return x > 0 ? 1.0 : 0.1; }},
      {UnaryOp::pow_scalar, "pow_scalar", 2.5, 0.1, 3, [](double x) { return std::pow(x, 2.5); },
       [](double x) { return 2.5 * std::pow(x, 1.5); }},
      {UnaryOp::add_scalar, "add_scalar", 1.75, -3, 3, [](double x) { return x + 1.75; }, [](double) { return 1.0; }},
      {UnaryOp::mul_scalar, "mul_scalar", -1.5, -3, 3, [](double x) { return -1.5 * x; }, [](double) { return -1.5; }},
  };
}

TYPED_TEST(ElementwiseTest, UnaryAndBackwardMatchReferenceForEveryOp) {
  using T = TypeParam;
  uint32_t seed = 100;
  for (const UnaryCase& c : unary_cases()) {
    for (size_t n : {size_t{1}, size_t{105}, size_t{40001}}) {  // the last one runs threaded
      const auto x = random_vector<T>(n, seed++, c.lo, c.hi);
      const auto gy = random_vector<T>(n, seed++);
      auto y = test::poisoned<T>(n), gx = test::poisoned<T>(n);
      UnaryParams p;
      p.dtype = dtype_of<T>::value;
      p.op = c.op;
      p.scalar = c.scalar;
      p.n = static_cast<int64_t>(n);
      p.x = x.data();
      p.y = y.data();
      cpu::unary(p);
      UnaryBackwardParams bp;
      bp.dtype = p.dtype;
      bp.op = c.op;
      bp.scalar = c.scalar;
      bp.n = p.n;
      bp.x = x.data();
      bp.gy = gy.data();
      bp.gx = gx.data();
      cpu::unary_backward(bp);
      std::vector<double> y_ref(n), gx_ref(n);
      for (size_t i = 0; i < n; ++i) {
        y_ref[i] = c.f(x[i]);
        gx_ref[i] = double(gy[i]) * c.df(x[i]);
      }
      // Relative error, absolute below 1e-2 where results cancel (e.g. hardswish' near -1.5).
      EXPECT_LE(max_rel_error(y, y_ref, 1e-2), tolerance<T>()) << c.name << " forward, n=" << n;
      EXPECT_LE(max_rel_error(gx, gx_ref, 1e-2), tolerance<T>()) << c.name << " backward, n=" << n;
    }
  }
}

// The backward agrees with central differences of the kernel's own forward (float64).
TEST(ElementwiseGradient, BackwardMatchesFiniteDifferencesOfForward) {
  for (const UnaryCase& c : unary_cases()) {
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

TEST(ElementwiseFill, FillsEveryDtype) {
  auto check = [](auto zero, DType dtype, double value) {
    using T = decltype(zero);
    for (size_t n : {size_t{7}, size_t{70001}}) {
      auto out = test::poisoned<T>(n);
      FillParams p;
      p.dtype = dtype;
      p.value = value;
      p.n = static_cast<int64_t>(n);
      p.out = out.data();
      cpu::fill(p);
      for (T v : out) ASSERT_EQ(v, static_cast<T>(value)) << dtype_name(dtype);
    }
  };
  check(float{}, DType::f32, -2.5);
  check(double{}, DType::f64, 0.125);
  check(int32_t{}, DType::i32, -7);
  check(int64_t{}, DType::i64, 1LL << 40);
  check(uint8_t{}, DType::u8, 200);
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
