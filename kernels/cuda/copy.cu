// Strided N-d copy with dtype conversion (contiguous(), cast, concat into a narrowed view).
//
// Decomposition: one thread per element in a grid-stride loop over the linear index of
// the shape (blocks of 256 threads). Neighbouring dims that both sides step across as one
// are merged on the host first, so a contiguous-to-contiguous copy is a single flat loop
// and a transpose keeps only the dims it really permutes.
//
// Cost: no FLOPs; bytes = numel * (sizeof(src) + sizeof(dst)): memory-bound.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels.cuh"

namespace glia::kernels::GLIA_CUDA_NS {
namespace {

constexpr int kThreads = 256;

// The pair of element types as one template argument, so GLIA_LAUNCH sees one token.
template <class Src, class Dst>
struct Cast {
  using From = Src;
  using To = Dst;
};

template <class C>
__global__ void copy_strided_elements(TwoOperandLayout layout, int64_t n, const typename C::From* src,
                                      typename C::To* dst) {
  int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t is, id;
    layout_offsets(layout, i, is, id);
    dst[id] = static_cast<typename C::To>(src[is]);
  }
}

}  // namespace

void copy(const CopyParams& p) {
  GLIA_CHECK(p.ndim >= 0 && p.ndim <= kMaxDims, "op 'copy': ndim " << p.ndim << " is outside [0, " << kMaxDims << "]");
  if (p.numel == 0) return;
  TwoOperandLayout layout = collapse_dims(p.ndim, p.sizes, p.src_strides, p.dst_strides);
  int blocks = blocks_for(p.numel, kThreads);
  dispatch_any(p.src_dtype, "copy", [&](auto src_zero) {
    dispatch_any(p.dst_dtype, "copy", [&](auto dst_zero) {
      using C = Cast<decltype(src_zero), decltype(dst_zero)>;
      GLIA_LAUNCH(copy_strided_elements<C>, blocks, kThreads, 0, layout, p.numel,
                  static_cast<const typename C::From*>(p.src), static_cast<typename C::To*>(p.dst));
    });
  });
}

}  // namespace glia::kernels::GLIA_CUDA_NS
