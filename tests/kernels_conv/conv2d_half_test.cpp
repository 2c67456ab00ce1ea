// conv2d forward / backward-input / backward-weight / backward-bias on bfloat16 and float16
// tensors (kernels/cpu/conv2d_half.cpp), both GEMM paths (AVX512-BF16 where present, plain),
// float32 and 16-bit outputs, on the networks' kinds of conv at small odd sizes: 3x3 pad 1,
// strided 3x3, 1x1, strided 1x1, grouped, depthwise, dilated 5x5 with asymmetric padding.
//
// The reference is one direct loop in double over every multiply-add of the conv, which
// also counts, per output element, the terms L it sums and S = sum |term|. Against the
// 16-bit-rounded inputs only float32 summation differs: |err| <= (L + 3) 2^-24 S, plus half
// a 16-bit ulp of |result| for a 16-bit output. Against the unrounded inputs add
// (2u + u^2) S, u = 2^-8 (bfloat16) or 2^-11 (float16).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/cpu/half_gemm.h"
#include "tests/kernels_ops/conv_products.h"
#include "tests/support/random_data.h"

namespace glia::kernels {
namespace {

double half_ulp(DType t) { return t == DType::bf16 ? 0x1p-8 : 0x1p-11; }
uint16_t round16(DType t, float v) { return t == DType::bf16 ? float_to_bf16_bits(v) : float_to_f16_bits(v); }
double value(DType t, uint16_t b) { return t == DType::bf16 ? bf16_bits_to_float(b) : f16_bits_to_float(b); }

struct Operand {
  std::vector<float> exact;
  std::vector<uint16_t> bits;
  double at(DType t, size_t i, bool use_rounded) const { return use_rounded ? value(t, bits[i]) : double(exact[i]); }
};

Operand make(DType t, size_t n, uint32_t seed) {
  Operand o{test::random_vector<float>(n, seed), {}};
  for (float v : o.exact) o.bits.push_back(round16(t, v));
  return o;
}

struct Sums {
  std::vector<double> value, abs, terms;
  explicit Sums(size_t n) : value(n, 0), abs(n, 0), terms(n, 0) {}
  void add(size_t i, double v) {
    value[i] += v;
    abs[i] += std::fabs(v);
    terms[i] += 1;
  }
};

// Every term of the conv, scattered into y, gx and gw at once.
void reference(const Conv2dShape& s, DType t, const Operand& x, const Operand& w, const Operand& gy, bool use_rounded,
               Sums& y, Sums& gx, Sums& gw) {
  test::ops::for_each_product(s, [&](size_t ix, size_t iwt, size_t iy) {
    y.add(iy, x.at(t, ix, use_rounded) * w.at(t, iwt, use_rounded));
    gx.add(ix, gy.at(t, iy, use_rounded) * w.at(t, iwt, use_rounded));
    gw.add(iwt, gy.at(t, iy, use_rounded) * x.at(t, ix, use_rounded));
  });
}

void expect_within(const char* what, DType out, const std::vector<double>& got, const Sums& rounded, const Sums& exact,
                   double u_in) {
  const double u_out = out == DType::f32 ? 0 : half_ulp(out);
  for (size_t i = 0; i < got.size(); ++i) {
    const double tol1 = (rounded.terms[i] + 3) * 0x1p-24 * rounded.abs[i];
    const double bound1 = tol1 + u_out * (std::fabs(rounded.value[i]) + tol1);
    const double bound2 = (2 * u_in + u_in * u_in) * rounded.abs[i] + bound1;
    ASSERT_LE(std::fabs(got[i] - rounded.value[i]), bound1) << what << " element " << i << " vs rounded inputs";
    ASSERT_LE(std::fabs(got[i] - exact.value[i]), bound2) << what << " element " << i << " vs float32 inputs";
  }
}

// Output buffer of n elements of dtype `out`, poisoned with NaN; read back as doubles.
struct Out {
  DType dtype;
  std::vector<float> f32;
  std::vector<uint16_t> b16;
  Out(DType t, size_t n) : dtype(t), f32(t == DType::f32 ? n : 0, NAN), b16(t == DType::f32 ? 0 : n, 0x7FFF) {}
  void* data() { return dtype == DType::f32 ? static_cast<void*>(f32.data()) : static_cast<void*>(b16.data()); }
  std::vector<double> values() const {
    std::vector<double> v;
    if (dtype == DType::f32) v.assign(f32.begin(), f32.end());
    else for (uint16_t b : b16) v.push_back(value(dtype, b));
    return v;
  }
};

void run(const Conv2dShape& s, DType in, DType out, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << dtype_name(in) << " -> " << dtype_name(out) << " c_in=" << s.c_in << " c_out="
                                    << s.c_out << " k=" << s.kh << "x" << s.kw << " stride=" << s.stride_h << " groups="
                                    << s.groups << " avx512=" << cpu::avx512_bf16_enabled());
  const size_t nx = size_t(s.n * s.c_in * s.h_in * s.w_in), nw = size_t(s.c_out * (s.c_in / s.groups) * s.kh * s.kw);
  const size_t ny = size_t(s.n * s.c_out * s.h_out() * s.w_out());
  const Operand x = make(in, nx, seed), w = make(in, nw, seed + 1), gy = make(in, ny, seed + 2), b = make(in, size_t(s.c_out), seed + 3);
  Sums y(ny), gx(nx), gw(nw), y_e(ny), gx_e(nx), gw_e(nw);
  reference(s, in, x, w, gy, true, y, gx, gw);
  reference(s, in, x, w, gy, false, y_e, gx_e, gw_e);
  for (size_t i = 0; i < ny; ++i) {  // the bias is one more term of each output
    const size_t c = (i / size_t(s.h_out() * s.w_out())) % size_t(s.c_out);
    y.add(i, value(in, b.bits[c]));
    y_e.add(i, double(b.exact[c]));
  }
  Sums gb(size_t(s.c_out)), gb_e(size_t(s.c_out));
  for (size_t i = 0; i < ny; ++i) {
    const size_t c = (i / size_t(s.h_out() * s.w_out())) % size_t(s.c_out);
    gb.add(c, value(in, gy.bits[i]));
    gb_e.add(c, double(gy.exact[i]));
  }
  const double u = half_ulp(in);

  Out yo(out, ny), gxo(out, nx), gwo(out, nw), gbo(out, size_t(s.c_out));
  cpu::conv2d(Conv2dParams{in, s, x.bits.data(), w.bits.data(), b.bits.data(), yo.data(), out});
  expect_within("forward", out, yo.values(), y, y_e, u);
  cpu::conv2d_backward_input(Conv2dBackwardInputParams{in, s, gy.bits.data(), w.bits.data(), gxo.data(), out});
  expect_within("backward_input", out, gxo.values(), gx, gx_e, u);
  cpu::conv2d_backward_weight(Conv2dBackwardWeightParams{in, s, x.bits.data(), gy.bits.data(), gwo.data(), out});
  expect_within("backward_weight", out, gwo.values(), gw, gw_e, u);
  cpu::conv2d_backward_bias(Conv2dBackwardBiasParams{in, s.n, s.c_out, s.h_out() * s.w_out(), gy.bits.data(), gbo.data(), out});
  expect_within("backward_bias", out, gbo.values(), gb, gb_e, u);
}

Conv2dShape shape(int64_t n, int64_t c_in, int64_t h, int64_t w, int64_t c_out, int64_t k, int64_t stride, int64_t pad,
                  int64_t groups = 1, int64_t dilation = 1) {
  Conv2dShape s;
  s.n = n, s.c_in = c_in, s.h_in = h, s.w_in = w, s.c_out = c_out, s.kh = s.kw = k;
  s.stride_h = s.stride_w = stride;
  s.pad_top = s.pad_bottom = s.pad_left = s.pad_right = pad;
  s.dilation_h = s.dilation_w = dilation;
  s.groups = groups;
  return s;
}

std::vector<Conv2dShape> shapes() {
  Conv2dShape dilated = shape(1, 3, 11, 9, 5, 5, 1, 0, 1, 2);
  dilated.pad_top = 1, dilated.pad_bottom = 3, dilated.pad_left = 2, dilated.pad_right = 0;
  return {shape(2, 5, 9, 11, 7, 3, 1, 1),  shape(2, 6, 9, 10, 5, 3, 2, 1), shape(2, 7, 5, 6, 9, 1, 1, 0),
          shape(1, 6, 7, 7, 10, 1, 2, 0),  shape(2, 6, 7, 5, 4, 3, 1, 1, 2), shape(2, 6, 8, 7, 6, 3, 2, 1, 6),
          shape(1, 17, 6, 5, 33, 3, 1, 1), dilated};
}

class HalfConv : public ::testing::TestWithParam<bool> {  // param: use AVX512-BF16 when present
 protected:
  void SetUp() override { old_ = cpu::use_avx512_bf16(GetParam()); }
  void TearDown() override { cpu::use_avx512_bf16(old_); }
  bool old_ = false;
};

TEST_P(HalfConv, EveryProductWithinTheDerivedBounds) {
  if (GetParam() && !cpu::avx512_bf16_supported()) GTEST_SKIP() << "this CPU has no AVX512-BF16";
  uint32_t seed = 100;
  for (const Conv2dShape& s : shapes()) {
    run(s, DType::bf16, DType::f32, seed += 5);
    run(s, DType::bf16, DType::bf16, seed += 5);
    run(s, DType::f16, DType::f32, seed += 5);
    run(s, DType::f16, DType::f16, seed += 5);
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, HalfConv, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "avx512_bf16" : "plain"; });

TEST(HalfConvErrors, RefusedOutputDtypeNamesOpAndDtypes) {
  Conv2dShape s = shape(1, 1, 3, 3, 1, 1, 1, 0);
  uint16_t x[9] = {}, w[1] = {}, y[9] = {};
  try {
    cpu::conv2d(Conv2dParams{DType::bf16, s, x, w, nullptr, y, DType::f16});
    FAIL() << "bfloat16 -> float16 should be refused";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("conv2d"), std::string::npos) << msg;
    EXPECT_NE(msg.find("bfloat16"), std::string::npos) << msg;
    EXPECT_NE(msg.find("float16"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace glia::kernels
