// kernels/cpu/vec_math.h: the branch-free float exp and logistic function behind the
// float32 exp/sigmoid/SiLU kernels, against double-precision libm.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/vec_math.h"

namespace glia::kernels::cpu {
namespace {

// Distance in units of the float spacing at the reference (subnormal spacing below FLT_MIN).
double ulps(double got, double ref) {
  const double spacing = std::fabs(ref) < std::numeric_limits<float>::min()
                             ? std::ldexp(1.0, -149)
                             : std::ldexp(1.0, std::ilogb(ref) - 23);
  return std::fabs(got - ref) / spacing;
}

TEST(VecMath, ExpWithinTwoUlpOverTheWholeFloatRange) {
  double worst = 0, worst_x = 0;
  // An irregular step, so the samples do not line up with the range reduction's grid.
  for (double x = -103.5; x < 88.72; x += 0.000731) {
    const float xf = static_cast<float>(x);
    const double e = ulps(exp_f32(xf), std::exp(static_cast<double>(xf)));
    if (e > worst) worst = e, worst_x = xf;
  }
  EXPECT_LE(worst, 2.0) << "at x = " << worst_x;
}

TEST(VecMath, ExpLimitsMatchLibm) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(exp_f32(0.0f), 1.0f);
  EXPECT_EQ(exp_f32(88.73f), inf);
  EXPECT_EQ(exp_f32(1000.0f), inf);
  EXPECT_EQ(exp_f32(inf), inf);
  EXPECT_EQ(exp_f32(-104.0f), 0.0f);
  EXPECT_EQ(exp_f32(-inf), 0.0f);
  EXPECT_GT(exp_f32(-100.0f), 0.0f);  // subnormal, as expf
  EXPECT_LT(exp_f32(-100.0f), std::numeric_limits<float>::min());
  EXPECT_TRUE(std::isnan(exp_f32(std::numeric_limits<float>::quiet_NaN())));
}

TEST(VecMath, SigmoidAndItsComplementKeepRelativeAccuracyInBothTails) {
  for (double x = -80; x <= 80; x += 0.0137) {
    const float xf = static_cast<float>(x);
    const double e = std::exp(-std::fabs(static_cast<double>(xf)));
    const double big = 1 / (1 + e), small = e / (1 + e);  // s and 1 - s, whichever is which
    const SigmoidPair p = sigmoid_pair_f32(xf);
    const double s = xf < 0 ? small : big, one_minus_s = xf < 0 ? big : small;
    EXPECT_NEAR(p.s / s, 1.0, 4e-7) << "x = " << xf;
    EXPECT_NEAR(p.one_minus_s / one_minus_s, 1.0, 4e-7) << "x = " << xf;
  }
}

// The cloned array loops handle vector tails and in-place use like the scalar form.
TEST(VecMath, ArrayFormsMatchTheScalarFormAtEveryLengthAndInPlace) {
  for (int64_t n : {1, 7, 16, 33, 1000}) {
    std::vector<float> x(static_cast<size_t>(n)), gy(x.size()), y(x.size()), gx(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      x[i] = 0.37f * static_cast<float>(i % 53) - 9.0f;
      gy[i] = 0.5f - 0.01f * static_cast<float>(i % 17);
    }
    silu_array_f32(x.data(), y.data(), n);
    silu_backward_array_f32(x.data(), gy.data(), gx.data(), n);
    for (size_t i = 0; i < x.size(); ++i) {
      const SigmoidPair p = sigmoid_pair_f32(x[i]);
      EXPECT_FLOAT_EQ(y[i], x[i] * p.s) << "n " << n << " i " << i;
      EXPECT_FLOAT_EQ(gx[i], gy[i] * p.s * (1 + x[i] * p.one_minus_s)) << "n " << n << " i " << i;
    }
    std::vector<float> inplace = x;
    sigmoid_array_f32(inplace.data(), inplace.data(), n);
    for (size_t i = 0; i < x.size(); ++i) EXPECT_FLOAT_EQ(inplace[i], sigmoid_pair_f32(x[i]).s);
  }
}

}  // namespace
}  // namespace glia::kernels::cpu
