// Strided copy with dtype conversion: contiguous(), cast, concat (copy into a narrowed
// view), to(device) after the bytes arrive. Both sides are described by sizes and strides.
#pragma once
#include <cstdint>

#include "kernels/elementwise.h"

namespace glia::kernels {

struct CopyParams {
  DType src_dtype = DType::f32;
  DType dst_dtype = DType::f32;
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t src_strides[kMaxDims] = {};
  int64_t dst_strides[kMaxDims] = {};
  int64_t numel = 0;
  const void* src = nullptr;  // points at element [0,...,0]
  void* dst = nullptr;
};

// Moves data only: numel elements read in src's dtype and written in dst's.
inline OpCost cost(const CopyParams& p) { return {0, bytes_of(p.src_dtype, p.numel) + bytes_of(p.dst_dtype, p.numel)}; }

namespace cpu {
void copy(const CopyParams& p);
}

inline KernelSlot<void(const CopyParams&)> copy_kernel{"copy"};

}  // namespace glia::kernels
