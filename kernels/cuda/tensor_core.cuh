// The tensor-core GEMM core every bf16 kernel family shares (gemm_bf16.cu, conv2d_bf16.cu):
// one block computes a 64 x 64 tile of C = A * B with WMMA m16n16k16, bf16 inputs and
// float accumulators. A "problem" says where the operands come from and where C goes, so
// a plain GEMM and the three implicit-GEMM convolutions share the tiling:
//
//   struct Problem {
//     int m, n;                                     // C is m x n (per z)
//     __device__ int64_t batches() const;           // blockIdx.z strides over these
//     __device__ void k_range(int64_t z, int& begin, int& end) const;  // K slice of item z
//     __device__ bool a_k_contiguous() const;       // which walk over A's tile coalesces
//     __device__ bool b_n_contiguous() const;
//     __device__ bool a_vec() const;                // a8/b8 usable: 16-byte aligned runs
//     __device__ bool b_vec() const;
//     __device__ const __nv_bfloat16* a8(int64_t z, int row, int k) const;  // &A(row, k): 8 contiguous
//     __device__ const __nv_bfloat16* b8(int64_t z, int k, int col) const;  // &B(k, col)
//     __device__ __nv_bfloat16 a(int64_t z, int row, int k) const;  // in range only
//     __device__ __nv_bfloat16 b(int64_t z, int k, int col) const;
//     __device__ void store(int64_t z, int row, int col, float acc) const;  // the epilogue
//   };
//
// Tiling: 128 threads (4 warps, 2 x 2), each warp a 32 x 32 corner of the tile (2 x 2
// accumulator fragments). K in steps of 32: the block gathers a 64 x 32 slice of A and a
// 32 x 64 slice of B into shared memory as bf16 (zero outside the matrix or the K slice,
// so any m, n, k works), synchronises, and each warp does 2 k-steps of 4 mma_sync. The
// slices are double-buffered: while the warps multiply slice s, the copies of slice s+1
// are in flight (cp.async where a run of 8 is contiguous and aligned, plain loads
// elsewhere), and a wait for all but the newest batch plus a barrier start each step. The
// accumulators go through shared memory (store_matrix_sync) so the epilogue sees C as
// (row, col) whatever the fragment layout, and the store is bounds-checked per element.
// Where a problem's rows are contiguous and 16-byte aligned (a plain GEMM's usual case,
// a convolution's weights) the slices load 8 bf16 per 16-byte cp.async.
// Shared rows are padded (+8 bf16, +4 float): every fragment pointer stays 32-byte
// aligned and ldm a multiple of 16 bytes, as WMMA requires, and a warp's rows start in
// different banks.
#pragma once
#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_pipeline_primitives.h>
#include <mma.h>
#endif
#include <cstdint>

#include "kernels/cuda/common.cuh"

namespace glia::kernels::GLIA_CUDA_NS {
namespace tensor_core {

constexpr int kTileM = 64, kTileN = 64, kTileK = 32, kThreads = 128;
constexpr int kLdA = kTileK + 8, kLdB = kTileN + 8, kLdC = kTileN + 4;

struct __align__(32) Tiles {
  __nv_bfloat16 a[2][kTileM][kLdA];  // A slices (double-buffered), (row, k)
  __nv_bfloat16 b[2][kTileK][kLdB];  // B slices, (k, col)
  float c[kTileM][kLdC];             // the finished tile, (row, col)
};
static_assert(sizeof(Tiles) <= 48 * 1024, "static shared memory is limited to 48 KiB");

__device__ __forceinline__ __nv_bfloat16 bf16_zero() { return __ushort_as_bfloat16(static_cast<unsigned short>(0)); }

// 8 consecutive bf16: one 16-byte cp.async.
constexpr int kVec = 8;

// Starts the copies of the K slice [k0, k0 + 32) of A and B into buffer `buf` (see the
// top of the file). Plain stores land at once; cp.async copies at the next wait.
template <class P>
__device__ __forceinline__ void issue_slices(const P& p, Tiles& t, int buf, int64_t z, int m0, int n0, int k0,
                                             int k_end) {
  if (p.a_vec()) {
    // Rows k-contiguous and 16-byte aligned: 8 k of one row per copy where all 8 are in range.
    for (int i = threadIdx.x; i < kTileM * kTileK / kVec; i += kThreads) {
      int r = i / (kTileK / kVec), c = (i % (kTileK / kVec)) * kVec;
      int gm = m0 + r, gk = k0 + c;
      if (gm < p.m && gk + kVec <= k_end) {
        __pipeline_memcpy_async(&t.a[buf][r][c], p.a8(z, gm, gk), 16);
      } else {
        for (int j = 0; j < kVec; ++j)
          t.a[buf][r][c + j] = (gm < p.m && gk + j < k_end) ? p.a(z, gm, gk + j) : bf16_zero();
      }
    }
  } else {
    for (int i = threadIdx.x; i < kTileM * kTileK; i += kThreads) {
      int r, c;
      if (p.a_k_contiguous()) {
        r = i / kTileK, c = i % kTileK;
      } else {
        c = i / kTileM, r = i % kTileM;
      }
      int gm = m0 + r, gk = k0 + c;
      t.a[buf][r][c] = (gm < p.m && gk < k_end) ? p.a(z, gm, gk) : bf16_zero();
    }
  }
  if (p.b_vec()) {
    for (int i = threadIdx.x; i < kTileK * kTileN / kVec; i += kThreads) {
      int r = i / (kTileN / kVec), c = (i % (kTileN / kVec)) * kVec;
      int gk = k0 + r, gn = n0 + c;
      if (gk < k_end && gn + kVec <= p.n) {
        __pipeline_memcpy_async(&t.b[buf][r][c], p.b8(z, gk, gn), 16);
      } else {
        for (int j = 0; j < kVec; ++j)
          t.b[buf][r][c + j] = (gk < k_end && gn + j < p.n) ? p.b(z, gk, gn + j) : bf16_zero();
      }
    }
  } else {
    for (int i = threadIdx.x; i < kTileK * kTileN; i += kThreads) {
      int r, c;
      if (p.b_n_contiguous()) {
        r = i / kTileN, c = i % kTileN;
      } else {
        c = i / kTileK, r = i % kTileK;
      }
      int gk = k0 + r, gn = n0 + c;
      t.b[buf][r][c] = (gn < p.n && gk < k_end) ? p.b(z, gk, gn) : bf16_zero();
    }
  }
}

template <class P>
__global__ void __launch_bounds__(kThreads) wmma_gemm(P p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  (void)p;
  __trap();  // bf16 WMMA and cp.async need sm_80 or newer (glia builds sm_80 and sm_90)
#else
  using namespace nvcuda;
  __shared__ Tiles t;
  const int warp = threadIdx.x / kWarpSize, wm = warp / 2, wn = warp % 2;
  const int m0 = static_cast<int>(blockIdx.y) * kTileM, n0 = static_cast<int>(blockIdx.x) * kTileN;
  for (int64_t z = blockIdx.z; z < p.batches(); z += gridDim.z) {
    int k_begin = 0, k_end = 0;
    p.k_range(z, k_begin, k_end);
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

    // Slice k0 is in buffer `buf`; the next one is issued into the other before the wait.
    // (The previous item's last step ended at a barrier: buffer 0 is free.)
    int buf = 0;
    if (k_begin < k_end) issue_slices(p, t, 0, z, m0, n0, k_begin, k_end);
    __pipeline_commit();
    for (int k0 = k_begin; k0 < k_end; k0 += kTileK, buf ^= 1) {
      if (k0 + kTileK < k_end) issue_slices(p, t, buf ^ 1, z, m0, n0, k0 + kTileK, k_end);
      __pipeline_commit();
      __pipeline_wait_prior(1);  // every batch but the one just issued has landed
      __syncthreads();           // ... in every thread
#pragma unroll
      for (int kk = 0; kk < kTileK; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa[2];
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> fb[2];
#pragma unroll
        for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(fa[i], &t.a[buf][wm * 32 + i * 16][kk], kLdA);
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(fb[j], &t.b[buf][kk][wn * 32 + j * 16], kLdB);
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
          for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
      }
      __syncthreads();  // every warp is done reading `buf` before the next step refills it
    }

    __syncthreads();  // the previous item's epilogue is done reading t.c
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
      for (int j = 0; j < 2; ++j)
        wmma::store_matrix_sync(&t.c[wm * 32 + i * 16][wn * 32 + j * 16], acc[i][j], kLdC, wmma::mem_row_major);
    __syncthreads();
    for (int i = threadIdx.x; i < kTileM * kTileN; i += kThreads) {
      int r = i / kTileN, c = i % kTileN;
      if (m0 + r < p.m && n0 + c < p.n) p.store(z, m0 + r, n0 + c, t.c[r][c]);
    }
  }
#endif
}

// Launches P's GEMM over ceil(n/64) x ceil(m/64) tiles and `batches` items (capped at the
// grid's z limit; the kernel strides over the rest).
template <class P>
void launch_wmma_gemm(const P& p, int64_t batches, const char* op) {
  if (p.m == 0 || p.n == 0 || batches == 0) return;
  int64_t grid_x = (p.n + kTileN - 1) / kTileN, grid_y = (p.m + kTileM - 1) / kTileM;
  GLIA_CHECK(grid_y <= kMaxGridBlocks, "op '" << op << "': " << p.m << " GEMM rows need more than 65535 row tiles");
  dim3 grid(static_cast<unsigned>(grid_x), static_cast<unsigned>(grid_y),
            static_cast<unsigned>(batches < kMaxGridBlocks ? batches : kMaxGridBlocks));
  auto* tensor_core_gemm = &wmma_gemm<P>;  // the name errors and GLIA_SIM_TRACE_KERNEL see
  GLIA_LAUNCH(tensor_core_gemm, grid, kThreads, 0, p);
}

// Applies a GEMM epilogue activation (kernels/gemm.h, GemmActivation) to one value.
__device__ __forceinline__ float activate(float v, int activation) {
  if (activation == 1) return v > 0.0f ? v : 0.0f;    // relu
  if (activation == 2) return v / (1.0f + expf(-v));  // silu
  return v;
}

}  // namespace tensor_core
}  // namespace glia::kernels::GLIA_CUDA_NS
