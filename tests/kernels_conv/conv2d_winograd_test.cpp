// Winograd F(2x2, 3x3) conv2d path (kernels/cpu/conv2d_winograd.cpp): forward and backward
// to the input against a direct double-precision convolution on odd shapes (partial edge
// tiles, images smaller than one tile, more channels than one block of the weight
// transform), chunks that start mid-row and span images, the
// selection rule and the switch that turns it off.
//
// Tolerances, relative to the largest output: Winograd computes each output as a signed
// sum of <= 9 entries of M = sum over C_in of U * V, with |U| <= 2.25 max|w| and
// |V| <= 4 max|x|, so its rounding error is a small multiple of the im2col GEMM's. Measured
// here: <= 3e-7 (float32) and <= 1.1e-15 (float64) of the largest output; the bounds 1e-5
// and 1e-13 leave ~30-100x margin, while any wrong tap, tile, edge or bias shows as an
// error of the output's own size.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/cpu/conv2d_internal.h"
#include "tests/kernels_conv/util.h"

namespace glia::test {
namespace {

using kernels::Conv2dShape;
namespace cd = kernels::cpu::conv_detail;

Conv2dShape shape3x3(int64_t n, int64_t c_in, int64_t c_out, int64_t h, int64_t w) {
  Conv2dShape s;
  s.n = n, s.c_in = c_in, s.c_out = c_out, s.h_in = h, s.w_in = w, s.kh = s.kw = 3;
  s.pad_top = s.pad_bottom = s.pad_left = s.pad_right = 1;
  return s;
}

size_t x_size(const Conv2dShape& s) { return size_t(s.n * s.c_in * s.h_in * s.w_in); }
size_t y_size(const Conv2dShape& s) { return size_t(s.n * s.c_out * s.h_in * s.w_in); }
size_t w_size(const Conv2dShape& s) { return size_t(s.c_out * s.c_in * 9); }

// Direct 3x3 pad-1 stride-1 convolution in double; calls fn(y_index, x_index, w_index).
template <class Fn>
void for_each_term(const Conv2dShape& s, Fn&& fn) {
  const int64_t H = s.h_in, W = s.w_in;
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t co = 0; co < s.c_out; ++co)
      for (int64_t oh = 0; oh < H; ++oh)
        for (int64_t ow = 0; ow < W; ++ow)
          for (int64_t ci = 0; ci < s.c_in; ++ci)
            for (int64_t ki = 0; ki < 3; ++ki)
              for (int64_t kj = 0; kj < 3; ++kj) {
                const int64_t ih = oh - 1 + ki, iw = ow - 1 + kj;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                fn(((n * s.c_out + co) * H + oh) * W + ow, ((n * s.c_in + ci) * H + ih) * W + iw,
                   ((co * s.c_in + ci) * 3 + ki) * 3 + kj);
              }
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double e : v) m = std::max(m, std::fabs(e));
  return m;
}

// Largest |got - want| relative to max|want|; NaN (an unwritten element) gives +inf.
template <class T>
double scaled_error(const std::vector<T>& got, const std::vector<double>& want) {
  EXPECT_EQ(got.size(), want.size());
  double worst = 0;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    double d = std::fabs(double(got[i]) - want[i]);
    if (!(d <= 1e300)) return INFINITY;
    worst = std::max(worst, d);
  }
  return worst / std::max(max_abs(want), 1e-300);
}

template <class T>
void check_shape(const Conv2dShape& s, double tol) {
  ASSERT_TRUE(cd::winograd_applies(s));
  auto x = random_doubles(x_size(s), 31), w = random_doubles(w_size(s), 32), b = random_doubles(size_t(s.c_out), 33);
  auto gy = random_doubles(y_size(s), 34);
  auto xt = cast_to<T>(x), wt = cast_to<T>(w), bt = cast_to<T>(b), gyt = cast_to<T>(gy);

  std::vector<double> y_ref(y_size(s)), gx_ref(x_size(s), 0.0);
  const int64_t hw = s.h_in * s.w_in;
  for (size_t i = 0; i < y_ref.size(); ++i) y_ref[i] = b[(i / size_t(hw)) % size_t(s.c_out)];
  for_each_term(s, [&](int64_t yi, int64_t xi, int64_t wi) {
    y_ref[size_t(yi)] += x[size_t(xi)] * w[size_t(wi)];
    gx_ref[size_t(xi)] += gy[size_t(yi)] * w[size_t(wi)];
  });

  auto y = poisoned<T>(y_size(s));
  kernels::cpu::conv2d({dtype_v<T>, s, xt.data(), wt.data(), bt.data(), y.data()});
  const double fwd_err = scaled_error(y, y_ref);
  EXPECT_LE(fwd_err, tol) << "forward";

  auto gx = poisoned<T>(x_size(s));
  kernels::cpu::conv2d_backward_input({dtype_v<T>, s, gyt.data(), wt.data(), gx.data()});
  const double bwd_err = scaled_error(gx, gx_ref);
  EXPECT_LE(bwd_err, tol) << "backward input";

  // The entry points really took the Winograd path (same bits as calling it directly).
  auto y_direct = poisoned<T>(y_size(s)), gx_direct = poisoned<T>(x_size(s));
  cd::winograd_forward(s, xt.data(), wt.data(), bt.data(), y_direct.data());
  cd::winograd_backward_input(s, gyt.data(), wt.data(), gx_direct.data());
  EXPECT_EQ(0, std::memcmp(y.data(), y_direct.data(), y.size() * sizeof(T))) << "forward dispatch";
  EXPECT_EQ(0, std::memcmp(gx.data(), gx_direct.data(), gx.size() * sizeof(T))) << "backward dispatch";
}

struct Case {
  const char* name;
  Conv2dShape shape;
};

std::vector<Case> cases() {
  return {
      {"16to16_7x9", shape3x3(2, 16, 16, 7, 9)},   {"17to19_7x9", shape3x3(2, 17, 19, 7, 9)},
      {"17to19_1x1", shape3x3(2, 17, 19, 1, 1)},   {"16to19_2x3", shape3x3(2, 16, 19, 2, 3)},
      {"19to16_3x2", shape3x3(1, 19, 16, 3, 2)},   {"17to16_16x16", shape3x3(2, 17, 16, 16, 16)},
      {"16to17_5x33", shape3x3(1, 16, 17, 5, 33)},
      // The weight transform blocks 8 filters x 64 input channels: forward, 130 inputs are
      // blocks of 64, 64 and 2 (a second and a partial block, its lanes past 2 holding the
      // previous block's taps); backward, 130 outputs are 16 blocks of 8 and one of 2, and
      // 72 inputs 64 + 8.
      {"130to72_6x5", shape3x3(2, 130, 72, 6, 5)},
  };
}

// Forces the Winograd switch for one test and restores it (and the chunk budget) after.
struct WinogradScope {
  int old_enabled;
  int64_t old_budget;
  explicit WinogradScope(int enabled, int64_t budget = 0)  // 0: keep the default budget
      : old_enabled(cd::set_winograd_enabled(enabled)), old_budget(cd::set_winograd_budget(budget)) {
    if (budget == 0) cd::set_winograd_budget(old_budget);
  }
  ~WinogradScope() {
    cd::set_winograd_enabled(old_enabled);
    cd::set_winograd_budget(old_budget);
  }
};

TEST(Conv2dWinograd, Float32MatchesDirectConvolution) {
  WinogradScope on(2);
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    check_shape<float>(c.shape, 1e-5);
  }
}

TEST(Conv2dWinograd, Float64MatchesDirectConvolution) {
  WinogradScope on(2);
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    check_shape<double>(c.shape, 1e-13);
  }
}

TEST(Conv2dWinograd, ChunksStartingMidRowAndSpanningImages) {
  // 3 tiles per chunk: a 7x9 image has 4 x 5 tiles, so chunks start mid-row and the chunk
  // covering tiles 18..20 takes the last tiles of image 0 and the first of image 1.
  for (const Case& c : {cases()[1], cases()[3], cases()[6]}) {
    SCOPED_TRACE(c.name);
    WinogradScope on(2, 16 * (c.shape.c_in + c.shape.c_out) * 3);
    check_shape<float>(c.shape, 1e-5);
    check_shape<double>(c.shape, 1e-13);
  }
}

TEST(Conv2dWinograd, AppliesOnlyTo3x3Stride1Pad1WithEnoughChannels) {
  WinogradScope on(2);
  const Conv2dShape good = shape3x3(1, 16, 16, 8, 8);
  EXPECT_TRUE(cd::winograd_applies(good));
  auto changed = [&](auto edit) {
    Conv2dShape s = good;
    edit(s);
    return cd::winograd_applies(s);
  };
  EXPECT_FALSE(changed([](Conv2dShape& s) { s.c_in = 15; }));
  EXPECT_FALSE(changed([](Conv2dShape& s) { s.c_out = 8; }));
  EXPECT_FALSE(changed([](Conv2dShape& s) { s.stride_w = 2; }));
  EXPECT_FALSE(changed([](Conv2dShape& s) { s.stride_h = 2; }));
  EXPECT_FALSE(changed([](Conv2dShape& s) { s.dilation_h = 2; }));
  EXPECT_FALSE(changed([](Conv2dShape& s) { s.groups = 2; }));
  EXPECT_FALSE(changed([](Conv2dShape& s) { s.pad_right = 0; }));
  EXPECT_FALSE(changed([](Conv2dShape& s) { s.pad_top = 2; }));
  EXPECT_FALSE(changed([](Conv2dShape& s) {
    s.kh = s.kw = 5;
    s.pad_top = s.pad_bottom = s.pad_left = s.pad_right = 2;
  }));
  EXPECT_FALSE(changed([](Conv2dShape& s) { s.kw = 1; }));
  // Mode 1 (the default) also wants enough tiles to pay for the weight transform.
  cd::set_winograd_enabled(1);
  EXPECT_TRUE(cd::winograd_applies(shape3x3(1, 512, 512, 32, 32)));   // 256 tiles
  EXPECT_FALSE(cd::winograd_applies(shape3x3(1, 512, 512, 16, 15)));  // 64 tiles
  EXPECT_TRUE(cd::winograd_applies(shape3x3(4, 512, 256, 16, 15)));   // 256 tiles
  EXPECT_FALSE(cd::winograd_applies(shape3x3(1, 16, 17, 1, 1)));
  cd::set_winograd_enabled(0);
  EXPECT_FALSE(cd::winograd_applies(good));
}

TEST(Conv2dWinograd, SwitchedOffEqualsIm2colPath) {
  WinogradScope off(0);  // what GLIA_CONV_WINOGRAD=0 selects
  const Conv2dShape s = shape3x3(2, 17, 19, 7, 9);
  auto x = cast_to<float>(random_doubles(x_size(s), 41)), w = cast_to<float>(random_doubles(w_size(s), 42));
  auto b = cast_to<float>(random_doubles(size_t(s.c_out), 43)), gy = cast_to<float>(random_doubles(y_size(s), 44));
  auto y = poisoned<float>(y_size(s)), y_im2col = poisoned<float>(y_size(s));
  kernels::cpu::conv2d({DType::f32, s, x.data(), w.data(), b.data(), y.data()});
  cd::im2col_forward(s, x.data(), w.data(), b.data(), y_im2col.data());
  EXPECT_EQ(0, std::memcmp(y.data(), y_im2col.data(), y.size() * sizeof(float)));
  auto gx = poisoned<float>(x_size(s)), gx_im2col = poisoned<float>(x_size(s));
  kernels::cpu::conv2d_backward_input({DType::f32, s, gy.data(), w.data(), gx.data()});
  cd::im2col_backward_input(s, gy.data(), w.data(), gx_im2col.data());
  EXPECT_EQ(0, std::memcmp(gx.data(), gx_im2col.data(), gx.size() * sizeof(float)));
}

}  // namespace
}  // namespace glia::test
