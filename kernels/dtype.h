// Element types. f16/bf16 are named so shapes, strides and dispatch carry dtype from the
// start; kernels for them come later and fail with a clear error until then.
#pragma once
#include <cstddef>
#include <cstdint>

namespace glia {

enum class DType { f32, f64, i32, i64, u8, f16, bf16 };

const char* dtype_name(DType t);
size_t dtype_size(DType t);
inline bool is_floating(DType t) {
  return t == DType::f32 || t == DType::f64 || t == DType::f16 || t == DType::bf16;
}

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::u8; };

}  // namespace glia
