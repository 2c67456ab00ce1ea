// Elementwise ops against a double reference on every available device: binary with
// broadcasting and strided inputs, scalar ops, unary ops, in-place ops.
#include "tests/tensor/helpers.h"

namespace glia {
namespace {

using test::expect_close;
using test::random_tensor;
using test::values_of;

class Elementwise : public ::testing::TestWithParam<Device> {};

struct BinaryCase {
  const char* name;
  std::function<Tensor(const Tensor&, const Tensor&)> op;
  std::function<double(double, double)> ref;
};

const std::vector<BinaryCase>& binary_cases() {
  static const std::vector<BinaryCase> cases{
      {"add", [](const Tensor& a, const Tensor& b) { return a + b; }, [](double a, double b) { return a + b; }},
      {"sub", [](const Tensor& a, const Tensor& b) { return a - b; }, [](double a, double b) { return a - b; }},
      {"mul", [](const Tensor& a, const Tensor& b) { return a * b; }, [](double a, double b) { return a * b; }},
      {"div", [](const Tensor& a, const Tensor& b) { return a / b; }, [](double a, double b) { return a / b; }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); },
       [](double a, double b) { return std::max(a, b); }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); },
       [](double a, double b) { return std::min(a, b); }},
  };
  return cases;
}

TEST_P(Elementwise, BinaryWithBroadcastingAndStrides) {
  const Device dev = GetParam();
  struct Shapes {
    Shape a, b;
  };
  const std::vector<Shapes> shapes{{{3, 5, 7}, {3, 5, 7}}, {{3, 1, 7}, {5, 1}}, {{7}, {3, 5, 7}}, {{3, 5, 7}, {}}};
  for (DType dt : test::float_dtypes()) {
    for (const auto& c : binary_cases()) {
      uint64_t seed = 100;
      for (const auto& s : shapes) {
        Tensor a = random_tensor(s.a, dt, dev, ++seed), b = random_tensor(s.b, dt, dev, ++seed);
        const Shape out = test::broadcast(s.a, s.b);
        Tensor y = c.op(a, b);
        ASSERT_EQ(y.sizes(), out) << c.name;
        expect_close(values_of(y), test::ref_binary(values_of(a), s.a, values_of(b), s.b, out, c.ref), dt,
                     std::string(c.name) + " " + shape_str(s.a) + " " + shape_str(s.b));
      }
      // Non-contiguous operands: a transposed view and a strided slice.
      Tensor base = random_tensor({7, 5, 3}, dt, dev, 1);
      Tensor a = base.permute({2, 1, 0});
      Tensor b = random_tensor({3, 5, 14}, dt, dev, 2).slice(2, 0, 14, 2);
      expect_close(values_of(c.op(a, b)),
                   test::ref_binary(values_of(a), {3, 5, 7}, values_of(b), {3, 5, 7}, {3, 5, 7}, c.ref), dt,
                   std::string(c.name) + " strided");
    }
  }
}

TEST_P(Elementwise, ScalarOps) {
  const Device dev = GetParam();
  for (DType dt : test::float_dtypes()) {
    Tensor x = random_tensor({3, 5, 7}, dt, dev, 3);
    auto xv = values_of(x);
    auto map = [&](std::function<double(double)> f) {
      std::vector<double> r;
      for (double v : xv) r.push_back(f(v));
      return r;
    };
    expect_close(values_of(x + 1.5), map([](double v) { return v + 1.5; }), dt, "x + s");
    expect_close(values_of(2.0 - x), map([](double v) { return 2 - v; }), dt, "s - x");
    expect_close(values_of(x - 2.0), map([](double v) { return v - 2; }), dt, "x - s");
    expect_close(values_of(x * -3.0), map([](double v) { return v * -3; }), dt, "x * s");
    expect_close(values_of(x / 4.0), map([](double v) { return v / 4; }), dt, "x / s");
    expect_close(values_of(2.0 / x), map([](double v) { return 2 / v; }), dt, "s / x");
    expect_close(values_of(-x), map([](double v) { return -v; }), dt, "neg");
    expect_close(values_of(pow(x, 3)), map([](double v) { return v * v * v; }), dt, "pow 3");
    expect_close(values_of(pow(abs(x), 2.5)), map([](double v) { return std::pow(std::fabs(v), 2.5); }), dt, "pow 2.5");
  }
}

struct UnaryCase {
  const char* name;
  Tensor (*op)(const Tensor&);
  double (*ref)(double);
  bool positive_only;
};

double sig(double v) { return 1 / (1 + std::exp(-v)); }

TEST_P(Elementwise, UnaryOps) {
  const Device dev = GetParam();
  const std::vector<UnaryCase> cases{
      {"exp", exp, [](double v) { return std::exp(v); }, false},
      {"log", log, [](double v) { return std::log(v); }, true},
      {"sqrt", sqrt, [](double v) { return std::sqrt(v); }, true},
      {"abs", abs, [](double v) { return std::fabs(v); }, false},
      {"relu", relu, [](double v) { return v > 0 ? v : 0; }, false},
      {"relu6", relu6, [](double v) { return std::min(std::max(v, 0.0), 6.0); }, false},
      {"sigmoid", sigmoid, [](double v) { return sig(v); }, false},
      {"silu", silu, [](double v) { return v * sig(v); }, false},
      {"tanh", tanh, [](double v) { return std::tanh(v); }, false},
      {"hardswish", hardswish, [](double v) { return v * std::min(std::max(v + 3, 0.0), 6.0) / 6; }, false},
  };
  for (DType dt : test::float_dtypes()) {
    for (const auto& c : cases) {
      // Scale 8 reaches the clamps of relu6/hardswish on both sides.
      Tensor x = random_tensor({3, 5, 7}, dt, dev, 11, 8);
      if (c.positive_only) x = abs(x);
      Tensor xs = x.permute({2, 0, 1});  // strided input
      std::vector<double> want;
      for (double v : values_of(xs)) want.push_back(c.ref(v));
      expect_close(values_of(c.op(xs)), want, dt, c.name);
    }
  }
}

TEST_P(Elementwise, InPlaceOps) {
  const Device dev = GetParam();
  for (DType dt : test::float_dtypes()) {
    Tensor x = random_tensor({3, 5, 7}, dt, dev, 21);
    Tensor b = random_tensor({5, 1}, dt, dev, 22);
    auto xv = values_of(x), bv = values_of(b);
    x.add_(b, 0.5).mul_(2.0).add_(1.0);
    auto want = test::ref_binary(xv, {3, 5, 7}, bv, {5, 1}, {3, 5, 7},
                                 [](double a, double c) { return (a + 0.5 * c) * 2 + 1; });
    expect_close(values_of(x), want, dt, "add_/mul_ chain");
    Tensor col = x.select(2, 3);  // non-contiguous destination
    auto before = values_of(x);
    col.mul_(b.squeeze(1));
    auto after = values_of(x);
    for (int64_t i = 0; i < 105; ++i) {
      const double expect = i % 7 == 3 ? before[i] * bv[(i / 7) % 5] : before[i];
      EXPECT_NEAR(after[i], expect, test::tolerance(dt) * (1 + std::fabs(expect))) << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, Elementwise, ::testing::ValuesIn(test::devices()), test::device_param_name);

}  // namespace
}  // namespace glia
