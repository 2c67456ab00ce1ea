// Reductions over the middle axis of a contiguous [outer, reduce, inner] buffer. Reducing
// several dims, or dims that are not adjacent, is done by the tensor layer permuting them
// together first. Results do not depend on the thread count (fixed summation order).
#pragma once
#include <cstdint>

#include "kernels/cost.h"
#include "kernels/dtype.h"
#include "kernels/registry.h"

namespace glia::kernels {

enum class ReduceOp { sum, mean, max, min, argmax };

struct ReduceParams {
  DType dtype = DType::f32;  // of x; out has the same dtype except argmax (int64)
  ReduceOp op = ReduceOp::sum;
  int64_t outer = 1, reduce = 1, inner = 1;
  const void* x = nullptr;
  void* out = nullptr;          // [outer, inner]
  int64_t* indices = nullptr;   // optional for max/min: where the extreme was (first one)
};

// One FLOP per input element; x read once, out (and int64 indices) written once.
inline OpCost cost(const ReduceParams& p) {
  const int64_t nx = p.outer * p.reduce * p.inner, nout = p.outer * p.inner;
  const bool index_out = p.op == ReduceOp::argmax || p.indices != nullptr;
  return {double(nx), bytes_of(p.dtype, nx) + (p.op == ReduceOp::argmax ? 0.0 : bytes_of(p.dtype, nout)) +
                          (index_out ? 8.0 * double(nout) : 0.0)};
}

namespace cpu {
void reduce(const ReduceParams& p);
}

inline KernelSlot<void(const ReduceParams&)> reduce_kernel{"reduce"};

}  // namespace glia::kernels
