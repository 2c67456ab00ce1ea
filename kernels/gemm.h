// Batched GEMM, row-major: C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b], where op
// transposes when trans_* is set. A is M x K after op, B is K x N, C is M x N.
// cpu: OpenBLAS; cuda/sim: glia's tiled register-blocked kernel; cudnn: cuBLAS.
// bfloat16/float16 A and B (cpu): products and sums in float32, C in float32 or in the
// inputs' dtype (out_dtype; rounded once at the end); widened operands through OpenBLAS, or
// AVX512-BF16 on request (kernels/cpu/half_gemm.h says why that is not the default).
#pragma once
#include <cstdint>

#include "kernels/cost.h"
#include "kernels/dtype.h"
#include "kernels/registry.h"

namespace glia::kernels {

struct GemmParams {
  DType dtype = DType::f32;
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  double alpha = 1, beta = 0;
  const void* a = nullptr;
  int64_t lda = 0;
  const void* b = nullptr;
  int64_t ldb = 0;
  void* c = nullptr;
  int64_t ldc = 0;
  int64_t batch = 1;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;  // elements between batch items
  std::optional<DType> out_dtype{};  // C's dtype if not `dtype` (16-bit inputs: float32)
};

// 2 * batch * M * N * K FLOPs; A, B and C once (C read too when beta != 0; an operand
// with batch stride 0, one matrix shared by every batch item, once in all).
inline OpCost cost(const GemmParams& p) {
  const double batch = double(p.batch);
  const double na = double(p.m * p.k) * (p.stride_a == 0 ? 1.0 : batch);
  const double nb = double(p.k * p.n) * (p.stride_b == 0 ? 1.0 : batch);
  const double nc = double(p.m * p.n) * batch * (p.beta != 0 ? 2.0 : 1.0);
  return {2.0 * batch * double(p.m) * double(p.n) * double(p.k),
          double(dtype_size(p.dtype)) * (na + nb) + double(dtype_size(output_dtype(p))) * nc};
}

namespace cpu {
void gemm(const GemmParams& p);
}

inline KernelSlot<void(const GemmParams&)> gemm_kernel{"gemm"};

}  // namespace glia::kernels
