// Element types. f16/bf16 are stored as glia::float16/glia::bfloat16 (kernels/half.h);
// kernels that do not take them fail with an error naming op, device and dtype.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>

#include "kernels/half.h"

namespace glia {

enum class DType { f32, f64, i32, i64, u8, f16, bf16 };

const char* dtype_name(DType t);
size_t dtype_size(DType t);
inline bool is_floating(DType t) {
  return t == DType::f32 || t == DType::f64 || t == DType::f16 || t == DType::bf16;
}

inline bool is_16bit_float(DType t) { return t == DType::f16 || t == DType::bf16; }

// The dtype a kernel writes: its parameter struct's out_dtype when set (bfloat16/float16
// inputs may write float32: they always accumulate in float32), else the inputs' dtype.
template <class Params>
DType output_dtype(const Params& p) {
  return p.out_dtype.value_or(p.dtype);
}

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::u8; };
template <> struct dtype_of<float16> { static constexpr DType value = DType::f16; };
template <> struct dtype_of<bfloat16> { static constexpr DType value = DType::bf16; };

}  // namespace glia
