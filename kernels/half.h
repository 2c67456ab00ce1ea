// 16-bit floating-point storage types: bfloat16 (8-bit exponent, 7-bit mantissa: float32's
// range, 3 significant decimal digits) and float16 (IEEE binary16: 5-bit exponent, 10-bit
// mantissa, largest finite 65504, subnormals down to 2^-24).
//
// They are storage types: arithmetic happens in float (the implicit conversion), as in
// PyTorch's c10::BFloat16/c10::Half, and kernels accumulate in float32.
//
// float -> 16 bits rounds to nearest, ties to even, in integer arithmetic, so the result
// does not depend on the FPU's rounding mode or flush-to-zero setting:
//   - NaN stays NaN, made quiet (top mantissa bit set), sign and top payload bits kept;
//   - +-inf stay +-inf; a finite value rounds to inf exactly when IEEE says it does
//     (float16: |x| >= 65520, half an ulp above 65504; bfloat16: above the largest finite
//     bfloat16 by half its ulp or more);
//   - float16 subnormals are rounded correctly, values at or below 2^-25 go to +-0.
// 16 bits -> float is exact (both formats are subsets of float32).
// double -> 16 bits goes through float, as PyTorch's conversions do (so a double lying
// just beside a 16-bit tie can round twice; within one float ulp of a tie, no more).
#pragma once
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "kernels/hd.h"

namespace glia {

GLIA_HD inline uint32_t float_bits(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}
GLIA_HD inline float float_from_bits(uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

GLIA_HD inline uint16_t float_to_bf16_bits(float f) {
  const uint32_t x = float_bits(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x0040u);  // NaN: quiet
  // RNE on the 16 dropped bits: add 0x7FFF, plus 1 when the kept LSB is odd. A carry out of
  // the mantissa bumps the exponent, and out of the largest finite value gives inf.
  const uint32_t rounding = 0x7FFFu + ((x >> 16) & 1u);
  return static_cast<uint16_t>((x + rounding) >> 16);
}

GLIA_HD inline float bf16_bits_to_float(uint16_t h) { return float_from_bits(static_cast<uint32_t>(h) << 16); }

GLIA_HD inline uint16_t float_to_f16_bits(float f) {
  const uint32_t u = float_bits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t x = u & 0x7FFFFFFFu;
  if (x > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u | ((x >> 13) & 0x03FFu));  // NaN: quiet
  if (x >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // inf, or >= 65520: rounds to inf
  if (x >= 0x38800000u) {  // >= 2^-14: a normal float16. Rebias the exponent (127 -> 15), RNE on 13 bits.
    uint32_t r = (x >> 13) - (112u << 10);
    const uint32_t rest = x & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (r & 1u))) ++r;  // a carry may reach the exponent: correct
    return static_cast<uint16_t>(sign | r);
  }
  if (x <= 0x33000000u) return sign;  // <= 2^-25: half the smallest subnormal or less; the tie goes to 0 (even)
  // Subnormal: the value in units of 2^-24 is mantissa * 2^(e - 126) with e the float's
  // biased exponent (102..112 here), so shift right by 126 - e (14..24) and round.
  const uint32_t e = x >> 23, mantissa = (x & 0x7FFFFFu) | 0x800000u, shift = 126u - e;
  uint32_t r = mantissa >> shift;
  const uint32_t rest = mantissa & ((1u << shift) - 1u), half = 1u << (shift - 1u);
  if (rest > half || (rest == half && (r & 1u))) ++r;  // r == 0x400 is the smallest normal: correct
  return static_cast<uint16_t>(sign | r);
}

GLIA_HD inline float f16_bits_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu, mantissa = h & 0x03FFu;
  if (exponent == 0x1F) return float_from_bits(sign | 0x7F800000u | (mantissa << 13));  // inf, NaN (payload kept)
  if (exponent != 0) return float_from_bits(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  if (mantissa == 0) return float_from_bits(sign);
  // Subnormal: mantissa * 2^-24; normalise so the leading 1 becomes the implicit bit.
  uint32_t m = mantissa, e = 113u;  // float exponent of 2^-14, decremented per shift
  while ((m & 0x400u) == 0) {
    m <<= 1;
    --e;
  }
  return float_from_bits(sign | (e << 23) | ((m & 0x3FFu) << 13));
}

struct bfloat16 {
  uint16_t bits;

  bfloat16() = default;  // uninitialised, like float; value-initialisation gives +0
  GLIA_HD explicit bfloat16(float f) : bits(float_to_bf16_bits(f)) {}
  // Any other arithmetic value (double, integers) through float.
  template <class T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
  GLIA_HD explicit bfloat16(T v) : bits(float_to_bf16_bits(static_cast<float>(v))) {}
  GLIA_HD operator float() const { return bf16_bits_to_float(bits); }
  GLIA_HD static constexpr bfloat16 from_bits(uint16_t b) {
    bfloat16 h{};
    h.bits = b;
    return h;
  }
};

struct float16 {
  uint16_t bits;

  float16() = default;
  GLIA_HD explicit float16(float f) : bits(float_to_f16_bits(f)) {}
  // Any other arithmetic value (double, integers) through float.
  template <class T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
  GLIA_HD explicit float16(T v) : bits(float_to_f16_bits(static_cast<float>(v))) {}
  GLIA_HD operator float() const { return f16_bits_to_float(bits); }
  GLIA_HD static constexpr float16 from_bits(uint16_t b) {
    float16 h{};
    h.bits = b;
    return h;
  }
};

static_assert(sizeof(bfloat16) == 2 && sizeof(float16) == 2, "16-bit storage types must be 2 bytes");

template <class T>
inline constexpr bool is_16bit_float_v = std::is_same_v<T, bfloat16> || std::is_same_v<T, float16>;

}  // namespace glia

// What std::numeric_limits<float> says, for the 16-bit formats (generic code and tests ask
// it for epsilon, quiet_NaN, max).
namespace std {
template <>
struct numeric_limits<glia::bfloat16> {
  using T = glia::bfloat16;
  static constexpr bool is_specialized = true, is_signed = true, is_integer = false, is_exact = false;
  static constexpr bool has_infinity = true, has_quiet_NaN = true, has_signaling_NaN = true;
  static constexpr bool is_iec559 = false, is_bounded = true, is_modulo = false;
  static constexpr float_round_style round_style = round_to_nearest;
  static constexpr int digits = 8, radix = 2, min_exponent = -125, max_exponent = 128;
  static constexpr T min() noexcept { return T::from_bits(0x0080); }  // 2^-126
  static constexpr T lowest() noexcept { return T::from_bits(0xFF7F); }
  static constexpr T max() noexcept { return T::from_bits(0x7F7F); }
  static constexpr T epsilon() noexcept { return T::from_bits(0x3C00); }  // 2^-7
  static constexpr T round_error() noexcept { return T::from_bits(0x3F00); }  // 0.5
  static constexpr T infinity() noexcept { return T::from_bits(0x7F80); }
  static constexpr T quiet_NaN() noexcept { return T::from_bits(0x7FC0); }
  static constexpr T signaling_NaN() noexcept { return T::from_bits(0x7F81); }
  static constexpr T denorm_min() noexcept { return T::from_bits(0x0001); }
};
template <>
struct numeric_limits<glia::float16> {
  using T = glia::float16;
  static constexpr bool is_specialized = true, is_signed = true, is_integer = false, is_exact = false;
  static constexpr bool has_infinity = true, has_quiet_NaN = true, has_signaling_NaN = true;
  static constexpr bool is_iec559 = true, is_bounded = true, is_modulo = false;
  static constexpr float_round_style round_style = round_to_nearest;
  static constexpr int digits = 11, radix = 2, min_exponent = -13, max_exponent = 16;
  static constexpr T min() noexcept { return T::from_bits(0x0400); }  // 2^-14
  static constexpr T lowest() noexcept { return T::from_bits(0xFBFF); }  // -65504
  static constexpr T max() noexcept { return T::from_bits(0x7BFF); }  // 65504
  static constexpr T epsilon() noexcept { return T::from_bits(0x1400); }  // 2^-10
  static constexpr T round_error() noexcept { return T::from_bits(0x3800); }  // 0.5
  static constexpr T infinity() noexcept { return T::from_bits(0x7C00); }
  static constexpr T quiet_NaN() noexcept { return T::from_bits(0x7E00); }
  static constexpr T signaling_NaN() noexcept { return T::from_bits(0x7D00); }
  static constexpr T denorm_min() noexcept { return T::from_bits(0x0001); }  // 2^-24
};
}  // namespace std
