// kernels/half.h against an obviously correct slow model of each format: every one of the
// 65536 bit patterns decoded by the textbook formula in double, and float -> 16 bits as
// "the nearest of all finite values, ties to the even pattern", found by binary search in
// the sorted table of every value the format has (infinity standing in as the first value
// past the largest finite one, which is how IEEE round-to-nearest overflows). Inputs: every
// pattern, the exact tie between every two neighbours and the floats just beside it, and
// a million random float bit patterns (subnormals, NaNs and infinities among them).
// tests/reference/half_reference_test.cpp checks the same conversions against PyTorch.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/half.h"

namespace glia {
namespace {

struct Format {
  const char* name;
  int exponent_bits, mantissa_bits;
  uint16_t (*encode)(float);
  float (*decode)(uint16_t);
};

const Format kBf16{"bfloat16", 8, 7, &float_to_bf16_bits, &bf16_bits_to_float};
const Format kF16{"float16", 5, 10, &float_to_f16_bits, &f16_bits_to_float};

int bias(const Format& f) { return (1 << (f.exponent_bits - 1)) - 1; }
int max_exponent_field(const Format& f) { return (1 << f.exponent_bits) - 1; }

// The textbook value of a bit pattern (NaN for every NaN pattern).
double reference_value(const Format& f, uint16_t bits) {
  const bool negative = bits >> 15;
  const int e = (bits >> f.mantissa_bits) & max_exponent_field(f);
  const int m = bits & ((1 << f.mantissa_bits) - 1);
  double v;
  if (e == max_exponent_field(f)) v = m ? NAN : INFINITY;
  else if (e == 0) v = std::ldexp(double(m), 1 - bias(f) - f.mantissa_bits);
  else v = std::ldexp(1.0 + std::ldexp(double(m), -f.mantissa_bits), e - bias(f));
  return negative ? -v : v;
}

// Every non-negative finite value with its pattern, ascending, then +inf as if it were the
// next binade's first value (2^(emax+1), pattern even): values past half way to it round
// to inf, exactly IEEE's overflow rule.
struct Table {
  std::vector<double> values;
  std::vector<uint16_t> bits;
};

Table make_table(const Format& f) {
  Table t;
  const uint16_t inf_bits = uint16_t(max_exponent_field(f) << f.mantissa_bits);
  for (uint32_t b = 0; b < inf_bits; ++b) {  // patterns ascend with value for a positive sign
    t.values.push_back(reference_value(f, uint16_t(b)));
    t.bits.push_back(uint16_t(b));
  }
  t.values.push_back(std::ldexp(1.0, max_exponent_field(f) - bias(f)));
  t.bits.push_back(inf_bits);
  return t;
}

// The correctly rounded pattern of x (NaN -> 0xFFFF, checked separately).
uint16_t reference_encode(const Table& t, float x) {
  if (std::isnan(x)) return 0xFFFF;
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double a = std::fabs(double(x));
  if (a >= t.values.back()) return sign | t.bits.back();
  const size_t hi = size_t(std::upper_bound(t.values.begin(), t.values.end(), a) - t.values.begin());
  const size_t lo = hi - 1;  // values[lo] <= a < values[hi]
  const double mid = (t.values[lo] + t.values[hi]) / 2;  // exact: both have few significant bits
  size_t pick = a < mid ? lo : a > mid ? hi : (t.bits[lo] % 2 == 0 ? lo : hi);
  return sign | t.bits[pick];
}

void expect_encodes(const Format& f, const Table& t, float x, const char* what) {
  const uint16_t got = f.encode(x), want = reference_encode(t, x);
  if (std::isnan(x)) {
    const uint16_t exponent_mask = uint16_t(max_exponent_field(f) << f.mantissa_bits);
    const uint16_t quiet = uint16_t(1u << (f.mantissa_bits - 1));
    EXPECT_TRUE((got & exponent_mask) == exponent_mask && (got & quiet))
        << f.name << ": NaN " << std::hex << float_bits(x) << " gave " << got << ", not a quiet NaN";
    EXPECT_EQ(got >> 15, float_bits(x) >> 31) << f.name << ": NaN lost its sign";
    return;
  }
  ASSERT_EQ(got, want) << f.name << " " << what << ": float " << std::hexfloat << x << " (bits " << std::hex
                       << float_bits(x) << ") encoded as " << got << ", correctly rounded is " << want;
}

class HalfConversion : public ::testing::TestWithParam<const Format*> {};

TEST_P(HalfConversion, EveryPatternDecodesExactly) {
  const Format& f = *GetParam();
  for (uint32_t b = 0; b < 65536; ++b) {
    const double want = reference_value(f, uint16_t(b));
    const float got = f.decode(uint16_t(b));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << f.name << " pattern " << std::hex << b;
      continue;
    }
    ASSERT_EQ(double(got), want) << f.name << " pattern " << std::hex << b;
    ASSERT_EQ(std::signbit(got), bool(b >> 15)) << f.name << " pattern " << std::hex << b << ": sign of zero";
  }
}

TEST_P(HalfConversion, EveryPatternRoundTrips) {
  const Format& f = *GetParam();
  const Table t = make_table(f);
  for (uint32_t b = 0; b < 65536; ++b) {
    const float x = f.decode(uint16_t(b));
    if (std::isnan(x)) {
      expect_encodes(f, t, x, "NaN pattern");
      continue;
    }
    ASSERT_EQ(f.encode(x), b) << f.name << " pattern " << std::hex << b << " did not survive a round trip";
  }
}

TEST_P(HalfConversion, TiesGoToEvenAndNeighboursOfTiesGoToTheNearer) {
  const Format& f = *GetParam();
  const Table t = make_table(f);
  for (size_t i = 0; i + 1 < t.values.size(); ++i) {
    const float mid = float((t.values[i] + t.values[i + 1]) / 2);  // a float: at most 12 significant bits
    ASSERT_EQ(double(mid), (t.values[i] + t.values[i + 1]) / 2);
    for (float sign : {1.0f, -1.0f}) {
      expect_encodes(f, t, sign * mid, "tie");
      expect_encodes(f, t, sign * std::nextafter(mid, 0.0f), "just below a tie");
      expect_encodes(f, t, sign * std::nextafter(mid, INFINITY), "just above a tie");
      expect_encodes(f, t, sign * std::nextafter(float(t.values[i]), INFINITY), "just above a value");
      if (i > 0) expect_encodes(f, t, sign * std::nextafter(float(t.values[i]), 0.0f), "just below a value");
    }
  }
  // The two ties whose even neighbour is the larger value, spelled out.
  if (f.exponent_bits == 5) {
    EXPECT_EQ(f.encode(65520.0f), 0x7C00) << "65520 is half way from 65504 to 65536: rounds to inf";
    EXPECT_EQ(f.encode(std::nextafter(65520.0f, 0.0f)), 0x7BFF);
    EXPECT_EQ(f.encode(0x1p-25f), 0x0000) << "2^-25 is half the smallest subnormal: rounds to 0";
    EXPECT_EQ(f.encode(0x1.8p-24f), 0x0002) << "1.5 * 2^-24 is a tie between subnormals 1 and 2";
  } else {
    EXPECT_EQ(f.encode(1.0f + 0x1p-8f), 0x3F80);
    EXPECT_EQ(f.encode(1.0f + 0x3p-8f), 0x3F82);
  }
}

TEST_P(HalfConversion, RandomFloatPatternsIncludingSubnormalsNaNsAndInfinities) {
  const Format& f = *GetParam();
  const Table t = make_table(f);
  std::mt19937 rng(17);
  for (int i = 0; i < 1000000; ++i) expect_encodes(f, t, float_from_bits(uint32_t(rng())), "random");
  for (uint32_t special : {0x7F800000u, 0xFF800000u, 0x7F800001u, 0x7FC00000u, 0xFFFFFFFFu, 0x00000001u, 0x807FFFFFu,
                           0x7F7FFFFFu, 0xFF7FFFFFu, 0x00000000u, 0x80000000u})
    expect_encodes(f, t, float_from_bits(special), "special");
}

INSTANTIATE_TEST_SUITE_P(Formats, HalfConversion, ::testing::Values(&kBf16, &kF16),
                         [](const ::testing::TestParamInfo<const Format*>& info) {
                           return std::string(info.param->name);
                         });

TEST(HalfTypes, ConvertThroughFloatAndKnowTheirLimits) {
  EXPECT_EQ(float(bfloat16(3.0)), 3.0f);
  EXPECT_EQ(float(float16(int64_t{-7})), -7.0f);
  EXPECT_EQ(float(float16(bfloat16(1.5f))), 1.5f);
  EXPECT_EQ(float(std::numeric_limits<float16>::max()), 65504.0f);
  EXPECT_EQ(float(std::numeric_limits<float16>::epsilon()), 0x1p-10f);
  EXPECT_EQ(float(std::numeric_limits<float16>::denorm_min()), 0x1p-24f);
  EXPECT_EQ(float(std::numeric_limits<bfloat16>::epsilon()), 0x1p-7f);
  EXPECT_EQ(float(std::numeric_limits<bfloat16>::min()), 0x1p-126f);
  EXPECT_EQ(float(std::numeric_limits<bfloat16>::max()), 0x1.FEp127f);
  EXPECT_TRUE(std::isnan(float(std::numeric_limits<bfloat16>::quiet_NaN())));
  EXPECT_TRUE(std::isinf(float(std::numeric_limits<float16>::infinity())));
  EXPECT_EQ(std::numeric_limits<bfloat16>::digits, 8);
  EXPECT_EQ(std::numeric_limits<float16>::digits, 11);
}

}  // namespace
}  // namespace glia
