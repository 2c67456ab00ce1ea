// Strided N-d copy with dtype conversion (contiguous(), cast, concat into a narrowed view).
//
// Decomposition: one thread per element in a grid-stride loop over the linear index of
// the shape (blocks of 256 threads). Neighbouring dims that both sides step across as one
// are merged on the host first, so a contiguous-to-contiguous copy is a single flat loop
// and a transpose keeps only the dims it really permutes.
//
// Every dtype, the 16-bit floats included (autocast's casts, their gradients, `.to()`):
// bfloat16 and float16 are glia's own types (kernels/half.h, host and device), so a cast on
// the GPU rounds exactly as the CPU's does (to nearest even, NaN kept quiet, double and
// integers through float).
//
// Cost: no FLOPs; bytes = numel * (sizeof(src) + sizeof(dst)): memory-bound.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels.cuh"
#include "kernels/half.h"

namespace glia::kernels::GLIA_CUDA_NS {
namespace {

constexpr int kThreads = 256;

// The pair of element types as one template argument, so GLIA_LAUNCH sees one token.
template <class Src, class Dst>
struct Cast {
  using From = Src;
  using To = Dst;
};

// Calls fn(T{}) for every dtype a copy reads or writes.
template <class Fn>
void dispatch_copyable(DType t, Fn&& fn) {
  switch (t) {
    case DType::bf16: fn(bfloat16{}); return;
    case DType::f16: fn(float16{}); return;
    default: dispatch_any(t, "copy", fn);
  }
}

// I: the index type, int32 when the element count and both layouts fit (fits_int32).
template <class C, class I>
__global__ void copy_strided_elements(TwoOperandLayout layout, I n, const typename C::From* src,
                                      typename C::To* dst) {
  for (I i : grid_stride(n)) {
    I is, id;
    layout_offsets(layout, i, is, id);
    dst[id] = static_cast<typename C::To>(src[is]);
  }
}

}  // namespace

void copy(const CopyParams& p) {
  GLIA_CHECK(p.ndim >= 0 && p.ndim <= kMaxDims, "op 'copy': ndim " << p.ndim << " is outside [0, " << kMaxDims << "]");
  if (p.numel == 0) return;
  TwoOperandLayout layout = collapse_dims(p.ndim, p.sizes, p.src_strides, p.dst_strides);
  const int blocks = blocks_for(p.numel, kThreads, kOneWaveBlocks);
  const int64_t largest = p.numel > layout_span(layout) ? p.numel : layout_span(layout);
  dispatch_copyable(p.src_dtype, [&](auto src_zero) {
    dispatch_copyable(p.dst_dtype, [&](auto dst_zero) {
      using C = Cast<decltype(src_zero), decltype(dst_zero)>;
      dispatch_index(largest, [&](auto index) {
        using I = decltype(index);
        auto* copy_strided_elements_ = &copy_strided_elements<C, I>;
        GLIA_LAUNCH(copy_strided_elements_, blocks, kThreads, 0, layout, static_cast<I>(p.numel),
                    static_cast<const typename C::From*>(p.src), static_cast<typename C::To*>(p.dst));
      });
    });
  });
}

}  // namespace glia::kernels::GLIA_CUDA_NS
