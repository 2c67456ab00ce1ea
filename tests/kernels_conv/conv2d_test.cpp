// conv2d on cpu beyond the cross-backend harness (tests/kernels_ops/conv_ops_test.cpp checks
// every backend against the float64 reference on cases.h's shapes): the chunked im2col
// path, finite differences, "same" padding, error messages, registration.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kernels/conv2d.h"
#include "kernels/cpu/conv2d_internal.h"
#include "kernels/error.h"
#include "tests/kernels_conv/util.h"
#include "tests/kernels_ops/cases.h"

namespace glia::test {
namespace {

using kernels::Conv2dShape;

size_t x_size(const Conv2dShape& s) { return size_t(s.n * s.c_in * s.h_in * s.w_in); }
size_t w_size(const Conv2dShape& s) { return size_t(s.c_out * (s.c_in / s.groups) * s.kh * s.kw); }
size_t y_size(const Conv2dShape& s) { return size_t(s.n * s.c_out * s.h_out() * s.w_out()); }

// The four conv2d products (y with bias, gx, gw, gb) of the cpu kernels as they stand.
template <class T>
struct Products {
  std::vector<T> y, gx, gw, gb;
};
template <class T>
Products<T> run_cpu(const Conv2dShape& s, bool with_bias) {
  auto x = cast_to<T>(random_doubles(x_size(s), 1)), w = cast_to<T>(random_doubles(w_size(s), 2));
  auto b = cast_to<T>(random_doubles(size_t(s.c_out), 3)), gy = cast_to<T>(random_doubles(y_size(s), 4));
  Products<T> p{poisoned<T>(y_size(s)), poisoned<T>(x_size(s)), poisoned<T>(w_size(s)), poisoned<T>(size_t(s.c_out))};
  kernels::cpu::conv2d({dtype_v<T>, s, x.data(), w.data(), with_bias ? b.data() : nullptr, p.y.data()});
  kernels::cpu::conv2d_backward_input({dtype_v<T>, s, gy.data(), w.data(), p.gx.data()});
  kernels::cpu::conv2d_backward_weight({dtype_v<T>, s, x.data(), gy.data(), p.gw.data()});
  kernels::cpu::conv2d_backward_bias({dtype_v<T>, s.n, s.c_out, s.h_out() * s.w_out(), gy.data(), p.gb.data()});
  return p;
}

template <class T>
std::vector<double> widen(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

// Chunked against unchunked: the harness (tests/kernels_ops) checks the unchunked cpu
// path against the float64 reference on these cases; chunks only change the order of the
// sums, so the two agree within the rounding of sums of that many terms.
template <class T>
void check_chunked_matches_unchunked(const Conv2dShape& s, bool with_bias) {
  const Products<T> whole = run_cpu<T>(s, with_bias);
  namespace cd = kernels::cpu::conv_detail;
  const int64_t old = cd::set_col_budget(100);  // many chunks, starting mid-row
  const int64_t old_pointwise = cd::set_pointwise_batch_budget(1);  // batched 1x1: one image a chunk
  const Products<T> chunked = run_cpu<T>(s, with_bias);
  cd::set_pointwise_batch_budget(old_pointwise);
  cd::set_col_budget(old);
  const double rtol = rtol_for<T>(), atol = atol_for<T>() * std::sqrt(double(s.c_in / s.groups * s.kh * s.kw));
  const double atol_w = atol_for<T>() * std::sqrt(double(s.n * s.h_out() * s.w_out()));
  EXPECT_TRUE(all_close(chunked.y, widen(whole.y), rtol, atol)) << "forward";
  EXPECT_TRUE(all_close(chunked.gx, widen(whole.gx), rtol, atol)) << "backward input";
  EXPECT_TRUE(all_close(chunked.gw, widen(whole.gw), rtol, atol_w)) << "backward weight";
  EXPECT_TRUE(all_close(chunked.gb, widen(whole.gb), rtol, atol_w)) << "backward bias";
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

TEST(Conv2d, ChunkedIm2colMatchesUnchunked) {
  for (const ops::Conv2dCase& c : ops::kConv2dCases) {
    SCOPED_TRACE(c.name);
    check_chunked_matches_unchunked<float>(c.shape, c.bias);
    check_chunked_matches_unchunked<double>(c.shape, c.bias);
  }
}

// 1x1 convs of several images on small planes take the batched path
// (conv2d_pointwise.cpp); ChunkedIm2colMatchesUnchunked runs them one image a chunk, this
// in chunks of two images with a partial last chunk, against the per-image GEMMs of the
// im2col path.
TEST(Conv2d, BatchedPointwiseMatchesPerImageGemms) {
  namespace cd = kernels::cpu::conv_detail;
  const Conv2dShape s = make(5, 9, 4, 3, 13, 1);
  ASSERT_TRUE(cd::pointwise_batch_applies(s));
  const int64_t old = cd::set_pointwise_batch_budget(2 * 13 * 12);  // two images of the 13 output planes
  const Products<double> batched = run_cpu<double>(s, true);
  cd::set_pointwise_batch_budget(old);
  auto x = random_doubles(x_size(s), 1), w = random_doubles(w_size(s), 2), b = random_doubles(size_t(s.c_out), 3);
  auto gy = random_doubles(y_size(s), 4);
  std::vector<double> y(y_size(s)), gx(x_size(s)), gw(w_size(s));
  cd::im2col_forward(s, x.data(), w.data(), b.data(), y.data());
  cd::im2col_backward_input(s, gy.data(), w.data(), gx.data());
  cd::im2col_backward_weight(s, x.data(), gy.data(), gw.data());
  EXPECT_TRUE(all_close(batched.y, y, 1e-12, 1e-12)) << "forward";
  EXPECT_TRUE(all_close(batched.gx, gx, 1e-12, 1e-12)) << "backward input";
  EXPECT_TRUE(all_close(batched.gw, gw, 1e-12, 1e-12)) << "backward weight";
  EXPECT_FALSE(cd::pointwise_batch_applies(make(1, 9, 4, 3, 13, 1))) << "one image: nothing to batch";
  EXPECT_FALSE(cd::pointwise_batch_applies(make(2, 8, 4, 3, 12, 1, 1, 0, 1, 2))) << "groups";
  EXPECT_FALSE(cd::pointwise_batch_applies(make(2, 8, 32, 16, 12, 1))) << "a plane of 512 pixels";
}

TEST(Conv2d, FiniteDifferences) {
  for (const ops::Conv2dCase& c : ops::kConv2dCases) {
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
