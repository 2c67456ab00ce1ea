// Softmax / log-softmax forward and backward over the middle axis of [outer, dim, inner],
// cross-entropy on logits (class index or probability targets, label smoothing), and
// binary cross-entropy with logits, each with its backward.
//
// Decomposition:
//  - inner == 1 (the classes are contiguous): one block per row, sized to the row (32 to
//    256 threads). Threads stride over the row; the row max and the sum of exponentials
//    are block reductions (__shfl_down_sync in each warp, then shared memory across
//    warps), so a row longer than the block is fine.
//  - inner > 1: one thread per (outer, inner) column, walking the dim axis with stride
//    inner; neighbouring threads read neighbouring addresses, so reads stay coalesced.
//  - binary cross-entropy: one thread per element, grid-stride loop.
//
// Cost per element: softmax ~5 FLOPs (max, sub, exp, add, mul), 3 reads (two for the max
// and sum passes, one for the write pass; cached on a GPU) and 1 write. Cross-entropy is
// the same plus one reduction. All memory-bound.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels.cuh"

namespace glia::kernels::GLIA_CUDA_NS {
namespace {

constexpr int kElementThreads = 256;
constexpr int kMaxRowBlocks = 4096;

int row_blocks(int64_t rows) { return static_cast<int>(rows < kMaxRowBlocks ? rows : kMaxRowBlocks); }

// ---- softmax, one block per row ------------------------------------------------------------
template <class T>
__global__ void softmax_rows(bool log_output, int64_t rows, int64_t dim, const T* x, T* y) {
  __shared__ T scratch[kWarpSize];
  for (int64_t row : block_stride(rows)) {
    const T* xr = x + row * dim;
    T* yr = y + row * dim;
    T m = lowest_value<T>();
    for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) m = dev_max(m, xr[j]);
    m = block_max(m, scratch);
    T s = 0;
    for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) s += dev_exp(xr[j] - m);
    s = block_sum(s, scratch);
    if (log_output) {
      T log_norm = m + dev_log(s);
      for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) yr[j] = xr[j] - log_norm;
    } else {
      T inv = T(1) / s;
      for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) yr[j] = dev_exp(xr[j] - m) * inv;
    }
  }
}

// ---- softmax, one thread per column of [outer, dim, inner] -------------------------------
template <class T>
__global__ void softmax_columns(bool log_output, int64_t outer, int64_t dim, int64_t inner, const T* x, T* y) {
  for (int64_t c : grid_stride(outer * inner)) {
    int64_t base = (c / inner) * dim * inner + c % inner;
    T m = lowest_value<T>();
    for (int64_t j = 0; j < dim; ++j) m = dev_max(m, x[base + j * inner]);
    T s = 0;
    for (int64_t j = 0; j < dim; ++j) s += dev_exp(x[base + j * inner] - m);
    T log_norm = m + dev_log(s), inv = T(1) / s;
    for (int64_t j = 0; j < dim; ++j) {
      T xj = x[base + j * inner];
      y[base + j * inner] = log_output ? xj - log_norm : dev_exp(xj - m) * inv;
    }
  }
}

// ---- backward: softmax gx = y*(gy - sum(gy*y)); log-softmax gx = gy - exp(y)*sum(gy) -----
template <class T>
__device__ __forceinline__ T softmax_grad(bool log_output, T y, T gy, T total) {
  return log_output ? gy - dev_exp(y) * total : y * (gy - total);
}

template <class T>
__global__ void softmax_backward_rows(bool log_output, int64_t rows, int64_t dim, const T* y, const T* gy, T* gx) {
  __shared__ T scratch[kWarpSize];
  for (int64_t row : block_stride(rows)) {
    int64_t base = row * dim;
    T total = 0;
    for (int64_t j = threadIdx.x; j < dim; j += blockDim.x) total += log_output ? gy[base + j] : gy[base + j] * y[base + j];
    total = block_sum(total, scratch);
    for (int64_t j = threadIdx.x; j < dim; j += blockDim.x)
      gx[base + j] = softmax_grad(log_output, y[base + j], gy[base + j], total);
  }
}

template <class T>
__global__ void softmax_backward_columns(bool log_output, int64_t outer, int64_t dim, int64_t inner, const T* y,
                                         const T* gy, T* gx) {
  for (int64_t c : grid_stride(outer * inner)) {
    int64_t base = (c / inner) * dim * inner + c % inner;
    T total = 0;
    for (int64_t j = 0; j < dim; ++j) {
      int64_t at = base + j * inner;
      total += log_output ? gy[at] : gy[at] * y[at];
    }
    for (int64_t j = 0; j < dim; ++j) {
      int64_t at = base + j * inner;
      gx[at] = softmax_grad(log_output, y[at], gy[at], total);
    }
  }
}

// ---- cross-entropy, one block per sample ---------------------------------------------------
// With smoothed target q (q_c = (1-eps)*target_c + eps/C, target one-hot or probabilities):
//   loss = sum_c q_c * (lse - x_c),   dloss/dx_c = softmax_c * sum(q) - q_c.
// An out-of-range class index makes the loss (and its gradient) NaN: a kernel cannot throw.
template <class T>
struct CrossEntropyArgs {
  int64_t n, classes;
  const T* logits;
  const int64_t* target_index;
  const T* target_prob;
  T smoothing;
};

template <class T>
__device__ __forceinline__ T smoothed_target(const CrossEntropyArgs<T>& a, int64_t row, int64_t c, int64_t index) {
  T uniform = a.smoothing / static_cast<T>(a.classes);
  T base = a.target_prob != nullptr ? a.target_prob[row * a.classes + c] : (c == index ? T(1) : T(0));
  return (T(1) - a.smoothing) * base + uniform;
}

// Row max and log-sum-exp of the row's logits (every thread gets both).
template <class T>
__device__ __forceinline__ T row_log_sum_exp(const T* xr, int64_t classes, T* scratch) {
  T m = lowest_value<T>();
  for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) m = dev_max(m, xr[c]);
  m = block_max(m, scratch);
  T s = 0;
  for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) s += dev_exp(xr[c] - m);
  s = block_sum(s, scratch);
  return m + dev_log(s);
}

template <class T>
__device__ __forceinline__ int64_t target_of(const CrossEntropyArgs<T>& a, int64_t row, bool& valid) {
  if (a.target_prob != nullptr) {
    valid = true;
    return -1;
  }
  int64_t t = a.target_index[row];
  valid = t >= 0 && t < a.classes;
  return t;
}

template <class T>
__global__ void cross_entropy_rows(CrossEntropyArgs<T> a, T* loss) {
  __shared__ T scratch[kWarpSize];
  for (int64_t row : block_stride(a.n)) {
    const T* xr = a.logits + row * a.classes;
    T lse = row_log_sum_exp(xr, a.classes, scratch);
    bool valid;
    int64_t t = target_of(a, row, valid);
    T partial = 0;
    for (int64_t c = threadIdx.x; c < a.classes; c += blockDim.x) partial += smoothed_target(a, row, c, t) * (lse - xr[c]);
    T total = block_sum(partial, scratch);
    if (threadIdx.x == 0) loss[row] = valid ? total : static_cast<T>(NAN);
  }
}

template <class T>
__global__ void cross_entropy_backward_rows(CrossEntropyArgs<T> a, const T* grad_loss, T* grad_logits) {
  __shared__ T scratch[kWarpSize];
  for (int64_t row : block_stride(a.n)) {
    const T* xr = a.logits + row * a.classes;
    T lse = row_log_sum_exp(xr, a.classes, scratch);
    bool valid;
    int64_t t = target_of(a, row, valid);
    T q_total = 1;  // a one-hot target smoothed still sums to 1
    if (a.target_prob != nullptr) {
      T partial = 0;
      for (int64_t c = threadIdx.x; c < a.classes; c += blockDim.x) partial += smoothed_target(a, row, c, t);
      q_total = block_sum(partial, scratch);
    }
    T g = valid ? grad_loss[row] : static_cast<T>(NAN);
    for (int64_t c = threadIdx.x; c < a.classes; c += blockDim.x) {
      T p = dev_exp(xr[c] - lse);
      grad_logits[row * a.classes + c] = g * (p * q_total - smoothed_target(a, row, c, t));
    }
  }
}

// ---- binary cross-entropy with logits, one thread per element ------------------------------
template <class T>
__global__ void bce_with_logits_elements(int64_t n, const T* x, const T* t, T* loss) {
  for (int64_t i : grid_stride(n))
    loss[i] = dev_max(x[i], T(0)) - x[i] * t[i] + dev_log1p(dev_exp(-dev_abs(x[i])));
}

template <class T>
__global__ void bce_with_logits_backward_elements(int64_t n, const T* x, const T* t, const T* grad_loss, T* grad) {
  for (int64_t i : grid_stride(n))
    grad[i] = grad_loss[i] * (T(1) / (T(1) + dev_exp(-x[i])) - t[i]);
}

void check_shape(const char* op, int64_t outer, int64_t dim, int64_t inner) {
  GLIA_CHECK(outer >= 0 && dim >= 1 && inner >= 0,
             "op '" << op << "': [outer, dim, inner] = [" << outer << ", " << dim << ", " << inner
                    << "] needs dim >= 1 and no negative size");
}

template <class T>
CrossEntropyArgs<T> cross_entropy_args(const CrossEntropyParams& p, const char* op) {
  GLIA_CHECK(p.n >= 0 && p.classes >= 1, "op '" << op << "': n = " << p.n << ", classes = " << p.classes << " (need classes >= 1)");
  GLIA_CHECK((p.target_index != nullptr) != (p.target_prob != nullptr),
             "op '" << op << "': give exactly one of target_index and target_prob");
  GLIA_CHECK(p.label_smoothing >= 0 && p.label_smoothing <= 1,
             "op '" << op << "': label_smoothing " << p.label_smoothing << " outside [0, 1]");
  return CrossEntropyArgs<T>{p.n, p.classes, static_cast<const T*>(p.logits), p.target_index,
                             static_cast<const T*>(p.target_prob), static_cast<T>(p.label_smoothing)};
}

}  // namespace

// ---- host entry points ---------------------------------------------------------------------
void softmax(const SoftmaxParams& p) {
  check_shape("softmax", p.outer, p.dim, p.inner);
  if (p.outer == 0 || p.inner == 0) return;
  dispatch_floating(p.dtype, "softmax", [&](auto zero) {
    using T = decltype(zero);
    const T* x = static_cast<const T*>(p.x);
    T* y = static_cast<T*>(p.y);
    if (p.inner == 1) {
      GLIA_LAUNCH(softmax_rows<T>, row_blocks(p.outer), reduce_threads(p.dim), 0, p.log, p.outer, p.dim, x, y);
    } else {
      GLIA_LAUNCH(softmax_columns<T>, blocks_for(p.outer * p.inner, kElementThreads, kOneWaveBlocks), kElementThreads, 0, p.log,
                  p.outer, p.dim, p.inner, x, y);
    }
  });
}

void softmax_backward(const SoftmaxBackwardParams& p) {
  check_shape("softmax_backward", p.outer, p.dim, p.inner);
  if (p.outer == 0 || p.inner == 0) return;
  dispatch_floating(p.dtype, "softmax_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* y = static_cast<const T*>(p.y);
    const T* gy = static_cast<const T*>(p.gy);
    T* gx = static_cast<T*>(p.gx);
    if (p.inner == 1) {
      GLIA_LAUNCH(softmax_backward_rows<T>, row_blocks(p.outer), reduce_threads(p.dim), 0, p.log, p.outer, p.dim, y,
                  gy, gx);
    } else {
      GLIA_LAUNCH(softmax_backward_columns<T>, blocks_for(p.outer * p.inner, kElementThreads, kOneWaveBlocks), kElementThreads, 0,
                  p.log, p.outer, p.dim, p.inner, y, gy, gx);
    }
  });
}

void cross_entropy(const CrossEntropyParams& p) {
  dispatch_floating(p.dtype, "cross_entropy", [&](auto zero) {
    using T = decltype(zero);
    CrossEntropyArgs<T> a = cross_entropy_args<T>(p, "cross_entropy");
    if (a.n == 0) return;
    GLIA_LAUNCH(cross_entropy_rows<T>, row_blocks(a.n), reduce_threads(a.classes), 0, a, static_cast<T*>(p.loss));
  });
}

void cross_entropy_backward(const CrossEntropyBackwardParams& p) {
  dispatch_floating(p.forward.dtype, "cross_entropy_backward", [&](auto zero) {
    using T = decltype(zero);
    CrossEntropyArgs<T> a = cross_entropy_args<T>(p.forward, "cross_entropy_backward");
    if (a.n == 0) return;
    GLIA_LAUNCH(cross_entropy_backward_rows<T>, row_blocks(a.n), reduce_threads(a.classes), 0, a,
                static_cast<const T*>(p.grad_loss), static_cast<T*>(p.grad_logits));
  });
}

void bce_with_logits(const BceWithLogitsParams& p) {
  if (p.n == 0) return;
  dispatch_floating(p.dtype, "bce_with_logits", [&](auto zero) {
    using T = decltype(zero);
    GLIA_LAUNCH(bce_with_logits_elements<T>, blocks_for(p.n, kElementThreads, kOneWaveBlocks), kElementThreads, 0, p.n,
                static_cast<const T*>(p.logits), static_cast<const T*>(p.target), static_cast<T*>(p.loss));
  });
}

void bce_with_logits_backward(const BceWithLogitsBackwardParams& p) {
  const BceWithLogitsParams& f = p.forward;
  if (f.n == 0) return;
  dispatch_floating(f.dtype, "bce_with_logits_backward", [&](auto zero) {
    using T = decltype(zero);
    GLIA_LAUNCH(bce_with_logits_backward_elements<T>, blocks_for(f.n, kElementThreads, kOneWaveBlocks), kElementThreads, 0, f.n,
                static_cast<const T*>(f.logits), static_cast<const T*>(f.target), static_cast<const T*>(p.grad_loss),
                static_cast<T*>(p.grad_logits));
  });
}

}  // namespace glia::kernels::GLIA_CUDA_NS
