// Batched GEMM, row-major: C = alpha * op(A) * op(B) + beta * C (see kernels/gemm.h).
//
// float32: a tiled, register-blocked SGEMM.
//   - A block of 256 threads computes a 128 x 128 tile of C. It walks K in steps of 8:
//     the block copies a 128 x 8 slice of op(A) and an 8 x 128 slice of op(B) into shared
//     memory (each thread 4 floats of each, one float4 load where the rows are 16-byte
//     aligned), synchronises, and every thread accumulates its own 8 x 8 micro-tile of C
//     in registers from 8 values of A and 8 of B per k: 64 FMAs for 16 shared loads.
//   - Thread (tx, ty) of the 16 x 16 layout owns rows {ty*4..+3, 64+ty*4..+3} and columns
//     {tx*4..+3, 64+tx*4..+3}: the two halves make a warp's float4 reads of a shared row
//     consecutive (no bank conflicts) and its float4 stores of C contiguous.
//   - Edges: out-of-range elements of a tile load as 0 and out-of-range C is not written,
//     so any M, N, K, leading dimension and transpose works. beta == 0 never reads C.
//   - gridDim = (ceil(N/128), ceil(M/128), batch); blockIdx.z strides over the batch.
// float64: a plain 16 x 16 shared-memory tiled kernel, one C element per thread.
//
// Cost: 2*M*N*K FLOPs per batch item; least bytes (M*K + K*N + M*N (+M*N if beta)) *
// sizeof(T). Each element of A is read from global memory N/128 times, of B M/128 times.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels.cuh"

namespace glia::kernels::GLIA_CUDA_NS {
namespace {

constexpr int kTileM = 128, kTileN = 128, kTileK = 8;
constexpr int kSgemmThreads = 256;  // 16 x 16 threads, 8 x 8 outputs each
constexpr int kSimpleTile = 16;      // the float64 kernel

template <class T>
struct GemmArgs {
  bool trans_a, trans_b;
  int64_t m, n, k;
  T alpha, beta;
  const T* a;
  int64_t lda, stride_a;
  const T* b;
  int64_t ldb, stride_b;
  T* c;
  int64_t ldc, stride_c;
  int64_t batch;
  bool vec_a, vec_b, vec_c;  // float4 loads/stores allowed (16-byte aligned rows)
};

// Copies the kTileK x 128 slice [k0, k0+8) x [mn0, mn0+128) of an operand into `tile`
// (laid out [k][mn]). The operand is either k-contiguous (element (mn, k) at mn*ld + k:
// A not transposed, B transposed) or mn-contiguous (at k*ld + mn: A transposed, B not).
__device__ __forceinline__ void load_tile(const float* src, int64_t ld, bool k_contiguous, bool vec, int64_t mn0,
                                          int64_t k0, int64_t mn_size, int64_t k_size, float* tile) {
  int t = threadIdx.x;
  float v[4];
  if (k_contiguous) {
    // Two threads per mn row, 4 consecutive k each; stored transposed into the tile.
    int r = t / 2, kq = (t % 2) * 4;
    int64_t mn = mn0 + r, k = k0 + kq;
    if (vec && mn < mn_size && k + 3 < k_size) {
      float4 q = *reinterpret_cast<const float4*>(src + mn * ld + k);
      v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
    } else {
      for (int j = 0; j < 4; ++j) v[j] = (mn < mn_size && k + j < k_size) ? src[mn * ld + k + j] : 0.0f;
    }
    for (int j = 0; j < 4; ++j) tile[(kq + j) * kTileM + r] = v[j];
  } else {
    // 32 threads per k row, 4 consecutive mn each: a warp reads 512 contiguous bytes.
    int kr = t / 32, mq = (t % 32) * 4;
    int64_t k = k0 + kr, mn = mn0 + mq;
    if (vec && k < k_size && mn + 3 < mn_size) {
      float4 q = *reinterpret_cast<const float4*>(src + k * ld + mn);
      v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
    } else {
      for (int j = 0; j < 4; ++j) v[j] = (k < k_size && mn + j < mn_size) ? src[k * ld + mn + j] : 0.0f;
    }
    for (int j = 0; j < 4; ++j) tile[kr * kTileM + mq + j] = v[j];
  }
}

// Writes 4 consecutive outputs of one row of C: alpha*acc (+ beta*C), bounds-checked.
__device__ __forceinline__ void store_four(const GemmArgs<float>& g, float* c, int64_t row, int64_t col,
                                           const float* acc) {
  if (row >= g.m) return;
  float* out = c + row * g.ldc + col;
  if (g.vec_c && col + 3 < g.n) {
    float4 r;
    if (g.beta != 0.0f) {
      float4 old = *reinterpret_cast<const float4*>(out);
      r.x = g.alpha * acc[0] + g.beta * old.x;
      r.y = g.alpha * acc[1] + g.beta * old.y;
      r.z = g.alpha * acc[2] + g.beta * old.z;
      r.w = g.alpha * acc[3] + g.beta * old.w;
    } else {
      r.x = g.alpha * acc[0], r.y = g.alpha * acc[1], r.z = g.alpha * acc[2], r.w = g.alpha * acc[3];
    }
    *reinterpret_cast<float4*>(out) = r;
    return;
  }
  for (int j = 0; j < 4 && col + j < g.n; ++j)
    out[j] = g.beta != 0.0f ? g.alpha * acc[j] + g.beta * out[j] : g.alpha * acc[j];
}

__global__ void sgemm_tiled(GemmArgs<float> g) {
  __shared__ float4 a_tile[kTileK][kTileM / 4];  // op(A) slice, [k][m]
  __shared__ float4 b_tile[kTileK][kTileN / 4];  // op(B) slice, [k][n]
  int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  int64_t m0 = static_cast<int64_t>(blockIdx.y) * kTileM, n0 = static_cast<int64_t>(blockIdx.x) * kTileN;

  for (int64_t item = blockIdx.z; item < g.batch; item += gridDim.z) {
    const float* a = g.a + item * g.stride_a;
    const float* b = g.b + item * g.stride_b;
    float acc[8][8];
    for (int i = 0; i < 8; ++i)
      for (int j = 0; j < 8; ++j) acc[i][j] = 0.0f;

    for (int64_t k0 = 0; k0 < g.k; k0 += kTileK) {
      __syncthreads();  // every thread is done reading the previous slices
      load_tile(a, g.lda, !g.trans_a, g.vec_a, m0, k0, g.m, g.k, reinterpret_cast<float*>(a_tile));
      load_tile(b, g.ldb, g.trans_b, g.vec_b, n0, k0, g.n, g.k, reinterpret_cast<float*>(b_tile));
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < kTileK; ++kk) {
        float4 a_lo = a_tile[kk][ty], a_hi = a_tile[kk][ty + 16];
        float4 b_lo = b_tile[kk][tx], b_hi = b_tile[kk][tx + 16];
        float av[8] = {a_lo.x, a_lo.y, a_lo.z, a_lo.w, a_hi.x, a_hi.y, a_hi.z, a_hi.w};
        float bv[8] = {b_lo.x, b_lo.y, b_lo.z, b_lo.w, b_hi.x, b_hi.y, b_hi.z, b_hi.w};
#pragma unroll
        for (int i = 0; i < 8; ++i)
#pragma unroll
          for (int j = 0; j < 8; ++j) acc[i][j] += av[i] * bv[j];  // nvcc contracts this into an FMA
      }
    }

    float* c = g.c + item * g.stride_c;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      int64_t row = m0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + (i - 4));
      store_four(g, c, row, n0 + tx * 4, &acc[i][0]);
      store_four(g, c, row, n0 + 64 + tx * 4, &acc[i][4]);
    }
  }
}

// ---- float64: one output per thread, 16 x 16 tiles of op(A) and op(B) in shared memory ----
template <class T>
__device__ __forceinline__ T element_a(const GemmArgs<T>& g, const T* a, int64_t m, int64_t k) {
  if (m >= g.m || k >= g.k) return T(0);
  return g.trans_a ? a[k * g.lda + m] : a[m * g.lda + k];
}

template <class T>
__device__ __forceinline__ T element_b(const GemmArgs<T>& g, const T* b, int64_t k, int64_t n) {
  if (k >= g.k || n >= g.n) return T(0);
  return g.trans_b ? b[n * g.ldb + k] : b[k * g.ldb + n];
}

template <class T>
__global__ void gemm_simple_tiled(GemmArgs<T> g) {
  __shared__ T a_tile[kSimpleTile][kSimpleTile + 1];  // +1: no bank conflicts on columns
  __shared__ T b_tile[kSimpleTile][kSimpleTile + 1];
  int tx = threadIdx.x, ty = threadIdx.y;
  int64_t row = static_cast<int64_t>(blockIdx.y) * kSimpleTile + ty;
  int64_t col = static_cast<int64_t>(blockIdx.x) * kSimpleTile + tx;
  for (int64_t item = blockIdx.z; item < g.batch; item += gridDim.z) {
    const T* a = g.a + item * g.stride_a;
    const T* b = g.b + item * g.stride_b;
    T acc = 0;
    for (int64_t k0 = 0; k0 < g.k; k0 += kSimpleTile) {
      __syncthreads();
      a_tile[ty][tx] = element_a(g, a, row, k0 + tx);
      b_tile[ty][tx] = element_b(g, b, k0 + ty, col);
      __syncthreads();
      for (int kk = 0; kk < kSimpleTile; ++kk) acc += a_tile[ty][kk] * b_tile[kk][tx];
    }
    if (row < g.m && col < g.n) {
      T* out = g.c + item * g.stride_c + row * g.ldc + col;
      *out = g.beta != T(0) ? g.alpha * acc + g.beta * *out : g.alpha * acc;
    }
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

void check_gemm(const GemmParams& p) {
  GLIA_CHECK(p.m >= 0 && p.n >= 0 && p.k >= 0 && p.batch >= 0,
             "op 'gemm': negative size m=" << p.m << " n=" << p.n << " k=" << p.k << " batch=" << p.batch);
  int64_t a_cols = p.trans_a ? p.m : p.k, b_cols = p.trans_b ? p.k : p.n;
  GLIA_CHECK(p.lda >= (a_cols > 1 ? a_cols : 1), "op 'gemm': lda=" << p.lda << " is smaller than the " << a_cols
                                                                   << " columns of A as stored (trans_a=" << p.trans_a << ")");
  GLIA_CHECK(p.ldb >= (b_cols > 1 ? b_cols : 1), "op 'gemm': ldb=" << p.ldb << " is smaller than the " << b_cols
                                                                   << " columns of B as stored (trans_b=" << p.trans_b << ")");
  GLIA_CHECK(p.ldc >= (p.n > 1 ? p.n : 1), "op 'gemm': ldc=" << p.ldc << " is smaller than n=" << p.n);
  GLIA_CHECK((p.m + kTileM - 1) / kTileM <= kMaxGridBlocks, "op 'gemm': m=" << p.m << " needs more than 65535 row tiles");
}

template <class T>
GemmArgs<T> gemm_args(const GemmParams& p) {
  GemmArgs<T> g{p.trans_a, p.trans_b, p.m, p.n, p.k, static_cast<T>(p.alpha), static_cast<T>(p.beta),
                static_cast<const T*>(p.a), p.lda, p.stride_a, static_cast<const T*>(p.b), p.ldb, p.stride_b,
                static_cast<T*>(p.c), p.ldc, p.stride_c, p.batch, false, false, false};
  // float4 access needs every row start (and every batch item) on a 16-byte boundary.
  auto rows_aligned = [](const void* base, int64_t ld, int64_t stride, int64_t batch) {
    return aligned16(base) && ld % 4 == 0 && (batch == 1 || stride % 4 == 0);
  };
  g.vec_a = rows_aligned(p.a, p.lda, p.stride_a, p.batch);
  g.vec_b = rows_aligned(p.b, p.ldb, p.stride_b, p.batch);
  g.vec_c = rows_aligned(p.c, p.ldc, p.stride_c, p.batch);
  return g;
}

}  // namespace

void gemm(const GemmParams& p) {
  check_gemm(p);
  if (p.dtype == DType::bf16) {
    gemm_bf16(p);  // tensor cores, kernels/cuda/gemm_bf16.cu
    return;
  }
  require_output_in_input_dtype(p, "gemm", GLIA_CUDA_STR_(GLIA_CUDA_NS));
  GLIA_CHECK(p.bias == nullptr && p.activation == GemmActivation::none,
             "op 'gemm' on backend " GLIA_BACKEND_NAME ": a bias or activation epilogue needs bf16 inputs, not "
                 << dtype_name(p.dtype));
  if (p.m == 0 || p.n == 0 || p.batch == 0) return;
  unsigned batch_blocks = static_cast<unsigned>(p.batch < kMaxGridBlocks ? p.batch : kMaxGridBlocks);
  if (p.dtype == DType::f32) {
    GemmArgs<float> g = gemm_args<float>(p);
    dim3 grid(static_cast<unsigned>((p.n + kTileN - 1) / kTileN), static_cast<unsigned>((p.m + kTileM - 1) / kTileM),
              batch_blocks);
    GLIA_LAUNCH(sgemm_tiled, grid, kSgemmThreads, 0, g);
  } else if (p.dtype == DType::f64) {
    GemmArgs<double> g = gemm_args<double>(p);
    GLIA_CHECK((p.m + kSimpleTile - 1) / kSimpleTile <= kMaxGridBlocks, "op 'gemm': m=" << p.m << " too large for the float64 grid");
    dim3 grid(static_cast<unsigned>((p.n + kSimpleTile - 1) / kSimpleTile),
              static_cast<unsigned>((p.m + kSimpleTile - 1) / kSimpleTile), batch_blocks);
    GLIA_LAUNCH(gemm_simple_tiled<double>, grid, dim3(kSimpleTile, kSimpleTile), 0, g);
  } else {
    GLIA_FAIL("op 'gemm' on backend " GLIA_BACKEND_NAME " supports float32, float64 and bfloat16, not " << dtype_name(p.dtype));
  }
}

}  // namespace glia::kernels::GLIA_CUDA_NS
