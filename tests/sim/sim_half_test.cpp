// The emulator's __half and __nv_bfloat16 (kernels/sim/half_types.h) against the CPU's own
// conversion instructions, an independent reference: F16C's vcvtps2ph (IEEE binary16,
// every rounding mode) and AVX512-BF16's vcvtneps2bf16 (round to nearest even), over
// hand-picked edge cases and a million random float bit patterns. Where the CPU lacks
// the instruction the comparison is skipped and says so; the edge cases run everywhere.
#include "kernels/sim/cuda_dialect.h"
// (the dialect comes first, as in the generated wrappers of kernels/cuda/*.cu)
#include <gtest/gtest.h>
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace {

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

__attribute__((target("f16c"))) uint16_t f16c_convert(float f, int mode) {
  __m128 v = _mm_set_ss(f);
  __m128i h;
  switch (mode) {
    case 0: h = _mm_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); break;
    case 1: h = _mm_cvtps_ph(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC); break;
    case 2: h = _mm_cvtps_ph(v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); break;
    default: h = _mm_cvtps_ph(v, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC); break;
  }
  return static_cast<uint16_t>(_mm_extract_epi16(h, 0));
}
__attribute__((target("f16c"))) float f16c_to_float(uint16_t h) { return _cvtsh_ss(h); }

__attribute__((target("avx512bf16,avx512vl"))) uint16_t avx512_bf16(float f) {
  __m128bh h = _mm_cvtneps_pbh(_mm_set1_ps(f));
  uint16_t out[8];
  std::memcpy(out, &h, sizeof(out));
  return out[0];
}

std::vector<float> sample_floats() {
  std::vector<float> v;
  std::mt19937 rng(17);
  for (int i = 0; i < 1000000; ++i) v.push_back(float_of(static_cast<uint32_t>(rng())));
  // Dense around the half range's edges and subnormals.
  std::uniform_real_distribution<float> e(-30.0f, 17.0f);
  for (int i = 0; i < 200000; ++i) v.push_back((i % 2 ? -1.0f : 1.0f) * std::exp2(e(rng)));
  return v;
}

TEST(SimHalf, BfloatEdgeCasesFollowCudasRoundToNearestEven) {
  EXPECT_EQ(__bfloat16_as_ushort(__float2bfloat16(1.0f)), 0x3f80);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0); 1 + 3*2^-8 rounds up.
  EXPECT_EQ(__bfloat16_as_ushort(__float2bfloat16(1.0f + std::ldexp(1.0f, -8))), 0x3f80);
  EXPECT_EQ(__bfloat16_as_ushort(__float2bfloat16(1.0f + 3 * std::ldexp(1.0f, -8))), 0x3f82);
  EXPECT_EQ(__bfloat16_as_ushort(__float2bfloat16_rz(1.0f + 3 * std::ldexp(1.0f, -8))), 0x3f81);
  EXPECT_EQ(__bfloat16_as_ushort(__float2bfloat16_ru(1.0f + std::ldexp(1.0f, -20))), 0x3f81);
  EXPECT_EQ(__bfloat16_as_ushort(__float2bfloat16_rd(-1.0f - std::ldexp(1.0f, -20))), 0xbf81);
  // NaN becomes the canonical 0x7fff whatever its sign and payload; infinities keep sign.
  EXPECT_EQ(__bfloat16_as_ushort(__float2bfloat16(std::numeric_limits<float>::quiet_NaN())), 0x7fff);
  EXPECT_EQ(__bfloat16_as_ushort(__float2bfloat16(float_of(0xff800001u))), 0x7fff);
  EXPECT_EQ(__bfloat16_as_ushort(__float2bfloat16(-std::numeric_limits<float>::infinity())), 0xff80);
  // The largest float rounds up past bf16's largest finite value: infinity.
  EXPECT_EQ(__bfloat16_as_ushort(__float2bfloat16(std::numeric_limits<float>::max())), 0x7f80);
  EXPECT_EQ(__bfloat16_as_ushort(__float2bfloat16_rz(std::numeric_limits<float>::max())), 0x7f7f);
  EXPECT_TRUE(__hisnan(__float2bfloat16(NAN)));
  EXPECT_EQ(__hisinf(__float2bfloat16(-INFINITY)), -1);
  // bf16 -> float is exact, and back is the identity for every non-NaN pattern.
  for (uint32_t b = 0; b < 0x10000u; ++b) {
    float f = __bfloat162float(__ushort_as_bfloat16(static_cast<unsigned short>(b)));
    EXPECT_EQ(bits_of(f), b << 16);
    if (!std::isnan(f)) {
      EXPECT_EQ(__bfloat16_as_ushort(__float2bfloat16(f)), b) << std::hex << b;
    }
  }
  // double -> bf16 rounds once: 1 + 2^-8 + 2^-40 lies just above the tie and must round up
  // (rounding to float first would land exactly on the tie and go to even).
  EXPECT_EQ(__bfloat16_as_ushort(__double2bfloat16(1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -40))), 0x3f81);
}

TEST(SimHalf, BfloatMatchesAvx512Bf16OnAMillionFloats) {
  if (!__builtin_cpu_supports("avx512bf16")) GTEST_SKIP() << "this CPU has no AVX512-BF16 to compare with";
  int mismatches = 0;
  for (float f : sample_floats()) {
    if (std::isnan(f)) continue;  // the instruction keeps NaN payloads; CUDA canonicalises
    uint16_t want = avx512_bf16(f);
    // vcvtneps2bf16 flushes float subnormals to zero (it ignores MXCSR.DAZ but treats
    // denormal inputs as zero); CUDA's conversion does not, so compare normal inputs.
    if (std::fpclassify(f) == FP_SUBNORMAL) continue;
    if (__bfloat16_as_ushort(__float2bfloat16(f)) != want && ++mismatches < 5) {
      ADD_FAILURE() << "float bits 0x" << std::hex << bits_of(f) << ": sim 0x" << __bfloat16_as_ushort(__float2bfloat16(f))
                    << ", avx512 0x" << want;
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(SimHalf, HalfMatchesF16cInEveryRoundingMode) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "this CPU has no F16C to compare with";
  int mismatches = 0;
  for (float f : sample_floats()) {
    if (std::isnan(f)) {
      EXPECT_EQ(__half_as_ushort(__float2half(f)), 0x7fff);
      continue;
    }
    const __half got[4] = {__float2half_rn(f), __float2half_rz(f), __float2half_rd(f), __float2half_ru(f)};
    for (int mode = 0; mode < 4; ++mode) {
      uint16_t want = f16c_convert(f, mode);
      if (__half_as_ushort(got[mode]) != want && ++mismatches < 5) {
        ADD_FAILURE() << "float bits 0x" << std::hex << bits_of(f) << " mode " << mode << ": sim 0x"
                      << __half_as_ushort(got[mode]) << ", f16c 0x" << want;
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    float want = f16c_to_float(static_cast<uint16_t>(h)), got = __half2float(__ushort_as_half(static_cast<unsigned short>(h)));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got));
    } else {
      EXPECT_EQ(bits_of(got), bits_of(want)) << std::hex << h;
    }
  }
}

// Arithmetic is the exactly rounded 16-bit result. Reference: the exact result in double,
// kept where it is also exact in float, then one conversion (checked against the CPU's
// instructions above). Operands of magnitude [1, 4) keep most results exact in float.
TEST(SimHalf, ArithmeticRoundsOnceToNearestEven) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(1.0f, 4.0f);
  auto draw = [&] { return (rng() & 1u) ? -u(rng) : u(rng); };
  int checked = 0, trials = 0;
  auto expect_bf16 = [&](__nv_bfloat16 got, double exact) {
    ++trials;
    if (static_cast<double>(static_cast<float>(exact)) != exact) return;
    ++checked;
    EXPECT_EQ(__bfloat16_as_ushort(got), __bfloat16_as_ushort(__float2bfloat16(static_cast<float>(exact)))) << exact;
  };
  auto expect_half = [&](__half got, double exact) {
    ++trials;
    if (static_cast<double>(static_cast<float>(exact)) != exact) return;
    ++checked;
    EXPECT_EQ(__half_as_ushort(got), __half_as_ushort(__float2half(static_cast<float>(exact)))) << exact;
  };
  for (int i = 0; i < 20000; ++i) {
    __nv_bfloat16 a = __float2bfloat16(draw()), b = __float2bfloat16(draw()), c = __float2bfloat16(draw());
    double fa = __bfloat162float(a), fb = __bfloat162float(b), fc = __bfloat162float(c);
    expect_bf16(__hadd(a, b), fa + fb);
    expect_bf16(__hsub(a, b), fa - fb);
    expect_bf16(__hmul(a, b), fa * fb);
    expect_bf16(__hfma(a, b, c), fa * fb + fc);
    expect_bf16(a * b, fa * fb);
    __half ha = __float2half(draw()), hb = __float2half(draw()), hc = __float2half(draw());
    double ga = __half2float(ha), gb = __half2float(hb), gc = __half2float(hc);
    expect_half(__hadd(ha, hb), ga + gb);
    expect_half(__hsub(ha, hb), ga - gb);
    expect_half(__hmul(ha, hb), ga * gb);
    expect_half(__hfma(ha, hb, hc), ga * gb + gc);
  }
  EXPECT_GT(checked, trials * 8 / 10) << "too few results exact in float to compare";
  EXPECT_EQ(__half_as_ushort(__hneg(__float2half(1.0f))), 0xbc00);
  EXPECT_TRUE(__hlt(__float2bfloat16(1.0f), __float2bfloat16(2.0f)));
  EXPECT_FALSE(__heq(__float2half(NAN), __float2half(NAN)));
  EXPECT_FALSE(__hne(__float2half(NAN), __float2half(1.0f)));  // an ordered comparison
}

}  // namespace
