// conv2d forward and backward against naive double loops, plus finite-difference checks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kernels/conv2d.h"
#include "kernels/cpu/conv2d_internal.h"
#include "kernels/error.h"
#include "tests/kernels_conv/util.h"

namespace glia::test {
namespace {

using kernels::Conv2dShape;

// Calls fn(n, co, oh, ow, x_index, w_index) for every term of the convolution sum.
template <class Fn>
void for_each_term(const Conv2dShape& s, Fn&& fn) {
  const int64_t ho = s.h_out(), wo = s.w_out(), cg = s.c_in / s.groups, og = s.c_out / s.groups;
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t co = 0; co < s.c_out; ++co)
      for (int64_t oh = 0; oh < ho; ++oh)
        for (int64_t ow = 0; ow < wo; ++ow)
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t ki = 0; ki < s.kh; ++ki)
              for (int64_t kj = 0; kj < s.kw; ++kj) {
                int64_t ih = oh * s.stride_h - s.pad_top + ki * s.dilation_h;
                int64_t iw = ow * s.stride_w - s.pad_left + kj * s.dilation_w;
                if (ih < 0 || ih >= s.h_in || iw < 0 || iw >= s.w_in) continue;
                int64_t c = (co / og) * cg + ci;
                int64_t xi = ((n * s.c_in + c) * s.h_in + ih) * s.w_in + iw;
                int64_t wi = ((co * cg + ci) * s.kh + ki) * s.kw + kj;
                int64_t yi = ((n * s.c_out + co) * ho + oh) * wo + ow;
                fn(yi, xi, wi);
              }
}

size_t x_size(const Conv2dShape& s) { return size_t(s.n * s.c_in * s.h_in * s.w_in); }
size_t w_size(const Conv2dShape& s) { return size_t(s.c_out * (s.c_in / s.groups) * s.kh * s.kw); }
size_t y_size(const Conv2dShape& s) { return size_t(s.n * s.c_out * s.h_out() * s.w_out()); }

std::vector<double> ref_forward(const Conv2dShape& s, const std::vector<double>& x, const std::vector<double>& w,
                                const std::vector<double>* bias) {
  std::vector<double> y(y_size(s), 0.0);
  const int64_t hw = s.h_out() * s.w_out();
  if (bias)
    for (size_t i = 0; i < y.size(); ++i) y[i] = (*bias)[(i / hw) % s.c_out];
  for_each_term(s, [&](int64_t yi, int64_t xi, int64_t wi) { y[yi] += x[xi] * w[wi]; });
  return y;
}

std::vector<double> ref_backward_input(const Conv2dShape& s, const std::vector<double>& gy,
                                       const std::vector<double>& w) {
  std::vector<double> gx(x_size(s), 0.0);
  for_each_term(s, [&](int64_t yi, int64_t xi, int64_t wi) { gx[xi] += gy[yi] * w[wi]; });
  return gx;
}

std::vector<double> ref_backward_weight(const Conv2dShape& s, const std::vector<double>& x,
                                        const std::vector<double>& gy) {
  std::vector<double> gw(w_size(s), 0.0);
  for_each_term(s, [&](int64_t yi, int64_t xi, int64_t wi) { gw[wi] += gy[yi] * x[xi]; });
  return gw;
}

std::vector<double> ref_backward_bias(const Conv2dShape& s, const std::vector<double>& gy) {
  std::vector<double> gb(size_t(s.c_out), 0.0);
  const int64_t hw = s.h_out() * s.w_out();
  for (size_t i = 0; i < gy.size(); ++i) gb[(i / hw) % s.c_out] += gy[i];
  return gb;
}

template <class T>
void check_against_reference(const Conv2dShape& s, bool with_bias) {
  kernels::validate_conv2d(s, "test");
  auto x = random_doubles(x_size(s), 1), w = random_doubles(w_size(s), 2), b = random_doubles(size_t(s.c_out), 3);
  auto gy = random_doubles(y_size(s), 4);
  auto xt = cast_to<T>(x), wt = cast_to<T>(w), bt = cast_to<T>(b), gyt = cast_to<T>(gy);
  double rtol = rtol_for<T>(), atol = atol_for<T>() * std::sqrt(double(s.c_in / s.groups * s.kh * s.kw));

  auto y = poisoned<T>(y_size(s));
  kernels::cpu::conv2d({dtype_v<T>, s, xt.data(), wt.data(), with_bias ? bt.data() : nullptr, y.data()});
  EXPECT_TRUE(all_close(y, ref_forward(s, x, w, with_bias ? &b : nullptr), rtol, atol)) << "forward";

  auto gx = poisoned<T>(x_size(s));
  kernels::cpu::conv2d_backward_input({dtype_v<T>, s, gyt.data(), wt.data(), gx.data()});
  EXPECT_TRUE(all_close(gx, ref_backward_input(s, gy, w), rtol, atol)) << "backward input";

  auto gw = poisoned<T>(w_size(s));
  double atol_w = atol_for<T>() * std::sqrt(double(s.n * s.h_out() * s.w_out()));
  kernels::cpu::conv2d_backward_weight({dtype_v<T>, s, xt.data(), gyt.data(), gw.data()});
  EXPECT_TRUE(all_close(gw, ref_backward_weight(s, x, gy), rtol, atol_w)) << "backward weight";

  auto gb = poisoned<T>(size_t(s.c_out));
  kernels::cpu::conv2d_backward_bias({dtype_v<T>, s.n, s.c_out, s.h_out() * s.w_out(), gyt.data(), gb.data()});
  EXPECT_TRUE(all_close(gb, ref_backward_bias(s, gy), rtol, atol_w)) << "backward bias";
}

// Finite differences in double of the kernels' own forward against their backward.
void check_finite_differences(const Conv2dShape& s) {
  auto x = random_doubles(x_size(s), 11), w = random_doubles(w_size(s), 12), b = random_doubles(size_t(s.c_out), 13);
  const size_t ny = y_size(s);
  auto forward = [&](const double* xp, const double* wp, const double* bp, double* y) {
    kernels::cpu::conv2d({DType::f64, s, xp, wp, bp, y});
  };
  EXPECT_TRUE(check_gradient([&](const double* in, double* y) { forward(in, w.data(), b.data(), y); }, x, ny,
                             [&](const double* u, double* gx) {
                               kernels::cpu::conv2d_backward_input({DType::f64, s, u, w.data(), gx});
                             },
                             21))
      << "d/dx";
  EXPECT_TRUE(check_gradient([&](const double* in, double* y) { forward(x.data(), in, b.data(), y); }, w, ny,
                             [&](const double* u, double* gw) {
                               kernels::cpu::conv2d_backward_weight({DType::f64, s, x.data(), u, gw});
                             },
                             22))
      << "d/dw";
  EXPECT_TRUE(check_gradient([&](const double* in, double* y) { forward(x.data(), w.data(), in, y); }, b, ny,
                             [&](const double* u, double* gb) {
                               kernels::cpu::conv2d_backward_bias(
                                   {DType::f64, s.n, s.c_out, s.h_out() * s.w_out(), u, gb});
                             },
                             23))
      << "d/dbias";
}

Conv2dShape make(int64_t n, int64_t c_in, int64_t h, int64_t w, int64_t c_out, int64_t k, int64_t stride = 1,
                 int64_t pad = 0, int64_t dilation = 1, int64_t groups = 1) {
  Conv2dShape s;
  s.n = n, s.c_in = c_in, s.h_in = h, s.w_in = w, s.c_out = c_out, s.kh = s.kw = k;
  s.stride_h = s.stride_w = stride;
  s.pad_top = s.pad_bottom = s.pad_left = s.pad_right = pad;
  s.dilation_h = s.dilation_w = dilation;
  s.groups = groups;
  return s;
}

Conv2dShape same(Conv2dShape s) {
  auto ph = kernels::same_padding(s.h_in, s.kh, s.stride_h, s.dilation_h);
  auto pw = kernels::same_padding(s.w_in, s.kw, s.stride_w, s.dilation_w);
  s.pad_top = ph.before, s.pad_bottom = ph.after, s.pad_left = pw.before, s.pad_right = pw.after;
  return s;
}

struct Case {
  const char* name;
  Conv2dShape shape;
  bool bias;
};

std::vector<Case> cases() {
  Conv2dShape rect = make(3, 5, 7, 9, 6, 3, 1, 1);
  rect.kh = 3, rect.kw = 2, rect.stride_h = 2, rect.stride_w = 1, rect.pad_left = 0, rect.pad_right = 2;
  return {
      {"plain3x3", make(3, 5, 7, 9, 6, 3), true},
      {"padded3x3", make(3, 5, 7, 9, 6, 3, 1, 1), false},
      {"strided", make(3, 3, 9, 7, 7, 3, 2, 1), true},
      {"dilated", make(2, 3, 9, 11, 5, 3, 1, 2, 2), true},
      {"same_stride2_asymmetric", same(make(3, 3, 8, 10, 5, 3, 2)), true},
      {"same_5x5_stride2", same(make(2, 3, 9, 8, 4, 5, 2)), false},
      {"groups2", make(3, 6, 7, 9, 10, 3, 1, 1, 1, 2), true},
      {"pointwise", make(3, 7, 7, 9, 5, 1), true},
      {"pointwise_stride2", make(3, 7, 7, 9, 5, 1, 2), false},
      {"rectangular_kernel", rect, true},
      {"depthwise3x3_s1", same(make(3, 7, 7, 9, 7, 3, 1, 0, 1, 7)), true},
      {"depthwise3x3_s2", same(make(3, 7, 9, 7, 7, 3, 2, 0, 1, 7)), false},
      {"depthwise5x5_s1", same(make(3, 5, 7, 9, 5, 5, 1, 0, 1, 5)), true},
      {"depthwise5x5_s2", same(make(3, 5, 11, 9, 5, 5, 2, 0, 1, 5)), true},
      {"depthwise_dilated", make(2, 3, 9, 9, 3, 3, 1, 2, 2, 3), false},
      {"depthwise3x3_unpadded", make(2, 5, 7, 9, 5, 3, 1, 0, 1, 5), true},
      {"depthwise5x5_s2_unpadded", make(2, 5, 11, 12, 5, 5, 2, 0, 1, 5), true},
      {"depthwise3x3_pad3", make(2, 3, 5, 6, 3, 3, 1, 3, 1, 3), true},
      // Rows wide enough for the vector-block paths (16 f32 / 8 f64 outputs per block).
      {"depthwise3x3_s1_wide", same(make(2, 3, 5, 41, 3, 3, 1, 0, 1, 3)), true},
      {"depthwise3x3_s2_wide", same(make(2, 3, 6, 70, 3, 3, 2, 0, 1, 3)), true},
      {"depthwise5x5_s1_wide", same(make(2, 3, 6, 37, 3, 5, 1, 0, 1, 3)), true},
      {"depthwise5x5_s2_wide", same(make(2, 3, 7, 45, 3, 5, 2, 0, 1, 3)), false},
      {"depthwise3x3_narrow", same(make(3, 4, 9, 2, 4, 3, 2, 0, 1, 4)), true},
      {"depthwise_multiplier2", make(2, 3, 7, 9, 6, 3, 1, 1, 1, 3), true},
      {"kernel_equals_input", make(2, 3, 5, 5, 4, 5), true},
  };
}

TEST(Conv2d, Float32MatchesDoubleReference) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    check_against_reference<float>(c.shape, c.bias);
  }
}

TEST(Conv2d, Float64MatchesDoubleReference) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    check_against_reference<double>(c.shape, c.bias);
  }
}

TEST(Conv2d, ChunkedIm2colMatchesReference) {
  // A tiny column budget forces many chunks whose pixel ranges start mid-row.
  int64_t old = kernels::cpu::conv_detail::set_col_budget(100);
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    check_against_reference<float>(c.shape, c.bias);
  }
  kernels::cpu::conv_detail::set_col_budget(old);
}

TEST(Conv2d, FiniteDifferences) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    check_finite_differences(c.shape);
  }
}

TEST(Conv2d, SamePaddingMatchesTensorFlow) {
  // in 224, k 3, s 2: out 112, total pad 1 -> (0, 1), the odd pixel after.
  auto p = kernels::same_padding(224, 3, 2);
  EXPECT_EQ(p.before, 0);
  EXPECT_EQ(p.after, 1);
  p = kernels::same_padding(7, 5, 1);
  EXPECT_EQ(p.before, 2);
  EXPECT_EQ(p.after, 2);
  p = kernels::same_padding(9, 5, 2);  // out 5, total (5-1)*2+5-9 = 4
  EXPECT_EQ(p.before, 2);
  EXPECT_EQ(p.after, 2);
  p = kernels::same_padding(8, 1, 2);
  EXPECT_EQ(p.before + p.after, 0);
}

void expect_error(const Conv2dShape& s, const std::string& fragment) {
  std::vector<float> buf(4096, 0.f);
  try {
    kernels::cpu::conv2d({DType::f32, s, buf.data(), buf.data(), nullptr, buf.data()});
    ADD_FAILURE() << "no error for " << fragment;
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("conv2d"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr(fragment));
  }
}

TEST(Conv2d, BadParametersAreNamedErrors) {
  expect_error(make(1, 2, 3, 3, 2, 5), "kernel 5x5 (dilated 5x5) is larger than the padded input 3x3");
  expect_error(make(1, 2, 5, 5, 2, 3, 1, 0, 3), "larger than the padded input 5x5");
  expect_error(make(1, 6, 5, 5, 4, 3, 1, 1, 1, 4), "groups=4 must divide in-channels 6");
  expect_error(make(1, 2, 5, 5, 2, 3, 1, -1), "padding must be non-negative");
  expect_error(make(1, 2, 5, 5, 2, 3, 0), "stride must be positive, got 0x0");
  expect_error(make(1, 2, 5, 5, 2, 3, 1, 1, 0), "dilation must be positive");
  expect_error(make(1, 0, 5, 5, 2, 3), "must have positive channels");
  Conv2dShape ok = make(1, 2, 5, 5, 2, 3);
  std::vector<int32_t> ints(100);
  try {
    kernels::cpu::conv2d({DType::i32, ok, ints.data(), ints.data(), nullptr, ints.data()});
    ADD_FAILURE() << "int32 accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("int32"));
  }
}

TEST(Conv2d, RegisteredForCpu) {
  EXPECT_TRUE(kernels::conv2d_kernel.has(Backend::cpu));
  EXPECT_TRUE(kernels::conv2d_backward_input_kernel.has(Backend::cpu));
  EXPECT_TRUE(kernels::conv2d_backward_weight_kernel.has(Backend::cpu));
  EXPECT_TRUE(kernels::conv2d_backward_bias_kernel.has(Backend::cpu));
}

}  // namespace
}  // namespace glia::test
