// The cost of one kernel call, declared by each op family next to its parameter struct
// (kernels/<family>.h: `OpCost cost(const XParams&)`), so the benchmarks' counters, the
// profiler (kernels/profile.h) and any report count the same work:
//   flops  floating-point operations (a multiply-add counts 2; a comparison, an exp or a
//          select counts 1), 0 for ops that only move data
//   bytes  the least bytes the op must move: every input read once, every output written
//          once (what an ideal cache would give), so achieved GB/s is a lower bound
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/dtype.h"

namespace glia::kernels {

struct OpCost {
  double flops = 0;
  double bytes = 0;
};

// Bytes of `count` elements of `t` (a helper for the families' cost functions).
inline double bytes_of(DType t, int64_t count) { return double(dtype_size(t)) * double(count); }

}  // namespace glia::kernels
