// Helpers shared by the CPU kernels: dtype dispatch to a typed lambda, the OpenMP size
// threshold, and dimension coalescing for strided loops.
#pragma once
#include <cstdint>
#include <initializer_list>

#include "kernels/dtype.h"
#include "kernels/error.h"

namespace glia::kernels::cpu {

template <class T>
struct Tag {
  using type = T;
};

// Below this many elements an op stays on one thread: spawning costs more than it saves.
constexpr int64_t kParallelMin = 1 << 15;

// Calls f(Tag<T>{}) for float32/float64; any other dtype is an Error naming op and dtype.
template <class F>
void dispatch_float(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::f32: f(Tag<float>{}); return;
    case DType::f64: f(Tag<double>{}); return;
    default: break;
  }
  GLIA_FAIL("cpu kernel '" << op << "': unsupported dtype " << dtype_name(dtype) << " (supported: float32, float64)");
}

// Same, for every dtype the CPU stores: float32, float64, int32, int64, uint8, float16,
// bfloat16 (the 16-bit ones as glia::float16/glia::bfloat16, kernels/half.h).
template <class F>
void dispatch_all(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::f32: f(Tag<float>{}); return;
    case DType::f64: f(Tag<double>{}); return;
    case DType::i32: f(Tag<int32_t>{}); return;
    case DType::i64: f(Tag<int64_t>{}); return;
    case DType::u8: f(Tag<uint8_t>{}); return;
    case DType::f16: f(Tag<float16>{}); return;
    case DType::bf16: f(Tag<bfloat16>{}); return;
  }
  GLIA_FAIL("cpu kernel '" << op << "': unsupported dtype " << dtype_name(dtype)
                           << " (supported: float32, float64, int32, int64, uint8, float16, bfloat16)");
}

// Drops size-1 dims and merges neighbours that are contiguous with each other in every
// operand, in place. A same-shape contiguous op becomes one dim of stride 1, so strided
// loops get long inner rows. Returns the new ndim (at least 1).
inline int coalesce_dims(int ndim, int64_t* sizes, std::initializer_list<int64_t*> strides) {
  int out = 0;
  for (int d = 0; d < ndim; ++d) {
    if (sizes[d] == 1) continue;
    bool merge = out > 0;
    for (int64_t* s : strides) merge = merge && s[out - 1] == s[d] * sizes[d];
    if (merge) {
      sizes[out - 1] *= sizes[d];
      for (int64_t* s : strides) s[out - 1] = s[d];
    } else {
      sizes[out] = sizes[d];
      for (int64_t* s : strides) s[out] = s[d];
      ++out;
    }
  }
  if (out == 0) {
    sizes[0] = 1;
    for (int64_t* s : strides) s[0] = 0;
    out = 1;
  }
  return out;
}

// Element offset of the first element of `row`, where rows are all dims but the last.
inline int64_t row_offset(int ndim, const int64_t* sizes, const int64_t* strides, int64_t row) {
  int64_t offset = 0;
  for (int d = ndim - 2; d >= 0; --d) {
    offset += (row % sizes[d]) * strides[d];
    row /= sizes[d];
  }
  return offset;
}

// Runs f(begin, end) over [0, n) in chunks of 16K elements, threaded above the size
// threshold.
template <class F>
void map_chunks(int64_t n, F&& f) {
  constexpr int64_t kChunk = 1 << 14;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t c = 0; c < chunks; ++c) f(c * kChunk, c * kChunk + kChunk < n ? c * kChunk + kChunk : n);
}

// Runs body(begin, end, row) over every inner row of a strided iteration space of ndim
// dims (after coalesce_dims), split so both many short rows and one long row use threads.
// Each element is visited exactly once; the split never changes what is computed.
template <class Body>
void for_each_row(int ndim, const int64_t* sizes, int64_t numel, Body&& body) {
  const int64_t inner = sizes[ndim - 1];
  const int64_t rows = inner == 0 ? 0 : numel / inner;
  if (rows == 1) {
    map_chunks(inner, [&](int64_t begin, int64_t end) { body(begin, end, int64_t{0}); });
    return;
  }
#pragma omp parallel for schedule(static) if (numel >= kParallelMin)
  for (int64_t r = 0; r < rows; ++r) body(int64_t{0}, inner, r);
}

}  // namespace glia::kernels::cpu
