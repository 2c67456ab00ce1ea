// GEMM on bfloat16/float16 operands (kernels/cpu/half_gemm.h via cpu::gemm), on both paths
// (AVX512-BF16 where this CPU has it, and the plain widen + SGEMM one), odd shapes, every
// transpose, padded leading dimensions, batches, alpha/beta, float32 and 16-bit C.
//
// Two references in double, element by element:
//  1. on the 16-bit-rounded inputs. Every product is exact in float32, so the only error is
//     float32 summation in some order: |err| <= (K + 3) * 2^-24 * S, S = sum |alpha a b| +
//     |beta c| (K - 1 additions, alpha, beta, the accumulator's start), plus, for a 16-bit C,
//     the final rounding: half an ulp, 2^-8 (bfloat16) or 2^-11 (float16) of |result|.
//  2. on the unrounded float32 inputs: each input's rounding moves a product by at most
//     (2u + u^2) |a b| with u that half-ulp, on top of bound 1.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/cpu/half_gemm.h"
#include "kernels/gemm.h"
#include "tests/support/random_data.h"

namespace glia::kernels {
namespace {

double half_ulp(DType t) { return t == DType::bf16 ? 0x1p-8 : 0x1p-11; }

std::vector<uint16_t> rounded(DType t, const std::vector<float>& v) {
  std::vector<uint16_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = t == DType::bf16 ? float_to_bf16_bits(v[i]) : float_to_f16_bits(v[i]);
  return out;
}
double value(DType t, uint16_t b) { return t == DType::bf16 ? bf16_bits_to_float(b) : f16_bits_to_float(b); }

struct Case {
  int64_t m, n, k;
  bool ta, tb;
  int64_t pad;  // extra leading-dimension elements
  int64_t batch;
  double alpha, beta;
};

void run_case(DType in, DType out, const Case& c, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << dtype_name(in) << " -> " << dtype_name(out) << " m=" << c.m << " n=" << c.n
                                    << " k=" << c.k << " ta=" << c.ta << " tb=" << c.tb << " batch=" << c.batch
                                    << " beta=" << c.beta << " avx512=" << cpu::avx512_bf16_enabled());
  const int64_t a_rows = c.ta ? c.k : c.m, a_cols = c.ta ? c.m : c.k, lda = a_cols + c.pad;
  const int64_t b_rows = c.tb ? c.n : c.k, b_cols = c.tb ? c.k : c.n, ldb = b_cols + c.pad;
  const int64_t ldc = c.n + c.pad, sa = a_rows * lda, sb = b_rows * ldb, sc = c.m * ldc;
  const std::vector<float> a32 = test::random_vector<float>(size_t(sa * c.batch), seed);
  const std::vector<float> b32 = test::random_vector<float>(size_t(sb * c.batch), seed + 1);
  const std::vector<float> c0 = test::random_vector<float>(size_t(sc * c.batch), seed + 2);
  const std::vector<uint16_t> a16 = rounded(in, a32), b16 = rounded(in, b32);
  std::vector<float> c32 = c0;
  std::vector<uint16_t> c16 = rounded(out == DType::f32 ? DType::bf16 : out, c0);
  if (c.beta == 0) {  // poison: beta == 0 must never read C, and every element must be written
    c32.assign(c32.size(), NAN);
    c16.assign(c16.size(), out == DType::bf16 ? 0x7FC0 : 0x7E00);
  }
  GemmParams p;
  p.dtype = in;
  p.out_dtype = out;
  p.trans_a = c.ta;
  p.trans_b = c.tb;
  p.m = c.m, p.n = c.n, p.k = c.k;
  p.alpha = c.alpha, p.beta = c.beta;
  p.a = a16.data(), p.lda = lda, p.b = b16.data(), p.ldb = ldb;
  p.c = out == DType::f32 ? static_cast<void*>(c32.data()) : static_cast<void*>(c16.data());
  p.ldc = ldc;
  p.batch = c.batch, p.stride_a = sa, p.stride_b = sb, p.stride_c = sc;
  cpu::gemm(p);

  const double u32 = 0x1p-24, u_in = half_ulp(in), u_out = out == DType::f32 ? 0 : half_ulp(out);
  for (int64_t bi = 0; bi < c.batch; ++bi) {
    for (int64_t i = 0; i < c.m; ++i) {
      for (int64_t j = 0; j < c.n; ++j) {
        double ref_rounded = 0, ref_exact = 0, s = 0;
        for (int64_t q = 0; q < c.k; ++q) {
          const int64_t ia = bi * sa + (c.ta ? q * lda + i : i * lda + q);
          const int64_t ib = bi * sb + (c.tb ? j * ldb + q : q * ldb + j);
          ref_rounded += c.alpha * value(in, a16[ia]) * value(in, b16[ib]);
          ref_exact += c.alpha * double(a32[ia]) * double(b32[ib]);
          s += std::fabs(c.alpha * value(in, a16[ia]) * value(in, b16[ib]));
        }
        const int64_t ic = bi * sc + i * ldc + j;
        double c_before = 0;
        if (c.beta != 0) c_before = out == DType::f32 ? double(c0[ic]) : value(out, rounded(out, {c0[ic]})[0]);
        ref_rounded += c.beta * c_before;
        ref_exact += c.beta * c_before;
        s += std::fabs(c.beta * c_before);
        const double got = out == DType::f32 ? double(c32[ic]) : value(out, c16[ic]);
        const double tol1 = double(c.k + 3) * u32 * s;
        const double bound1 = tol1 + u_out * (std::fabs(ref_rounded) + tol1);
        const double bound2 = (2 * u_in + u_in * u_in) * s + bound1;
        ASSERT_LE(std::fabs(got - ref_rounded), bound1) << "vs rounded inputs at batch " << bi << " [" << i << ", " << j << "]";
        ASSERT_LE(std::fabs(got - ref_exact), bound2) << "vs float32 inputs at batch " << bi << " [" << i << ", " << j << "]";
      }
    }
  }
}

const Case kCases[] = {
    {1, 1, 1, false, false, 0, 1, 1, 0},     {7, 33, 17, false, false, 0, 1, 1, 0},
    {13, 5, 64, true, false, 3, 1, 1, 0},    {9, 40, 3, false, true, 1, 1, 1.5, 0.5},
    {33, 65, 129, true, true, 2, 2, 1, 0},   {8, 32, 2, false, false, 0, 1, -0.5, 0},
    {17, 97, 300, false, false, 5, 3, 1, 1}, {64, 130, 511, false, true, 0, 1, 1, 0},
};

class HalfGemm : public ::testing::TestWithParam<bool> {  // param: use AVX512-BF16 when present
 protected:
  void SetUp() override { old_ = cpu::use_avx512_bf16(GetParam()); }
  void TearDown() override { cpu::use_avx512_bf16(old_); }
  bool old_ = false;
};

TEST_P(HalfGemm, MatchesFloat32ReferencesWithinTheDerivedBounds) {
  if (GetParam() && !cpu::avx512_bf16_supported()) GTEST_SKIP() << "this CPU has no AVX512-BF16";
  EXPECT_EQ(cpu::avx512_bf16_enabled(), GetParam());
  uint32_t seed = 10;
  for (const Case& c : kCases) {
    run_case(DType::bf16, DType::f32, c, seed += 3);
    run_case(DType::bf16, DType::bf16, c, seed += 3);
    run_case(DType::f16, DType::f32, c, seed += 3);
    run_case(DType::f16, DType::f16, c, seed += 3);
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, HalfGemm, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "avx512_bf16" : "plain"; });

// The two paths sum in different orders, so their results differ, but by no more than the
// two bounds together; a path that silently fell back to the other would agree exactly.
TEST(HalfGemmPaths, Avx512AndPlainAgreeWithinBounds) {
  if (!cpu::avx512_bf16_supported()) GTEST_SKIP() << "this CPU has no AVX512-BF16";
  const int64_t m = 20, n = 50, k = 777;
  const std::vector<uint16_t> a = rounded(DType::bf16, test::random_vector<float>(size_t(m * k), 1));
  const std::vector<uint16_t> b = rounded(DType::bf16, test::random_vector<float>(size_t(k * n), 2));
  std::vector<float> fast(size_t(m * n)), plain(size_t(m * n));
  const bool old = cpu::use_avx512_bf16(true);
  cpu::gemm_16bit(DType::bf16, false, false, m, n, k, 1, a.data(), k, b.data(), n, 0, fast.data(), n);
  cpu::use_avx512_bf16(false);
  cpu::gemm_16bit(DType::bf16, false, false, m, n, k, 1, a.data(), k, b.data(), n, 0, plain.data(), n);
  cpu::use_avx512_bf16(old);
  int64_t differ = 0;
  for (size_t i = 0; i < fast.size(); ++i) {
    EXPECT_NEAR(fast[i], plain[i], 2 * (k + 3) * 0x1p-24 * 4.0 * k);  // |a|, |b| <= 2
    differ += fast[i] != plain[i];
  }
  EXPECT_GT(differ, 0) << "both runs took the same path";
}

TEST(HalfGemmErrors, NamesOpAndDtypes) {
  GemmParams p;
  p.dtype = DType::bf16;
  p.out_dtype = DType::f64;
  p.m = p.n = p.k = 1;
  p.lda = p.ldb = p.ldc = 1;
  try {
    cpu::gemm(p);
    FAIL() << "bfloat16 -> float64 should be refused";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("gemm"), std::string::npos) << msg;
    EXPECT_NE(msg.find("bfloat16"), std::string::npos) << msg;
    EXPECT_NE(msg.find("float64"), std::string::npos) << msg;
  }
  p.dtype = DType::i32;
  p.out_dtype.reset();
  try {
    cpu::gemm(p);
    FAIL() << "int32 should be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("int32"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace glia::kernels

namespace glia::kernels {
TEST(HalfGemmPaths, TheEnvironmentSwitchRefusesWhatItCannotDo) {
  EXPECT_FALSE(cpu::avx512_bf16_requested(nullptr, true));
  EXPECT_FALSE(cpu::avx512_bf16_requested("plain", true));
  EXPECT_TRUE(cpu::avx512_bf16_requested("avx512", true));
  try {
    cpu::avx512_bf16_requested("avx-512", true);
    ADD_FAILURE() << "a misspelt value was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("GLIA_CPU_BF16='avx-512'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(cpu::avx512_bf16_requested("avx512", false), Error);
}
}  // namespace glia::kernels
