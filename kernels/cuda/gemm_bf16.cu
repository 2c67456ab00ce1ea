// Batched bf16 GEMM on tensor cores (GemmParams with dtype bf16, see kernels/gemm.h):
//   C[b] = act(alpha * op(A[b]) * op(B[b]) + beta * C[b] + bias)
// A and B bf16 (raw 16-bit words, __nv_bfloat16's bit layout), products exact and summed
// in float by WMMA m16n16k16 (kernels/cuda/tensor_core.cuh: 64 x 64 tiles, 4 warps);
// C float or bf16 (out_dtype), rounded once, after the epilogue. Any M, N, K, leading
// dimensions and transposes (edges load as zero, stores are bounds-checked).
//
// Cost: 2*M*N*K FLOPs per batch item; least bytes 2*(M*K + K*N) + sizeof(C)*M*N (twice
// with beta). Each element of A is read from global memory N/64 times, of B M/64 times.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels.cuh"
#include "kernels/cuda/tensor_core.cuh"

namespace glia::kernels::GLIA_CUDA_NS {
namespace {

// The tensor-core core's problem interface (tensor_core.cuh) for a plain batched GEMM.
struct GemmBf16Problem {
  int m, n, k;
  bool trans_a, trans_b;
  const __nv_bfloat16* a_ptr;
  int64_t lda, stride_a;
  const __nv_bfloat16* b_ptr;
  int64_t ldb, stride_b;
  void* c;
  int64_t ldc, stride_c;
  bool c_bf16;
  float alpha, beta;
  const void* bias;
  int activation;
  int64_t batch;
  bool vec_a, vec_b;  // 16-byte loads along K of A / N of B (host: contiguous and aligned)

  __device__ int64_t batches() const { return batch; }
  __device__ void k_range(int64_t, int& begin, int& end) const { begin = 0, end = k; }
  __device__ bool a_k_contiguous() const { return !trans_a; }
  __device__ bool b_n_contiguous() const { return !trans_b; }
  __device__ bool a_vec() const { return vec_a; }
  __device__ bool b_vec() const { return vec_b; }
  __device__ const __nv_bfloat16* a8(int64_t z, int row, int kk) const { return a_ptr + z * stride_a + row * lda + kk; }
  __device__ const __nv_bfloat16* b8(int64_t z, int kk, int col) const { return b_ptr + z * stride_b + kk * ldb + col; }
  __device__ __nv_bfloat16 a(int64_t z, int row, int kk) const {
    const __nv_bfloat16* base = a_ptr + z * stride_a;
    return trans_a ? base[kk * lda + row] : base[row * lda + kk];
  }
  __device__ __nv_bfloat16 b(int64_t z, int kk, int col) const {
    const __nv_bfloat16* base = b_ptr + z * stride_b;
    return trans_b ? base[col * ldb + kk] : base[kk * ldb + col];
  }
  __device__ void store(int64_t z, int row, int col, float acc) const {
    int64_t at = z * stride_c + row * ldc + col;
    float v = alpha * acc;
    if (c_bf16) {
      __nv_bfloat16* out = static_cast<__nv_bfloat16*>(c) + at;
      if (beta != 0.0f) v += beta * __bfloat162float(*out);
      if (bias != nullptr) v += __bfloat162float(static_cast<const __nv_bfloat16*>(bias)[col]);
      *out = __float2bfloat16(tensor_core::activate(v, activation));
    } else {
      float* out = static_cast<float*>(c) + at;
      if (beta != 0.0f) v += beta * *out;
      if (bias != nullptr) v += static_cast<const float*>(bias)[col];
      *out = tensor_core::activate(v, activation);
    }
  }
};

}  // namespace

void gemm_bf16(const GemmParams& p) {
  GLIA_CHECK(output_dtype(p) == DType::f32 || output_dtype(p) == DType::bf16,
             "op 'gemm' with bf16 inputs on backend " GLIA_BACKEND_NAME " writes C as float32 or bfloat16, not "
                 << dtype_name(output_dtype(p)));
  GLIA_CHECK(p.m <= INT32_MAX && p.n <= INT32_MAX && p.k <= INT32_MAX,
             "op 'gemm': m=" << p.m << " n=" << p.n << " k=" << p.k << " exceed the bf16 kernel's 32-bit sizes");
  GLIA_CHECK(p.activation == GemmActivation::none || p.activation == GemmActivation::relu ||
                 p.activation == GemmActivation::silu,
             "op 'gemm': unknown activation " << static_cast<int>(p.activation));
  if (p.m == 0 || p.n == 0 || p.batch == 0) return;
  GemmBf16Problem g{static_cast<int>(p.m), static_cast<int>(p.n), static_cast<int>(p.k), p.trans_a, p.trans_b,
                    static_cast<const __nv_bfloat16*>(p.a), p.lda, p.stride_a,
                    static_cast<const __nv_bfloat16*>(p.b), p.ldb, p.stride_b,
                    p.c, p.ldc, p.stride_c, output_dtype(p) == DType::bf16,
                    static_cast<float>(p.alpha), static_cast<float>(p.beta), p.bias,
                    static_cast<int>(p.activation), p.batch, false, false};
  // 16-byte loads need the run contiguous (A not transposed, B not transposed) and every
  // row start (and batch item) on a 16-byte boundary.
  auto rows_aligned = [&](const void* base, int64_t ld, int64_t stride) {
    return reinterpret_cast<uintptr_t>(base) % 16 == 0 && ld % 8 == 0 && (p.batch == 1 || stride % 8 == 0);
  };
  g.vec_a = !p.trans_a && rows_aligned(p.a, p.lda, p.stride_a);
  g.vec_b = !p.trans_b && rows_aligned(p.b, p.ldb, p.stride_b);
  tensor_core::launch_wmma_gemm(g, p.batch, "gemm");
}

}  // namespace glia::kernels::GLIA_CUDA_NS
