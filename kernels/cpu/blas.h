// GEMM for the CPU kernels: single-threaded OpenBLAS calls, split across glia's OpenMP
// threads. OpenBLAS's pthread build keeps its own thread pool beside libgomp's, and each
// pool busy-waits after its work, so on shared cores one starves the other: EfficientNet-B1
// inference at batch 8 took 454 ms with two threads in each pool and 213 ms with OpenBLAS
// on one thread (bench_networks, 2-core VM). One pool, OpenMP's, does all the threading.
#pragma once
#include <cstdint>

namespace glia::kernels::cpu {

// Row-major C = alpha * op(A) * op(B) + beta * C. Outside an OpenMP region a large
// product is split along the longer of M and N, one slice per thread (each slice is the
// same computation a single call would do); inside one it is a single call.
template <class T>
void blas_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
               const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// Sets OpenBLAS to one thread (idempotent); run when the CPU kernels are registered.
void use_one_blas_thread();

}  // namespace glia::kernels::cpu
