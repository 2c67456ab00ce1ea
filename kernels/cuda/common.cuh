// Small pieces every hand-written kernel file shares: launch sizing, dtype dispatch on the
// host, math overloads that pick the float or double function, and warp/block reductions
// built from __shfl_down_sync and shared memory. Compiled in both namespaces (cuda under
// nvcc, sim under the emulator), like the .cu files that include it.
#pragma once
#include <cmath>
#include <cstdint>
#include <climits>

#include "kernels/cuda/launch.cuh"
#include "kernels/dtype.h"
#include "kernels/elementwise.h"
#include "kernels/error.h"

// "'sim'" or "'cuda'", for error messages.
#define GLIA_CUDA_STR2_(x) #x
#define GLIA_CUDA_STR_(x) GLIA_CUDA_STR2_(x)
#define GLIA_BACKEND_NAME "'" GLIA_CUDA_STR_(GLIA_CUDA_NS) "'"

namespace glia::kernels::GLIA_CUDA_NS {

constexpr int kWarpSize = 32;
constexpr unsigned kFullMask = 0xffffffffu;

// ---- grid sizing and grid-stride loops --------------------------------------------------
// Every launch over "n items" sizes its grid with blocks_for and walks the items with
// grid_stride (threads), block_stride (one block per item) or thread_stride (the threads
// of one block), so the grid cap lives here and nowhere else.
//
// kMaxGridBlocks: 65535 is CUDA's limit on gridDim.y and .z; glia caps x there too, so a
// grid never depends on which dimension carries it, and the loops cover the rest.
// kOneWaveBlocks: about one wave of a large GPU (132 SMs x 2048 threads at 256 threads a
// block), for cheap elementwise work where more blocks only add scheduling.
constexpr int kMaxGridBlocks = 65535;
constexpr int kOneWaveBlocks = 1024;
constexpr int kMaxBlockThreads = 1024;

inline int blocks_for(int64_t n, int threads, int max_blocks = kMaxGridBlocks) {
  int64_t blocks = (n + threads - 1) / threads;
  if (blocks < 1) blocks = 1;
  return static_cast<int>(blocks < max_blocks ? blocks : max_blocks);
}

// True when a grid-stride loop over [0, n) can count in int32: the last index plus one
// grid stride (at most kMaxGridBlocks x kMaxBlockThreads) stays below INT32_MAX. 32-bit
// index arithmetic (and above all 32-bit division, which 64-bit division is a long
// software routine beside) is the fast path of every index-heavy kernel.
inline bool fits_int32(int64_t n) {
  return n >= 0 && n <= INT32_MAX - int64_t(kMaxGridBlocks) * kMaxBlockThreads;
}

// Calls fn(int32_t{}) when every index below `largest` fits_int32, else fn(int64_t{}):
// kernels templated on their index type get the 32-bit path for all but huge tensors.
template <class Fn>
void dispatch_index(int64_t largest, Fn&& fn) {
  if (fits_int32(largest)) {
    fn(int32_t{});
  } else {
    fn(int64_t{});
  }
}

// [first, end) in steps of `step`, for range-based for loops in kernels.
template <class I>
struct StrideRange {
  I first, end_, step;
  struct Iter {
    I i, step;
    __device__ __forceinline__ I operator*() const { return i; }
    __device__ __forceinline__ Iter& operator++() {
      i += step;
      return *this;
    }
    __device__ __forceinline__ bool operator!=(const Iter& end) const { return i < end.i; }
  };
  __device__ __forceinline__ Iter begin() const { return {first, step}; }
  __device__ __forceinline__ Iter end() const { return {end_, step}; }
};

// for (I i : grid_stride(n)): this thread's items of [0, n), one per thread of the grid
// per round (neighbouring threads take neighbouring items: coalesced).
template <class I>
__device__ __forceinline__ StrideRange<I> grid_stride(I n) {
  return {static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + static_cast<I>(threadIdx.x), n,
          static_cast<I>(gridDim.x) * static_cast<I>(blockDim.x)};
}

// for (I j : block_stride(n)): this block's items of [0, n), one per block per round.
template <class I>
__device__ __forceinline__ StrideRange<I> block_stride(I n) {
  return {static_cast<I>(blockIdx.x), n, static_cast<I>(gridDim.x)};
}

// for (I e : thread_stride(n)): this thread's share of [0, n) within its block.
template <class I>
__device__ __forceinline__ StrideRange<I> thread_stride(I n) {
  return {static_cast<I>(threadIdx.x), n, static_cast<I>(blockDim.x)};
}

// Threads for a block that reduces `n` values: a power of two in [32, max_threads], so
// every warp is full and a short row does not park 200 idle threads.
inline int reduce_threads(int64_t n, int max_threads = 256) {
  int t = kWarpSize;
  while (t < max_threads && t < n) t *= 2;
  return t;
}

// Calls fn(float{}) or fn(double{}) for a floating dtype; anything else is an Error that
// names the op and the dtype.
template <class Fn>
void dispatch_floating(DType t, const char* op, Fn&& fn) {
  switch (t) {
    case DType::f32: fn(float{}); return;
    case DType::f64: fn(double{}); return;
    default: GLIA_FAIL("op '" << op << "' on backend " GLIA_BACKEND_NAME " supports float32 and float64, not " << dtype_name(t));
  }
}

// Calls fn(T{}) for every dtype with a hand-written kernel (not f16/bf16 yet).
template <class Fn>
void dispatch_any(DType t, const char* op, Fn&& fn) {
  switch (t) {
    case DType::f32: fn(float{}); return;
    case DType::f64: fn(double{}); return;
    case DType::i32: fn(int32_t{}); return;
    case DType::i64: fn(int64_t{}); return;
    case DType::u8: fn(uint8_t{}); return;
    default: GLIA_FAIL("op '" << op << "' on backend " GLIA_BACKEND_NAME " has no kernel for " << dtype_name(t));
  }
}

// A shape walked by two operands (binary: a and b; copy: src and dst), with size-1 dims
// dropped and neighbouring dims merged where both operands step across them as one dim,
// so a contiguous tensor becomes one dim and the per-element index arithmetic shrinks.
struct TwoOperandLayout {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides0[kMaxDims] = {};
  int64_t strides1[kMaxDims] = {};
};

inline TwoOperandLayout collapse_dims(int ndim, const int64_t* sizes, const int64_t* s0, const int64_t* s1) {
  TwoOperandLayout r;
  for (int d = 0; d < ndim; ++d) {
    if (sizes[d] == 1) continue;
    int last = r.ndim - 1;
    if (last >= 0 && r.strides0[last] == s0[d] * sizes[d] && r.strides1[last] == s1[d] * sizes[d]) {
      r.sizes[last] *= sizes[d];
      r.strides0[last] = s0[d];
      r.strides1[last] = s1[d];
      continue;
    }
    r.sizes[r.ndim] = sizes[d];
    r.strides0[r.ndim] = s0[d];
    r.strides1[r.ndim] = s1[d];
    ++r.ndim;
  }
  return r;
}

// The largest element offset either operand reaches (strides are never negative in
// glia), so the host can tell whether a 32-bit index walks the layout.
inline int64_t layout_span(const TwoOperandLayout& l) {
  int64_t s0 = 0, s1 = 0;
  for (int d = 0; d < l.ndim; ++d) {
    s0 += (l.sizes[d] - 1) * l.strides0[d];
    s1 += (l.sizes[d] - 1) * l.strides1[d];
  }
  return s0 > s1 ? s0 : s1;
}

// Element offsets of linear (row-major) index i in both operands, in index type I (the
// host chose int32 only when the element count and layout_span fit it).
template <class I>
__device__ __forceinline__ void layout_offsets(const TwoOperandLayout& l, I i, I& off0, I& off1) {
  off0 = 0;
  off1 = 0;
  for (int d = l.ndim - 1; d >= 0; --d) {
    const I size = static_cast<I>(l.sizes[d]);
    const I coord = i % size;
    i /= size;
    off0 += coord * static_cast<I>(l.strides0[d]);
    off1 += coord * static_cast<I>(l.strides1[d]);
  }
}

// ---- math overloads: one name, the float or the double function ----------------------
__device__ __forceinline__ float dev_exp(float x) { return expf(x); }
__device__ __forceinline__ double dev_exp(double x) { return exp(x); }
__device__ __forceinline__ float dev_log(float x) { return logf(x); }
__device__ __forceinline__ double dev_log(double x) { return log(x); }
__device__ __forceinline__ float dev_log1p(float x) { return log1pf(x); }
__device__ __forceinline__ double dev_log1p(double x) { return log1p(x); }
__device__ __forceinline__ float dev_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double dev_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float dev_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double dev_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float dev_cosh(float x) { return coshf(x); }
__device__ __forceinline__ double dev_cosh(double x) { return cosh(x); }
__device__ __forceinline__ float dev_abs(float x) { return fabsf(x); }
__device__ __forceinline__ double dev_abs(double x) { return fabs(x); }
__device__ __forceinline__ float dev_pow(float x, float y) { return powf(x, y); }
__device__ __forceinline__ double dev_pow(double x, double y) { return pow(x, y); }

template <class T>
__device__ __forceinline__ T dev_max(T a, T b) { return a > b ? a : b; }
template <class T>
__device__ __forceinline__ T dev_min(T a, T b) { return a < b ? a : b; }

template <class T>
__device__ __forceinline__ T lowest_value() { return -static_cast<T>(INFINITY); }

// ---- reductions -----------------------------------------------------------------------
// Tree over the 32 lanes with __shfl_down_sync; lane 0 ends with the warp's total. The
// order is fixed, so the result does not change from run to run.
template <class T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v += __shfl_down_sync(kFullMask, v, offset);
  return v;
}

template <class T>
__device__ __forceinline__ T warp_max(T v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v = dev_max(v, __shfl_down_sync(kFullMask, v, offset));
  return v;
}

// Block-wide reductions for a block of whole warps (blockDim.x a multiple of 32, at most
// 1024). `scratch` is __shared__ space for 32 values. Every thread gets the result.
// The leading __syncthreads makes it safe to call twice in a row with one scratch.
template <class T>
__device__ T block_sum(T v, T* scratch) {
  int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  int warps = blockDim.x / kWarpSize;
  __syncthreads();
  v = warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < warps ? scratch[lane] : T(0);
    v = warp_sum(v);
    if (lane == 0) scratch[0] = v;
  }
  __syncthreads();
  return scratch[0];
}

template <class T>
__device__ T block_max(T v, T* scratch) {
  int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  int warps = blockDim.x / kWarpSize;
  __syncthreads();
  v = warp_max(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < warps ? scratch[lane] : lowest_value<T>();
    v = warp_max(v);
    if (lane == 0) scratch[0] = v;
  }
  __syncthreads();
  return scratch[0];
}

// out = the sum of `splits` partial results laid out one after another (a split-K
// workspace), added in split order: deterministic. Used by the convolution weight gradients.
template <class T>
__global__ void sum_splits(int64_t total, int splits, const T* partial, T* out) {
  for (int64_t i : grid_stride(total)) {
    T acc = partial[i];
    for (int s = 1; s < splits; ++s) acc += partial[s * total + i];
    out[i] = acc;
  }
}

}  // namespace glia::kernels::GLIA_CUDA_NS
