// Reductions (sum, mean, max, min, argmax) over the middle axis of [outer, reduce, inner].
//
// Decomposition, two shapes:
//  - inner == 1 (reduce the last, contiguous axis): one block per output row. Each thread
//    folds elements tid, tid+blockDim, ... of the row in registers (coalesced reads), the
//    32 lanes of a warp combine with __shfl_down_sync, each warp's lane 0 leaves its
//    partial in shared memory, and the first warp combines those.
//  - inner > 1: blocks of 32 x 8 threads. threadIdx.x picks one of 32 neighbouring output
//    columns (so a warp reads 32 consecutive floats: coalesced), threadIdx.y one of 8
//    interleaved slices of the reduced axis; the 8 partials meet in shared memory.
// No atomics and a fixed combination order: the result is the same on every run.
//
// Cost: outer*reduce*inner FLOPs (compares or adds); bytes = that many elements read plus
// outer*inner written: memory-bound.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels.cuh"

namespace glia::kernels::GLIA_CUDA_NS {
namespace {

constexpr int64_t kNoIndex = INT64_MAX;  // loses every tie against a real index
constexpr int kColumnTileX = 32, kColumnTileY = 8;

__device__ __forceinline__ bool is_extreme_op(ReduceOp op) { return op != ReduceOp::sum && op != ReduceOp::mean; }

template <class T>
__device__ __forceinline__ T identity_of(ReduceOp op) {
  if (op == ReduceOp::min) return static_cast<T>(INFINITY);
  if (op == ReduceOp::max || op == ReduceOp::argmax) return lowest_value<T>();
  return T(0);
}

// Is candidate (v2, i2) a better extreme than (v, i)? NaN wins (it propagates, as in
// torch.max); between equals the smaller index wins, so the first extreme is reported.
template <class T>
__device__ __forceinline__ bool better(ReduceOp op, T v2, int64_t i2, T v, int64_t i) {
  bool nan2 = v2 != v2, nan1 = v != v;
  if (nan1 || nan2) return nan2 && (!nan1 || i2 < i);
  if (v2 == v) return i2 < i;
  return op == ReduceOp::min ? v2 < v : v2 > v;
}

// Folds (v2, i2) into the running (v, i).
template <class T>
__device__ __forceinline__ void combine(ReduceOp op, T& v, int64_t& i, T v2, int64_t i2) {
  if (!is_extreme_op(op)) {
    v += v2;
  } else if (better(op, v2, i2, v, i)) {
    v = v2;
    i = i2;
  }
}

template <class T>
__device__ __forceinline__ void write_result(ReduceOp op, int64_t len, T v, int64_t i, void* out, int64_t* indices,
                                             int64_t at) {
  if (op == ReduceOp::argmax) {
    static_cast<int64_t*>(out)[at] = i;
    return;
  }
  static_cast<T*>(out)[at] = op == ReduceOp::mean ? v / static_cast<T>(len) : v;
  if (indices != nullptr && is_extreme_op(op)) indices[at] = i;
}

// Rows: one block reduces one row (and then the next gridDim.x-th, when rows > grid).
template <class T>
__global__ void reduce_rows(ReduceOp op, int64_t rows, int64_t len, const T* x, void* out, int64_t* indices) {
  __shared__ T warp_values[kWarpSize];
  __shared__ int64_t warp_indices[kWarpSize];
  int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  int warps = blockDim.x / kWarpSize;
  for (int64_t row : block_stride(rows)) {
    const T* xr = x + row * len;
    T v = identity_of<T>(op);
    int64_t idx = kNoIndex;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) combine(op, v, idx, xr[j], j);

    // Lanes fold pairwise: lane l takes lane l+16, then l+8, ... lane 0 holds the warp's.
    for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
      T v2 = __shfl_down_sync(kFullMask, v, offset);
      int64_t i2 = __shfl_down_sync(kFullMask, idx, offset);
      combine(op, v, idx, v2, i2);
    }
    __syncthreads();  // the previous row's readers of warp_values are done
    if (lane == 0) {
      warp_values[warp] = v;
      warp_indices[warp] = idx;
    }
    __syncthreads();
    if (warp == 0) {
      v = lane < warps ? warp_values[lane] : identity_of<T>(op);
      idx = lane < warps ? warp_indices[lane] : kNoIndex;
      for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
        T v2 = __shfl_down_sync(kFullMask, v, offset);
        int64_t i2 = __shfl_down_sync(kFullMask, idx, offset);
        combine(op, v, idx, v2, i2);
      }
      if (lane == 0) write_result(op, len, v, idx, out, indices, row);
    }
  }
}

// Columns: thread (x, y) folds column blockIdx.x*32+x over reduce indices y, y+8, ...
template <class T>
__global__ void reduce_columns(ReduceOp op, int64_t outer, int64_t len, int64_t inner, const T* x, void* out,
                               int64_t* indices) {
  __shared__ T part_values[kColumnTileY][kColumnTileX];
  __shared__ int64_t part_indices[kColumnTileY][kColumnTileX];
  int64_t col = static_cast<int64_t>(blockIdx.x) * kColumnTileX + threadIdx.x;
  for (int64_t o = blockIdx.y; o < outer; o += gridDim.y) {
    T v = identity_of<T>(op);
    int64_t idx = kNoIndex;
    if (col < inner) {
      const T* xo = x + o * len * inner + col;
      for (int64_t j = threadIdx.y; j < len; j += kColumnTileY) combine(op, v, idx, xo[j * inner], j);
    }
    __syncthreads();  // the previous iteration's readers of the partials are done
    part_values[threadIdx.y][threadIdx.x] = v;
    part_indices[threadIdx.y][threadIdx.x] = idx;
    __syncthreads();
    if (threadIdx.y == 0 && col < inner) {
      for (int r = 1; r < kColumnTileY; ++r) combine(op, v, idx, part_values[r][threadIdx.x], part_indices[r][threadIdx.x]);
      write_result(op, len, v, idx, out, indices, o * inner + col);
    }
  }
}

}  // namespace

void reduce(const ReduceParams& p) {
  GLIA_CHECK(p.outer >= 0 && p.reduce >= 0 && p.inner >= 0,
             "op 'reduce': negative size in [outer, reduce, inner] = [" << p.outer << ", " << p.reduce << ", " << p.inner << "]");
  GLIA_CHECK(p.reduce > 0 || p.op == ReduceOp::sum || p.op == ReduceOp::mean,
             "op 'reduce': max/min/argmax over an empty axis (reduce = 0) has no value");
  if (p.outer == 0 || p.inner == 0) return;
  dispatch_floating(p.dtype, "reduce", [&](auto zero) {
    using T = decltype(zero);
    const T* x = static_cast<const T*>(p.x);
    if (p.inner == 1) {
      int threads = reduce_threads(p.reduce);
      int blocks = static_cast<int>(p.outer < 4096 ? p.outer : 4096);
      GLIA_LAUNCH(reduce_rows<T>, blocks, threads, 0, p.op, p.outer, p.reduce, x, p.out, p.indices);
    } else {
      int64_t column_tiles = (p.inner + kColumnTileX - 1) / kColumnTileX;
      GLIA_CHECK(column_tiles <= INT32_MAX, "op 'reduce': inner size " << p.inner << " is too large for one grid");
      dim3 grid(static_cast<unsigned>(column_tiles), static_cast<unsigned>(p.outer < kMaxGridBlocks ? p.outer : kMaxGridBlocks));
      dim3 block(kColumnTileX, kColumnTileY);
      GLIA_LAUNCH(reduce_columns<T>, grid, block, 0, p.op, p.outer, p.reduce, p.inner, x, p.out, p.indices);
    }
  });
}

}  // namespace glia::kernels::GLIA_CUDA_NS
