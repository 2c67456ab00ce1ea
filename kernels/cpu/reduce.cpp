// CPU reductions over the middle axis of [outer, reduce, inner].
//
// Determinism: every output is computed by one fixed sequence of operations that depends
// only on the shape, never on the thread count. Threads split the outputs; a single long
// row (inner == 1) is cut into fixed-size chunks whose partial sums are added in chunk
// order, which is the same arithmetic the one-thread path does.
// Float sums accumulate in double, so float32 results are accurate to ~1e-7 relative.
#include <limits>
#include <vector>

#include "kernels/cpu/dispatch.h"
#include "kernels/reduce.h"

namespace glia::kernels::cpu {
namespace {

constexpr int64_t kSumChunk = 4096;  // elements summed per chunk of one long row
constexpr int64_t kLanes = 64;       // outputs reduced together when inner > 1

// Sum of one chunk with 8 independent accumulators (fixed order, faster than one chain).
template <class T>
double chunk_sum(const T* x, int64_t n) {
  double acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += static_cast<double>(x[i + j]);
  for (; i < n; ++i) acc[0] += static_cast<double>(x[i]);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// Sum of a contiguous row: chunk sums added in chunk order, starting from 0.
template <class T>
double row_sum(const T* x, int64_t n) {
  double total = 0;
  for (int64_t begin = 0; begin < n; begin += kSumChunk)
    total += chunk_sum(x + begin, n - begin < kSumChunk ? n - begin : kSumChunk);
  return total;
}

// The same sum with threads computing the chunk sums; the additions are the same ones in
// the same order, so the result is bit-identical to row_sum.
template <class T>
double row_sum_threaded(const T* x, int64_t n) {
  const int64_t chunks = (n + kSumChunk - 1) / kSumChunk;
  std::vector<double> partial(static_cast<size_t>(chunks));
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * kSumChunk;
    partial[c] = chunk_sum(x + begin, n - begin < kSumChunk ? n - begin : kSumChunk);
  }
  double total = 0;
  for (double s : partial) total += s;
  return total;
}

template <class T>
void sum_kernel(const ReduceParams& p, bool mean) {
  const T* x = static_cast<const T*>(p.x);
  T* out = static_cast<T*>(p.out);
  const int64_t R = p.reduce, inner = p.inner, outer = p.outer;
  const double scale = mean ? 1.0 / static_cast<double>(R) : 1.0;
  const bool big = outer * R * inner >= kParallelMin;
  if (R == 0) {
    for (int64_t i = 0; i < outer * inner; ++i) out[i] = static_cast<T>(mean ? std::numeric_limits<double>::quiet_NaN() : 0.0);
    return;
  }
  if (inner == 1) {
    // Few long rows: threads share each row's chunks; many rows: threads share rows.
    if (outer < 8 && big) {
      for (int64_t o = 0; o < outer; ++o) out[o] = static_cast<T>(row_sum_threaded(x + o * R, R) * scale);
    } else {
#pragma omp parallel for schedule(static) if (big)
      for (int64_t o = 0; o < outer; ++o) out[o] = static_cast<T>(row_sum(x + o * R, R) * scale);
    }
    return;
  }
  const int64_t blocks = (inner + kLanes - 1) / kLanes;
#pragma omp parallel for schedule(static) if (big)
  for (int64_t item = 0; item < outer * blocks; ++item) {
    const int64_t o = item / blocks, i0 = (item % blocks) * kLanes;
    const int64_t lanes = inner - i0 < kLanes ? inner - i0 : kLanes;
    double acc[kLanes] = {};
    const T* base = x + o * R * inner + i0;
    for (int64_t r = 0; r < R; ++r)
      for (int64_t l = 0; l < lanes; ++l) acc[l] += static_cast<double>(base[r * inner + l]);
    for (int64_t l = 0; l < lanes; ++l) out[o * inner + i0 + l] = static_cast<T>(acc[l] * scale);
  }
}

// max/min/argmax: first occurrence wins ties; the first NaN wins over everything, like
// PyTorch.
template <class T, bool kMax>
void extreme_kernel(const ReduceParams& p, bool write_values) {
  const T* x = static_cast<const T*>(p.x);
  const int64_t R = p.reduce, inner = p.inner, outer = p.outer;
  GLIA_CHECK(R > 0, "cpu kernel 'reduce': " << (kMax ? "max/argmax" : "min") << " over an empty axis (reduce = 0)");
  int64_t* indices = write_values ? p.indices : static_cast<int64_t*>(p.out);
  T* values = write_values ? static_cast<T*>(p.out) : nullptr;
  const int64_t blocks = (inner + kLanes - 1) / kLanes;
#pragma omp parallel for schedule(static) if (outer * R * inner >= kParallelMin)
  for (int64_t item = 0; item < outer * blocks; ++item) {
    const int64_t o = item / blocks, i0 = (item % blocks) * kLanes;
    const int64_t lanes = inner - i0 < kLanes ? inner - i0 : kLanes;
    const T* base = x + o * R * inner + i0;
    T best[kLanes];
    int64_t where[kLanes] = {};
    for (int64_t l = 0; l < lanes; ++l) best[l] = base[l];
    for (int64_t r = 1; r < R; ++r) {
      for (int64_t l = 0; l < lanes; ++l) {
        const T v = base[r * inner + l];
        const bool better = kMax ? v > best[l] : v < best[l];
        if (best[l] == best[l] && (better || v != v)) {
          best[l] = v;
          where[l] = r;
        }
      }
    }
    for (int64_t l = 0; l < lanes; ++l) {
      if (values) values[o * inner + i0 + l] = best[l];
      if (indices) indices[o * inner + i0 + l] = where[l];
    }
  }
}

}  // namespace

void reduce(const ReduceParams& p) {
  GLIA_CHECK(p.outer >= 0 && p.reduce >= 0 && p.inner >= 0,
             "cpu kernel 'reduce': negative shape [outer " << p.outer << ", reduce " << p.reduce << ", inner "
                                                           << p.inner << "]");
  if (p.outer == 0 || p.inner == 0) return;
  dispatch_float(p.dtype, "reduce", [&](auto tag) {
    using T = typename decltype(tag)::type;
    switch (p.op) {
      case ReduceOp::sum: return sum_kernel<T>(p, false);
      case ReduceOp::mean: return sum_kernel<T>(p, true);
      case ReduceOp::max: return extreme_kernel<T, true>(p, true);
      case ReduceOp::min: return extreme_kernel<T, false>(p, true);
      case ReduceOp::argmax: return extreme_kernel<T, true>(p, false);
    }
    GLIA_FAIL("cpu kernel 'reduce': unknown op " << static_cast<int>(p.op));
  });
}

}  // namespace glia::kernels::cpu
