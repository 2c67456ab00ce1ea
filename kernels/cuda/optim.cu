// Optimizer updates (kernels/optim.h): one thread per parameter element, grid-stride
// loop. Adam reads p, g, m, v and writes p, m, v: 28 bytes and ~12 FLOPs per float
// element, so it is bandwidth-bound; fusing the whole update into one pass is the point.
// The arithmetic follows the CPU kernel line for line so both backends agree to rounding.
//
// Multi-tensor Adam: every parameter tensor of a step in one launch. The launch carries a
// table (pointers, sizes, per-tensor bias corrections) as a kernel parameter, like
// PyTorch's multi_tensor_apply; each block takes one kChunk-element chunk of one tensor
// and finds it with a binary search over the tensors' first block. Tables of up to 32
// tensors (< 2 KiB) or up to kLargeTable (~27 KiB: kernel parameters up to 32 KiB need
// CUDA 12.1 and Volta or newer; older toolkits get 64) in one launch; longer lists take
// one launch per table. Both kernels update an element through adam_update, so the
// multi-tensor result is bit-identical to per-tensor calls.
#include <climits>
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels.cuh"
#include "kernels/optim.h"

namespace glia::kernels::GLIA_CUDA_NS {
namespace {

constexpr int kOptimThreads = 256;

// Hyper-parameters as T, each computed once on the host as the CPU kernel computes it.
template <class T>
struct AdamScalars {
  T beta1, beta2, one_minus_beta1, one_minus_beta2, eps, weight_decay, decay;
  bool decoupled;
};

template <class T>
AdamScalars<T> adam_scalars(double lr, double beta1, double beta2, double eps, double weight_decay, bool decoupled) {
  AdamScalars<T> s;
  s.beta1 = static_cast<T>(beta1);
  s.beta2 = static_cast<T>(beta2);
  s.one_minus_beta1 = T(1) - s.beta1;
  s.one_minus_beta2 = T(1) - s.beta2;
  s.eps = static_cast<T>(eps);
  s.weight_decay = static_cast<T>(weight_decay);
  s.decay = T(1) - static_cast<T>(lr) * s.weight_decay;
  s.decoupled = decoupled;
  return s;
}

// The bias corrections of step `step`, as T (host; both kernels use these).
template <class T>
T adam_step_size(double lr, double beta1, int64_t step) {
  return static_cast<T>(lr / (1 - std::pow(beta1, static_cast<double>(step))));
}
template <class T>
T adam_bias2_sqrt(double beta2, int64_t step) {
  return static_cast<T>(std::sqrt(1 - std::pow(beta2, static_cast<double>(step))));
}

// One element's update: the single place both Adam kernels do it, so they agree bit for bit.
template <class T>
__device__ __forceinline__ void adam_update(const AdamScalars<T>& s, T step_size, T bias2_sqrt, T& w, T grad, T& m,
                                            T& v) {
  if (s.decoupled) {
    w *= s.decay;
  } else {
    grad += s.weight_decay * w;
  }
  m = s.beta1 * m + s.one_minus_beta1 * grad;
  v = s.beta2 * v + s.one_minus_beta2 * grad * grad;
  w -= step_size * m / (dev_sqrt(v) / bias2_sqrt + s.eps);
}

template <class T>
__global__ void adam_elements(int64_t n, AdamScalars<T> s, T step_size, T bias2_sqrt, T* w, const T* g, T* m, T* v) {
  for (int64_t i : grid_stride(n)) adam_update(s, step_size, bias2_sqrt, w[i], g[i], m[i], v[i]);
}

// ---- multi-tensor Adam ----------------------------------------------------------------
constexpr int64_t kChunk = 4096;  // elements per block: 16 per thread
constexpr int kSmallTable = 32;
#if defined(__CUDACC__) && defined(CUDART_VERSION) && CUDART_VERSION < 12010
constexpr int kLargeTable = 64;  // kernel parameters limited to 4 KiB
#else
constexpr int kLargeTable = 448;
#endif

template <class T, int kCapacity>
struct AdamTable {
  T* w[kCapacity];
  const T* g[kCapacity];
  T* m[kCapacity];
  T* v[kCapacity];
  int64_t n[kCapacity];
  T step_size[kCapacity], bias2_sqrt[kCapacity];
  int first_block[kCapacity + 1];  // tensor t owns blocks [first_block[t], first_block[t + 1])
  int count;
};
static_assert(sizeof(AdamTable<double, kLargeTable>) + sizeof(AdamScalars<double>) <= 32000,
              "the multi-tensor Adam table must fit CUDA's 32 KiB of kernel parameters");

template <class T, int kCapacity>
__global__ void adam_multi_elements(AdamTable<T, kCapacity> table, AdamScalars<T> s) {
  for (int block : block_stride(table.first_block[table.count])) {
    int lo = 0, hi = table.count - 1;  // the last tensor whose first block <= block
    while (lo < hi) {
      const int mid = (lo + hi + 1) / 2;
      if (table.first_block[mid] <= block) lo = mid;
      else hi = mid - 1;
    }
    const int t = lo;
    const int64_t begin = static_cast<int64_t>(block - table.first_block[t]) * kChunk;
    const int64_t end = begin + kChunk < table.n[t] ? begin + kChunk : table.n[t];
    T* w = table.w[t];
    const T* g = table.g[t];
    T* m = table.m[t];
    T* v = table.v[t];
    for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x)
      adam_update(s, table.step_size[t], table.bias2_sqrt[t], w[i], g[i], m[i], v[i]);
  }
}

// Fills a table with tensors [first, last) (empty ones left out) and launches it.
template <class T, int kCapacity>
void launch_adam_table(const AdamMultiParams& p, size_t first, size_t last, const AdamScalars<T>& s) {
  AdamTable<T, kCapacity> table{};
  int blocks = 0, count = 0;
  for (size_t i = first; i < last; ++i) {
    const AdamTensor& a = p.tensors[i];
    if (a.n == 0) continue;
    table.w[count] = static_cast<T*>(a.param);
    table.g[count] = static_cast<const T*>(a.grad);
    table.m[count] = static_cast<T*>(a.exp_avg);
    table.v[count] = static_cast<T*>(a.exp_avg_sq);
    table.n[count] = a.n;
    table.step_size[count] = adam_step_size<T>(p.lr, p.beta1, a.step);
    table.bias2_sqrt[count] = adam_bias2_sqrt<T>(p.beta2, a.step);
    table.first_block[count] = blocks;
    const int64_t chunks = (a.n + kChunk - 1) / kChunk;
    GLIA_CHECK(blocks + chunks <= INT_MAX, "adam_multi_step: " << blocks + chunks << " chunks do not fit an int");
    blocks += static_cast<int>(chunks);
    ++count;
  }
  if (count == 0) return;
  table.first_block[count] = blocks;
  table.count = count;
  auto* kernel = &adam_multi_elements<T, kCapacity>;
  GLIA_LAUNCH(kernel, blocks_for(blocks, 1), kOptimThreads, 0, table, s);
}

template <class T>
struct SgdScalars {
  T lr, momentum, dampening, weight_decay;
  bool nesterov, first_step;
};

template <class T>
__global__ void sgd_elements(int64_t n, SgdScalars<T> s, T* w, const T* g, T* buf) {
  for (int64_t i : grid_stride(n)) {
    T grad = g[i] + s.weight_decay * w[i];
    if (s.momentum != 0) {
      buf[i] = s.first_step ? grad : s.momentum * buf[i] + (1 - s.dampening) * grad;
      grad = s.nesterov ? grad + s.momentum * buf[i] : buf[i];
    }
    w[i] -= s.lr * grad;
  }
}

}  // namespace

void adam_step(const AdamParams& p) {
  GLIA_CHECK(p.step >= 1, "adam_step: step " << p.step << " must be >= 1");
  if (p.n == 0) return;
  dispatch_floating(p.dtype, "adam_step", [&](auto zero) {
    using T = decltype(zero);
    const AdamScalars<T> s = adam_scalars<T>(p.lr, p.beta1, p.beta2, p.eps, p.weight_decay, p.decoupled);
    GLIA_LAUNCH(adam_elements<T>, blocks_for(p.n, kOptimThreads, kOneWaveBlocks), kOptimThreads, 0, p.n, s,
                adam_step_size<T>(p.lr, p.beta1, p.step), adam_bias2_sqrt<T>(p.beta2, p.step),
                static_cast<T*>(p.param), static_cast<const T*>(p.grad), static_cast<T*>(p.exp_avg),
                static_cast<T*>(p.exp_avg_sq));
  });
}

void adam_multi_step(const AdamMultiParams& p) {
  for (size_t i = 0; i < p.tensors.size(); ++i)
    GLIA_CHECK(p.tensors[i].step >= 1 && p.tensors[i].n >= 0,
               "adam_multi_step: tensor " << i << " has step " << p.tensors[i].step << " and " << p.tensors[i].n
                                          << " elements (step must be >= 1, elements >= 0)");
  if (p.tensors.empty()) return;
  dispatch_floating(p.dtype, "adam_multi_step", [&](auto zero) {
    using T = decltype(zero);
    const AdamScalars<T> s = adam_scalars<T>(p.lr, p.beta1, p.beta2, p.eps, p.weight_decay, p.decoupled);
    if (p.tensors.size() <= static_cast<size_t>(kSmallTable)) {
      launch_adam_table<T, kSmallTable>(p, 0, p.tensors.size(), s);
      return;
    }
    for (size_t first = 0; first < p.tensors.size(); first += kLargeTable) {
      const size_t last = first + kLargeTable < p.tensors.size() ? first + kLargeTable : p.tensors.size();
      launch_adam_table<T, kLargeTable>(p, first, last, s);
    }
  });
}

void sgd_step(const SgdParams& p) {
  GLIA_CHECK(p.momentum == 0 || p.momentum_buffer != nullptr, "sgd_step: momentum " << p.momentum << " needs a buffer");
  if (p.n == 0) return;
  dispatch_floating(p.dtype, "sgd_step", [&](auto zero) {
    using T = decltype(zero);
    SgdScalars<T> s{static_cast<T>(p.lr), static_cast<T>(p.momentum), static_cast<T>(p.dampening),
                    static_cast<T>(p.weight_decay), p.nesterov, p.first_step};
    GLIA_LAUNCH(sgd_elements<T>, blocks_for(p.n, kOptimThreads, kOneWaveBlocks), kOptimThreads, 0, p.n, s,
                static_cast<T*>(p.param), static_cast<const T*>(p.grad), static_cast<T*>(p.momentum_buffer));
  });
}

}  // namespace glia::kernels::GLIA_CUDA_NS
