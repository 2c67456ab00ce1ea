// conv_transpose2d on the cpu: output size, finite differences of the kernels' own forward
// against their backward, error wording. The values against a double reference are in the
// cross-backend harness (tests/kernels_ops, kConvTranspose2dCases).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kernels/conv_transpose2d.h"
#include "kernels/error.h"
#include "tests/kernels_conv/util.h"

namespace glia::test {
namespace {

using kernels::ConvTranspose2dShape;

// fn(y_index, x_index, w_index) for every term: x[n, ci, ih, iw] * w[ci, co, ki, kj]
// lands on y[n, co, ih * s - p + ki * d, iw * s - p + kj * d].
size_t x_size(const ConvTranspose2dShape& s) { return size_t(s.n * s.c_in * s.h_in * s.w_in); }
size_t w_size(const ConvTranspose2dShape& s) { return size_t(s.c_in * s.c_out * s.kh * s.kw); }
size_t y_size(const ConvTranspose2dShape& s) { return size_t(s.n * s.c_out * s.h_out() * s.w_out()); }

ConvTranspose2dShape make(int64_t n, int64_t c_in, int64_t h, int64_t w, int64_t c_out, int64_t k, int64_t stride,
                          int64_t pad = 0, int64_t out_pad = 0) {
  ConvTranspose2dShape s;
  s.n = n, s.c_in = c_in, s.h_in = h, s.w_in = w, s.c_out = c_out, s.kh = s.kw = k;
  s.stride_h = s.stride_w = stride;
  s.pad_h = s.pad_w = pad;
  s.output_pad_h = s.output_pad_w = out_pad;
  return s;
}

void check_finite_differences(const ConvTranspose2dShape& s) {
  auto x = random_doubles(x_size(s), 11), w = random_doubles(w_size(s), 12), b = random_doubles(size_t(s.c_out), 13);
  const size_t ny = y_size(s);
  EXPECT_TRUE(check_gradient(
      [&](const double* in, double* y) { kernels::cpu::conv_transpose2d({DType::f64, s, in, w.data(), b.data(), y}); },
      x, ny,
      [&](const double* u, double* g) {
        kernels::cpu::conv_transpose2d_backward_input({DType::f64, s, u, w.data(), g});
      },
      21))
      << "d/dx";
  EXPECT_TRUE(check_gradient(
      [&](const double* in, double* y) { kernels::cpu::conv_transpose2d({DType::f64, s, x.data(), in, b.data(), y}); },
      w, ny,
      [&](const double* u, double* g) {
        kernels::cpu::conv_transpose2d_backward_weight({DType::f64, s, x.data(), u, g});
      },
      22))
      << "d/dw";
  EXPECT_TRUE(check_gradient(
      [&](const double* in, double* y) { kernels::cpu::conv_transpose2d({DType::f64, s, x.data(), w.data(), in, y}); },
      b, ny,
      [&](const double* u, double* g) {
        kernels::cpu::conv2d_backward_bias({DType::f64, s.n, s.c_out, s.h_out() * s.w_out(), u, g});
      },
      23))
      << "d/dbias";
}

struct Case {
  const char* name;
  ConvTranspose2dShape shape;
};

std::vector<Case> cases() {
  ConvTranspose2dShape rect = make(2, 3, 5, 4, 5, 3, 2, 1, 1);
  rect.kw = 2, rect.stride_w = 3, rect.pad_w = 0, rect.output_pad_w = 2;
  ConvTranspose2dShape dil = make(2, 3, 4, 5, 2, 3, 1, 1);
  dil.dilation_h = dil.dilation_w = 2;
  return {
      {"k2_s2", make(3, 5, 7, 9, 6, 2, 2)},
      {"k3_s2_p1_op1", make(3, 5, 7, 9, 6, 3, 2, 1, 1)},
      {"k3_s2_p1", make(3, 5, 7, 9, 6, 3, 2, 1, 0)},
      {"k3_s2_p0_op1", make(2, 3, 5, 7, 5, 3, 2, 0, 1)},
      {"k3_s1_p1", make(2, 4, 5, 7, 3, 3, 1, 1)},
      {"rectangular", rect},
      {"dilated", dil},
  };
}

TEST(ConvTranspose2d, OutputSizeAsPyTorch) {
  EXPECT_EQ(make(1, 1, 7, 7, 1, 2, 2).h_out(), 14);
  EXPECT_EQ(make(1, 1, 7, 7, 1, 3, 2, 1, 1).h_out(), 14);
  EXPECT_EQ(make(1, 1, 7, 7, 1, 3, 2, 1, 0).h_out(), 13);
}

TEST(ConvTranspose2d, FiniteDifferences) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    check_finite_differences(c.shape);
  }
}

void expect_error(const ConvTranspose2dShape& s, const std::string& fragment) {
  std::vector<float> buf(4096, 0.f);
  try {
    kernels::cpu::conv_transpose2d({DType::f32, s, buf.data(), buf.data(), nullptr, buf.data()});
    ADD_FAILURE() << "no error for " << fragment;
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("conv_transpose2d"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr(fragment));
  }
}

TEST(ConvTranspose2d, BadParametersAreNamedErrors) {
  expect_error(make(1, 2, 5, 5, 2, 3, 2, 0, 2), "output_padding 2x2 must be non-negative and smaller than stride 2x2");
  expect_error(make(1, 2, 5, 5, 2, 3, 2, -1), "padding must be non-negative");
  expect_error(make(1, 2, 5, 5, 2, 3, 0), "stride must be positive");
  expect_error(make(1, 2, 1, 1, 2, 1, 1, 1), "output size -1x-1 is not positive");
}

}  // namespace
}  // namespace glia::test
