// __half and __nv_bfloat16 for the emulator: what cuda_fp16.h and cuda_bf16.h give a
// kernel, as plain C++ (included by cuda_dialect.h; under nvcc the real headers are used).
//
// Semantics follow CUDA's:
//  * float -> 16-bit conversions round to nearest even (the _rz/_rd/_ru variants as named);
//    overflow goes to infinity (as round-to-nearest does); a NaN becomes the canonical
//    quiet NaN 0x7fff (sign dropped), as cvt.rn.f16.f32 / cvt.rn.bf16.f32 and the
//    headers' host paths produce; infinities keep their sign.
//  * 16-bit -> float is exact.
//  * Arithmetic (__hadd, __hmul, __hfma, the operators, ...) returns the exactly rounded
//    16-bit result: computing in float and rounding once is exact for + - * / because
//    float carries more than 2p+2 bits of the 11 (half) or 8 (bf16) bit significand; fma
//    is done in double (the product is exact there) for the same reason.
//  * The types convert implicitly to and from float, as the headers allow by default.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/sim/vector_types.h"

namespace glia::sim::detail {

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

enum class Round { nearest_even, toward_zero, down, up };

// float -> bfloat16 bits: keep the top 16 bits, rounded as asked.
inline uint16_t float_to_bf16_bits(float f, Round mode = Round::nearest_even) {
  uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fff;  // NaN: canonical
  uint32_t low = u & 0xffffu, sign = u >> 31;
  uint32_t hi = u >> 16;
  if (low == 0) return static_cast<uint16_t>(hi);
  bool up = false;
  switch (mode) {
    case Round::nearest_even: up = low > 0x8000u || (low == 0x8000u && (hi & 1u)); break;
    case Round::toward_zero: up = false; break;
    case Round::down: up = sign != 0; break;   // away from zero for negatives
    case Round::up: up = sign == 0; break;
  }
  // An infinity has low == 0 and never gets here; rounding FLT_MAX-ish up carries into
  // the exponent and gives infinity, as it should.
  if (up) hi += 1;
  return static_cast<uint16_t>(hi);
}

inline float bf16_bits_to_float(uint16_t h) { return bits_float(static_cast<uint32_t>(h) << 16); }

// float -> IEEE binary16 bits, any rounding mode, with subnormals.
inline uint16_t float_to_half_bits(float f, Round mode = Round::nearest_even) {
  uint32_t u = float_bits(f);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return 0x7fff;  // NaN: canonical
  bool negative = sign != 0;
  auto rounds_up = [&](uint32_t kept_lsb, uint32_t rest, uint32_t half) {
    if (rest == 0) return false;
    switch (mode) {
      case Round::nearest_even: return rest > half || (rest == half && (kept_lsb & 1u));
      case Round::toward_zero: return false;
      case Round::down: return negative;
      case Round::up: return !negative;
    }
    return false;
  };
  if (a == 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u);
  int exp = static_cast<int>(a >> 23) - 127;
  uint32_t mant = a & 0x7fffffu;
  if (exp > 15) {
    // Beyond the largest finite half: infinity unless the mode rounds toward zero here.
    bool to_inf = mode == Round::nearest_even || (mode == Round::up && !negative) || (mode == Round::down && negative);
    return static_cast<uint16_t>(sign | (to_inf ? 0x7c00u : 0x7bffu));
  }
  if (exp >= -14) {
    // Normal: 10 mantissa bits kept of 23.
    uint32_t h = static_cast<uint32_t>((exp + 15) << 10) | (mant >> 13);
    if (rounds_up(h, mant & 0x1fffu, 0x1000u)) ++h;  // may carry into the exponent: right
    if (h >= 0x7c00u && !(mode == Round::nearest_even || (mode == Round::up && !negative) || (mode == Round::down && negative)))
      h = 0x7bffu;
    return static_cast<uint16_t>(sign | h);
  }
  // Subnormal half (or zero): value = m * 2^-24.
  if (a == 0) return sign;
  uint32_t full = mant | (exp == -127 ? 0u : 0x800000u);  // float subnormals: no hidden bit
  int shift = exp == -127 ? 32 : -exp - 1;                  // bits of `full` below 2^-24
  if (shift > 31) {
    return static_cast<uint16_t>(sign | (rounds_up(0, 1, 2) ? 1u : 0u));  // below half the smallest subnormal
  }
  uint32_t h = full >> shift;
  uint32_t rest = full & ((1u << shift) - 1u);
  if (rounds_up(h, rest, 1u << (shift - 1))) ++h;
  return static_cast<uint16_t>(sign | h);
}

inline float half_bits_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0x1f) return bits_float(sign | 0x7f800000u | (mant << 13));  // inf, NaN (payload kept)
  if (exp == 0) {
    float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  return bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
}

// double -> 16-bit: round to odd into float first (no double rounding then: float keeps
// more than two extra bits beyond either 16-bit format), then round as asked.
inline float double_to_float_round_odd(double d) {
  float f = static_cast<float>(d);
  if (std::isnan(d) || std::isinf(f) || static_cast<double>(f) == d) return f;
  if (std::fabs(static_cast<double>(f)) > std::fabs(d)) f = std::nextafter(f, 0.0f);
  return bits_float(float_bits(f) | 1u);
}

}  // namespace glia::sim::detail

struct __half_raw {
  unsigned short x;
};
struct __nv_bfloat16_raw {
  unsigned short x;
};

struct alignas(2) __half {
  unsigned short __x;
  __half() = default;
  __half(const __half_raw& r) : __x(r.x) {}
  __half(float f) : __x(::glia::sim::detail::float_to_half_bits(f)) {}
  __half(double d) : __x(::glia::sim::detail::float_to_half_bits(::glia::sim::detail::double_to_float_round_odd(d))) {}
  __half(int i) : __half(static_cast<double>(i)) {}
  operator float() const { return ::glia::sim::detail::half_bits_to_float(__x); }
  operator __half_raw() const { return __half_raw{__x}; }
};

struct alignas(2) __nv_bfloat16 {
  unsigned short __x;
  __nv_bfloat16() = default;
  __nv_bfloat16(const __nv_bfloat16_raw& r) : __x(r.x) {}
  __nv_bfloat16(float f) : __x(::glia::sim::detail::float_to_bf16_bits(f)) {}
  __nv_bfloat16(double d)
      : __x(::glia::sim::detail::float_to_bf16_bits(::glia::sim::detail::double_to_float_round_odd(d))) {}
  __nv_bfloat16(int i) : __nv_bfloat16(static_cast<double>(i)) {}
  operator float() const { return ::glia::sim::detail::bf16_bits_to_float(__x); }
  operator __nv_bfloat16_raw() const { return __nv_bfloat16_raw{__x}; }
};
static_assert(sizeof(__half) == 2 && sizeof(__nv_bfloat16) == 2, "16-bit types");
using nv_bfloat16 = __nv_bfloat16;
using half = __half;

struct alignas(4) __half2 {
  __half x, y;
};
struct alignas(4) __nv_bfloat162 {
  __nv_bfloat16 x, y;
};
using nv_bfloat162 = __nv_bfloat162;
using half2 = __half2;

// ---- conversions ------------------------------------------------------------------------
namespace glia::sim::detail {
template <class T>
inline T from_bits(uint16_t b) {
  T t;
  t.__x = b;
  return t;
}
}  // namespace glia::sim::detail

inline __nv_bfloat16 __float2bfloat16(float f) { return ::glia::sim::detail::from_bits<__nv_bfloat16>(::glia::sim::detail::float_to_bf16_bits(f)); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __float2bfloat16(f); }
inline __nv_bfloat16 __float2bfloat16_rz(float f) {
  return ::glia::sim::detail::from_bits<__nv_bfloat16>(::glia::sim::detail::float_to_bf16_bits(f, ::glia::sim::detail::Round::toward_zero));
}
inline __nv_bfloat16 __float2bfloat16_rd(float f) {
  return ::glia::sim::detail::from_bits<__nv_bfloat16>(::glia::sim::detail::float_to_bf16_bits(f, ::glia::sim::detail::Round::down));
}
inline __nv_bfloat16 __float2bfloat16_ru(float f) {
  return ::glia::sim::detail::from_bits<__nv_bfloat16>(::glia::sim::detail::float_to_bf16_bits(f, ::glia::sim::detail::Round::up));
}
inline __nv_bfloat16 __double2bfloat16(double d) { return __nv_bfloat16(d); }
inline float __bfloat162float(__nv_bfloat16 h) { return ::glia::sim::detail::bf16_bits_to_float(h.__x); }
inline __nv_bfloat16 __int2bfloat16_rn(int i) { return __nv_bfloat16(static_cast<double>(i)); }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) { return h.__x; }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short b) { return ::glia::sim::detail::from_bits<__nv_bfloat16>(b); }
inline short __bfloat16_as_short(__nv_bfloat16 h) { return static_cast<short>(h.__x); }
inline __nv_bfloat16 __short_as_bfloat16(short b) {
  return ::glia::sim::detail::from_bits<__nv_bfloat16>(static_cast<uint16_t>(b));
}

inline __half __float2half(float f) { return ::glia::sim::detail::from_bits<__half>(::glia::sim::detail::float_to_half_bits(f)); }
inline __half __float2half_rn(float f) { return __float2half(f); }
inline __half __float2half_rz(float f) {
  return ::glia::sim::detail::from_bits<__half>(::glia::sim::detail::float_to_half_bits(f, ::glia::sim::detail::Round::toward_zero));
}
inline __half __float2half_rd(float f) {
  return ::glia::sim::detail::from_bits<__half>(::glia::sim::detail::float_to_half_bits(f, ::glia::sim::detail::Round::down));
}
inline __half __float2half_ru(float f) {
  return ::glia::sim::detail::from_bits<__half>(::glia::sim::detail::float_to_half_bits(f, ::glia::sim::detail::Round::up));
}
inline __half __double2half(double d) { return __half(d); }
inline float __half2float(__half h) { return ::glia::sim::detail::half_bits_to_float(h.__x); }
inline __half __int2half_rn(int i) { return __half(static_cast<double>(i)); }
inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline __half __ushort_as_half(unsigned short b) { return ::glia::sim::detail::from_bits<__half>(b); }
inline short __half_as_short(__half h) { return static_cast<short>(h.__x); }
inline __half __short_as_half(short b) { return ::glia::sim::detail::from_bits<__half>(static_cast<uint16_t>(b)); }

inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) { return {__float2bfloat16(a), __float2bfloat16(b)}; }
inline __nv_bfloat162 __float2bfloat162_rn(float a) { return {__float2bfloat16(a), __float2bfloat16(a)}; }
inline __nv_bfloat162 __halves2bfloat162(__nv_bfloat16 a, __nv_bfloat16 b) { return {a, b}; }
inline float __low2float(__nv_bfloat162 v) { return __bfloat162float(v.x); }
inline float __high2float(__nv_bfloat162 v) { return __bfloat162float(v.y); }
inline float2 __bfloat1622float2(__nv_bfloat162 v) { return float2{__bfloat162float(v.x), __bfloat162float(v.y)}; }
inline __half2 __floats2half2_rn(float a, float b) { return {__float2half(a), __float2half(b)}; }
inline __half2 __float2half2_rn(float a) { return {__float2half(a), __float2half(a)}; }
inline __half2 __halves2half2(__half a, __half b) { return {a, b}; }
inline float __low2float(__half2 v) { return __half2float(v.x); }
inline float __high2float(__half2 v) { return __half2float(v.y); }
inline float2 __half22float2(__half2 v) { return float2{__half2float(v.x), __half2float(v.y)}; }

// ---- arithmetic, comparisons, operators: the same names for both types, as CUDA's
// headers overload them -------------------------------------------------------------------
#define GLIA_SIM_16BIT_MATH(T, to_f, from_f, inf_bits)                                                   \
  inline T __hadd(T a, T b) { return from_f(to_f(a) + to_f(b)); }                                          \
  inline T __hsub(T a, T b) { return from_f(to_f(a) - to_f(b)); }                                          \
  inline T __hmul(T a, T b) { return from_f(to_f(a) * to_f(b)); }                                          \
  inline T __hdiv(T a, T b) { return from_f(to_f(a) / to_f(b)); }                                          \
  inline T __hneg(T a) { return ::glia::sim::detail::from_bits<T>(static_cast<uint16_t>(a.__x ^ 0x8000u)); } \
  inline T __habs(T a) { return ::glia::sim::detail::from_bits<T>(static_cast<uint16_t>(a.__x & 0x7fffu)); } \
  inline T __hfma(T a, T b, T c) {                                                                        \
    double exact = static_cast<double>(to_f(a)) * static_cast<double>(to_f(b)) + static_cast<double>(to_f(c)); \
    return from_f(::glia::sim::detail::double_to_float_round_odd(exact));                                  \
  }                                                                                                        \
  inline T __hfma_relu(T a, T b, T c) {                                                                   \
    T r = __hfma(a, b, c);                                                                                 \
    return to_f(r) < 0.0f ? from_f(0.0f) : r; /* a NaN stays NaN */                                        \
  }                                                                                                        \
  inline bool __hisnan(T a) { return (a.__x & 0x7fffu) > (inf_bits); }                                    \
  inline int __hisinf(T a) { return (a.__x & 0x7fffu) == (inf_bits) ? ((a.__x & 0x8000u) ? -1 : 1) : 0; }  \
  inline T __hmax(T a, T b) { return from_f(fmaxf(to_f(a), to_f(b))); }                                    \
  inline T __hmin(T a, T b) { return from_f(fminf(to_f(a), to_f(b))); }                                    \
  inline bool __heq(T a, T b) { return to_f(a) == to_f(b); }                                                \
  inline bool __hne(T a, T b) { return !__hisnan(a) && !__hisnan(b) && to_f(a) != to_f(b); }               \
  inline bool __hlt(T a, T b) { return to_f(a) < to_f(b); }                                                 \
  inline bool __hle(T a, T b) { return to_f(a) <= to_f(b); }                                                \
  inline bool __hgt(T a, T b) { return to_f(a) > to_f(b); }                                                 \
  inline bool __hge(T a, T b) { return to_f(a) >= to_f(b); }                                                \
  inline T operator+(T a, T b) { return __hadd(a, b); }                                                    \
  inline T operator-(T a, T b) { return __hsub(a, b); }                                                    \
  inline T operator*(T a, T b) { return __hmul(a, b); }                                                    \
  inline T operator/(T a, T b) { return __hdiv(a, b); }                                                    \
  inline T operator-(T a) { return __hneg(a); }                                                            \
  inline T operator+(T a) { return a; }                                                                    \
  inline T& operator+=(T& a, T b) { return a = a + b; }                                                    \
  inline T& operator-=(T& a, T b) { return a = a - b; }                                                    \
  inline T& operator*=(T& a, T b) { return a = a * b; }                                                    \
  inline T& operator/=(T& a, T b) { return a = a / b; }                                                    \
  inline bool operator==(T a, T b) { return __heq(a, b); }                                                 \
  inline bool operator!=(T a, T b) { return to_f(a) != to_f(b); }                                           \
  inline bool operator<(T a, T b) { return __hlt(a, b); }                                                  \
  inline bool operator<=(T a, T b) { return __hle(a, b); }                                                 \
  inline bool operator>(T a, T b) { return __hgt(a, b); }                                                  \
  inline bool operator>=(T a, T b) { return __hge(a, b); }

GLIA_SIM_16BIT_MATH(__half, __half2float, __float2half, 0x7c00u)
GLIA_SIM_16BIT_MATH(__nv_bfloat16, __bfloat162float, __float2bfloat16, 0x7f80u)
#undef GLIA_SIM_16BIT_MATH
