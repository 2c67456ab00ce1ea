// Reductions over the middle axis of a contiguous [outer, reduce, inner] buffer. Reducing
// several dims, or dims that are not adjacent, is done by the tensor layer permuting them
// together first. Results do not depend on the thread count (fixed summation order).
#pragma once
#include <cstdint>

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

namespace cpu {
void reduce(const ReduceParams& p);
}

inline KernelSlot<void(const ReduceParams&)> reduce_kernel{"reduce"};

}  // namespace glia::kernels
