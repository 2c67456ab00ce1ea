// GEMM through cuBLAS (real-CUDA builds with GLIA_HAVE_CUDNN): the vendor baseline the
// hand-written SGEMM in kernels/cuda/gemm.cu is measured against.
//
// cuBLAS is column-major. A row-major M x N matrix C is, read column-major, the N x M
// matrix C^T, and C = op(A) op(B) is the same as C^T = op(B)^T op(A)^T. So the call
// swaps A and B and M and N, keeps each operand's own transpose flag and leading
// dimension, and no data is moved.
//
// bf16/f16 inputs go through cublasGemmStridedBatchedEx with CUBLAS_COMPUTE_32F: tensor
// cores multiply, float32 accumulates. C: for bf16, GemmParams::out_dtype (float32 or
// bf16); for f16, f16. A bf16 GEMM with an epilogue (bias, activation) runs on the hand
// kernel: GemmEx has none (cuBLASLt's epilogues would be the way to keep it here).
// Not yet run on a GPU (none lent so far): scripts/gpu-check.sh runs it against a
// float64 reference (tests/kernels_ops/library_16bit_ops_test.cpp) and times it.
#include <cublas_v2.h>
#include <library_types.h>

#include "kernels/cuda/cuda_runtime_wrappers.h"
#include "kernels/cudnn/cudnn_common.h"
#include "kernels/cudnn/cudnn_kernels.h"
#include "kernels/error.h"

namespace glia::kernels::cuda {  // the hand-written kernels (kernels/cuda/gemm.cu)
void gemm(const GemmParams& p);
}

namespace glia::kernels::cudnn {
namespace {

const char* status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "unknown cuBLAS status";
  }
}

void check(cublasStatus_t s, const char* call) {
  GLIA_CHECK(s == CUBLAS_STATUS_SUCCESS, call << " failed: " << status_name(s) << " (" << static_cast<int>(s) << ")");
}

cublasHandle_t create_handle() {
  cublasHandle_t h = nullptr;
  check(cublasCreate(&h), "cublasCreate");
  // GLIA_TF32=1 lets float32 GEMMs use TF32 tensor cores; otherwise cuBLAS's default
  // math (full float32) is kept, matching the hand SGEMM and the CPU.
  if (tf32_allowed()) check(cublasSetMathMode(h, CUBLAS_TF32_TENSOR_OP_MATH), "cublasSetMathMode");
  return h;
}

// This thread's handle for the current device (see cudnn::handle in cudnn_common.h:
// one per (thread, device), pooled, never destroyed).
cublasHandle_t cublas_handle() { return thread_device_handle<cublasHandle_t, &create_handle>(); }

cublasOperation_t op_of(bool transposed) { return transposed ? CUBLAS_OP_T : CUBLAS_OP_N; }

int as_int(int64_t v, const char* what) {
  GLIA_CHECK(v >= 0 && v <= INT32_MAX, "op 'gemm' (cuBLAS): " << what << " = " << v << " does not fit cuBLAS's int");
  return static_cast<int>(v);
}

// cudaDataType of a 16-bit GEMM's operand or output (bf16, f16 or float32).
cudaDataType_t cuda_type_of(DType t) {
  return t == DType::bf16 ? CUDA_R_16BF : t == DType::f16 ? CUDA_R_16F : CUDA_R_32F;
}

// bf16 x bf16 -> bf16 or float32, f16 x f16 -> f16; float32 compute, tensor cores.
void gemm_16bit(cublasHandle_t h, const GemmParams& p, int m, int n, int k, int lda, int ldb, int ldc, int batch) {
  const DType out = output_dtype(p);
  GLIA_CHECK(out == p.dtype || out == DType::f32,
             "op 'gemm' on backend 'cudnn' (cuBLAS): 16-bit inputs give C in their dtype or float32, not " << dtype_name(out));
  const cudaDataType_t in_type = cuda_type_of(p.dtype), out_type = cuda_type_of(out);
  // CUBLAS_COMPUTE_32F takes float scaling factors whatever the operand types.
  const float alpha = static_cast<float>(p.alpha), beta = static_cast<float>(p.beta);
  check(cublasGemmStridedBatchedEx(h, op_of(p.trans_b), op_of(p.trans_a), n, m, k, &alpha, p.b, in_type, ldb,
                                   p.stride_b, p.a, in_type, lda, p.stride_a, &beta, p.c, out_type, ldc, p.stride_c,
                                   batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "cublasGemmStridedBatchedEx");
}

}  // namespace

void gemm(const GemmParams& p) {
  GLIA_CHECK(p.m >= 0 && p.n >= 0 && p.k >= 0 && p.batch >= 0,
             "op 'gemm' (cuBLAS): negative size m=" << p.m << " n=" << p.n << " k=" << p.k << " batch=" << p.batch);
  if (p.bias != nullptr || p.activation != GemmActivation::none) {
    GLIA_CHECK(p.dtype == DType::bf16, "op 'gemm' on backend 'cudnn' (cuBLAS): a bias or activation epilogue needs "
                                       "bfloat16 inputs, not " << dtype_name(p.dtype));
    return cuda::gemm(p);  // the hand tensor-core kernel has the epilogue
  }
  if (p.m == 0 || p.n == 0 || p.batch == 0) return;
  int m = as_int(p.m, "m"), n = as_int(p.n, "n"), k = as_int(p.k, "k"), batch = as_int(p.batch, "batch");
  int lda = as_int(p.lda, "lda"), ldb = as_int(p.ldb, "ldb"), ldc = as_int(p.ldc, "ldc");
  cublasHandle_t h = cublas_handle();
  check(cublasSetStream(h, static_cast<cudaStream_t>(cuda_rt::current_stream())), "cublasSetStream");
  if (p.dtype == DType::bf16 || p.dtype == DType::f16) {
    gemm_16bit(h, p, m, n, k, lda, ldb, ldc, batch);
  } else if (p.dtype == DType::f32) {
    float alpha = static_cast<float>(p.alpha), beta = static_cast<float>(p.beta);
    check(cublasSgemmStridedBatched(h, op_of(p.trans_b), op_of(p.trans_a), n, m, k, &alpha,
                                    static_cast<const float*>(p.b), ldb, p.stride_b,
                                    static_cast<const float*>(p.a), lda, p.stride_a, &beta,
                                    static_cast<float*>(p.c), ldc, p.stride_c, batch),
          "cublasSgemmStridedBatched");
  } else if (p.dtype == DType::f64) {
    double alpha = p.alpha, beta = p.beta;
    check(cublasDgemmStridedBatched(h, op_of(p.trans_b), op_of(p.trans_a), n, m, k, &alpha,
                                    static_cast<const double*>(p.b), ldb, p.stride_b,
                                    static_cast<const double*>(p.a), lda, p.stride_a, &beta,
                                    static_cast<double*>(p.c), ldc, p.stride_c, batch),
          "cublasDgemmStridedBatched");
  } else {
    GLIA_FAIL("op 'gemm' on backend 'cudnn' (cuBLAS) supports float32, float64, bfloat16 and float16, not "
                                                               << dtype_name(p.dtype));
  }
}

}  // namespace glia::kernels::cudnn
