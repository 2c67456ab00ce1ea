// CPU softmax family over the middle axis of [outer, dim, inner], and the fused losses on
// logits. Softmax subtracts the row maximum before exp so no exp overflows; sums of exps
// accumulate in double. Rows with inner > 1 are processed kLanes outputs at a time so the
// strided reads stay cache-friendly and vectorise.
#include <cmath>
#include <vector>

#include "kernels/cpu/dispatch.h"
#include "kernels/softmax.h"

namespace glia::kernels::cpu {
namespace {

constexpr int64_t kLanes = 32;

// Calls body(base_offset, lanes) for each block of up to kLanes adjacent inner positions
// of every outer index; element (r, l) of a block lives at base_offset + r*inner + l.
template <class Body>
void for_each_lane_block(int64_t outer, int64_t dim, int64_t inner, Body&& body) {
  const int64_t blocks = (inner + kLanes - 1) / kLanes;
#pragma omp parallel for schedule(static) if (outer * dim * inner >= kParallelMin)
  for (int64_t item = 0; item < outer * blocks; ++item) {
    const int64_t o = item / blocks, i0 = (item % blocks) * kLanes;
    body(o * dim * inner + i0, inner - i0 < kLanes ? inner - i0 : kLanes);
  }
}

// Softmax of contiguous rows (inner == 1, the classifier case): three passes per row.
template <class T>
void softmax_rows(const SoftmaxParams& p) {
  const int64_t dim = p.dim;
#pragma omp parallel for schedule(static) if (p.outer * dim >= kParallelMin)
  for (int64_t o = 0; o < p.outer; ++o) {
    const T* x = static_cast<const T*>(p.x) + o * dim;
    T* y = static_cast<T*>(p.y) + o * dim;
    T mx = x[0];
    for (int64_t r = 1; r < dim; ++r) mx = (x[r] > mx || x[r] != x[r]) ? x[r] : mx;
    double sum = 0;
    if (p.log) {
      for (int64_t r = 0; r < dim; ++r) sum += static_cast<double>(std::exp(x[r] - mx));
      const T log_sum = static_cast<T>(std::log(sum));  // x - mx first: exact for large x
      for (int64_t r = 0; r < dim; ++r) y[r] = (x[r] - mx) - log_sum;
    } else {
      for (int64_t r = 0; r < dim; ++r) {
        y[r] = std::exp(x[r] - mx);
        sum += static_cast<double>(y[r]);
      }
      const T scale = static_cast<T>(1.0 / sum);
      for (int64_t r = 0; r < dim; ++r) y[r] *= scale;
    }
  }
}

template <class T>
void softmax_typed(const SoftmaxParams& p) {
  if (p.inner == 1) return softmax_rows<T>(p);
  const T* x = static_cast<const T*>(p.x);
  T* y = static_cast<T*>(p.y);
  const int64_t dim = p.dim, inner = p.inner;
  for_each_lane_block(p.outer, dim, inner, [&](int64_t base, int64_t lanes) {
    T mx[kLanes];
    double sum[kLanes] = {};
    for (int64_t l = 0; l < lanes; ++l) mx[l] = x[base + l];
    for (int64_t r = 1; r < dim; ++r)
      for (int64_t l = 0; l < lanes; ++l) {
        const T v = x[base + r * inner + l];
        mx[l] = (v > mx[l] || v != v) ? v : mx[l];
      }
    for (int64_t r = 0; r < dim; ++r)
      for (int64_t l = 0; l < lanes; ++l) {
        const int64_t at = base + r * inner + l;
        const T e = std::exp(x[at] - mx[l]);
        sum[l] += static_cast<double>(e);
        if (!p.log) y[at] = e;
      }
    for (int64_t l = 0; l < lanes; ++l) sum[l] = p.log ? std::log(sum[l]) : 1.0 / sum[l];
    for (int64_t r = 0; r < dim; ++r)
      for (int64_t l = 0; l < lanes; ++l) {
        const int64_t at = base + r * inner + l;
        y[at] = p.log ? static_cast<T>(x[at] - mx[l] - static_cast<T>(sum[l])) : static_cast<T>(y[at] * sum[l]);
      }
  });
}

template <class T>
void softmax_backward_typed(const SoftmaxBackwardParams& p) {
  const T* y = static_cast<const T*>(p.y);
  const T* gy = static_cast<const T*>(p.gy);
  T* gx = static_cast<T*>(p.gx);
  const int64_t dim = p.dim, inner = p.inner;
  for_each_lane_block(p.outer, dim, inner, [&](int64_t base, int64_t lanes) {
    double dot[kLanes] = {};  // softmax: sum(gy*y); log_softmax: sum(gy)
    for (int64_t r = 0; r < dim; ++r)
      for (int64_t l = 0; l < lanes; ++l) {
        const int64_t at = base + r * inner + l;
        dot[l] += p.log ? static_cast<double>(gy[at]) : static_cast<double>(gy[at]) * y[at];
      }
    for (int64_t r = 0; r < dim; ++r)
      for (int64_t l = 0; l < lanes; ++l) {
        const int64_t at = base + r * inner + l;
        const T d = static_cast<T>(dot[l]);
        gx[at] = p.log ? gy[at] - std::exp(y[at]) * d : y[at] * (gy[at] - d);
      }
  });
}

void check_shape(const char* op, int64_t outer, int64_t dim, int64_t inner) {
  GLIA_CHECK(outer >= 0 && dim >= 1 && inner >= 0,
             "cpu kernel '" << op << "': bad shape [outer " << outer << ", dim " << dim << ", inner " << inner
                            << "] (dim must be >= 1)");
}

void check_cross_entropy(const CrossEntropyParams& p) {
  GLIA_CHECK(p.n >= 0 && p.classes >= 1,
             "cpu kernel 'cross_entropy': bad shape n=" << p.n << " classes=" << p.classes << " (classes must be >= 1)");
  GLIA_CHECK((p.target_index == nullptr) != (p.target_prob == nullptr),
             "cpu kernel 'cross_entropy': give exactly one of target_index and target_prob");
  GLIA_CHECK(p.label_smoothing >= 0 && p.label_smoothing <= 1,
             "cpu kernel 'cross_entropy': label_smoothing " << p.label_smoothing << " outside [0, 1]");
  if (p.target_index == nullptr) return;
  // Checked serially before the parallel loop: an exception must not leave an OpenMP region.
  for (int64_t i = 0; i < p.n; ++i) {
    const int64_t t = p.target_index[i];
    GLIA_CHECK(t >= 0 && t < p.classes, "cpu kernel 'cross_entropy': target index " << t << " of sample " << i
                                                                                     << " is outside [0, " << p.classes << ")");
  }
}

// The smoothed target distribution of sample i, class c: (1-eps)*target + eps/classes.
template <class T>
inline double smoothed_target(const CrossEntropyParams& p, int64_t i, int64_t c) {
  const double t = p.target_index ? (p.target_index[i] == c ? 1.0 : 0.0)
                                  : static_cast<double>(static_cast<const T*>(p.target_prob)[i * p.classes + c]);
  return (1.0 - p.label_smoothing) * t + p.label_smoothing / static_cast<double>(p.classes);
}

// log(sum(exp(row))) computed stably in double.
template <class T>
double log_sum_exp(const T* row, int64_t classes) {
  double mx = row[0];
  for (int64_t c = 1; c < classes; ++c) mx = (row[c] > mx || row[c] != row[c]) ? row[c] : mx;
  double sum = 0;
  for (int64_t c = 0; c < classes; ++c) sum += std::exp(static_cast<double>(row[c]) - mx);
  return mx + std::log(sum);
}

template <class T>
void cross_entropy_typed(const CrossEntropyParams& p) {
  const T* logits = static_cast<const T*>(p.logits);
  T* loss = static_cast<T*>(p.loss);
  const int64_t C = p.classes;
#pragma omp parallel for schedule(static) if (p.n * C >= kParallelMin)
  for (int64_t i = 0; i < p.n; ++i) {
    const T* row = logits + i * C;
    const double lse = log_sum_exp(row, C);
    double total = 0;  // -sum_c target'_c * log p_c
    for (int64_t c = 0; c < C; ++c) total -= smoothed_target<T>(p, i, c) * (static_cast<double>(row[c]) - lse);
    loss[i] = static_cast<T>(total);
  }
}

// d loss_i / d x_c = p_c * sum(target') - target'_c; sum(target') is 1 for index targets
// and for probability rows that sum to 1.
template <class T>
void cross_entropy_backward_typed(const CrossEntropyBackwardParams& b) {
  const CrossEntropyParams& p = b.forward;
  const T* logits = static_cast<const T*>(p.logits);
  const T* grad_loss = static_cast<const T*>(b.grad_loss);
  T* grad = static_cast<T*>(b.grad_logits);
  const int64_t C = p.classes;
#pragma omp parallel for schedule(static) if (p.n * C >= kParallelMin)
  for (int64_t i = 0; i < p.n; ++i) {
    const T* row = logits + i * C;
    const double lse = log_sum_exp(row, C);
    double target_sum = 0;
    for (int64_t c = 0; c < C; ++c) target_sum += smoothed_target<T>(p, i, c);
    const double g = grad_loss[i];
    for (int64_t c = 0; c < C; ++c) {
      const double prob = std::exp(static_cast<double>(row[c]) - lse);
      grad[i * C + c] = static_cast<T>(g * (prob * target_sum - smoothed_target<T>(p, i, c)));
    }
  }
}

template <class T>
inline T stable_sigmoid(T x) {
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

}  // namespace

void softmax(const SoftmaxParams& p) {
  dispatch_float(p.dtype, p.log ? "log_softmax" : "softmax", [&](auto tag) {
    check_shape(p.log ? "log_softmax" : "softmax", p.outer, p.dim, p.inner);
    softmax_typed<typename decltype(tag)::type>(p);
  });
}

void softmax_backward(const SoftmaxBackwardParams& p) {
  const char* op = p.log ? "log_softmax_backward" : "softmax_backward";
  dispatch_float(p.dtype, op, [&](auto tag) {
    check_shape(op, p.outer, p.dim, p.inner);
    softmax_backward_typed<typename decltype(tag)::type>(p);
  });
}

void cross_entropy(const CrossEntropyParams& p) {
  dispatch_float(p.dtype, "cross_entropy", [&](auto tag) {
    check_cross_entropy(p);
    cross_entropy_typed<typename decltype(tag)::type>(p);
  });
}

void cross_entropy_backward(const CrossEntropyBackwardParams& p) {
  dispatch_float(p.forward.dtype, "cross_entropy_backward", [&](auto tag) {
    check_cross_entropy(p.forward);
    cross_entropy_backward_typed<typename decltype(tag)::type>(p);
  });
}

void bce_with_logits(const BceWithLogitsParams& p) {
  dispatch_float(p.dtype, "bce_with_logits", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = static_cast<const T*>(p.logits);
    const T* t = static_cast<const T*>(p.target);
    T* loss = static_cast<T*>(p.loss);
#pragma omp parallel for schedule(static) if (p.n >= kParallelMin)
    for (int64_t i = 0; i < p.n; ++i)
      loss[i] = std::max(x[i], T(0)) - x[i] * t[i] + std::log1p(std::exp(-std::abs(x[i])));
  });
}

void bce_with_logits_backward(const BceWithLogitsBackwardParams& p) {
  dispatch_float(p.forward.dtype, "bce_with_logits_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = static_cast<const T*>(p.forward.logits);
    const T* t = static_cast<const T*>(p.forward.target);
    const T* g = static_cast<const T*>(p.grad_loss);
    T* gx = static_cast<T*>(p.grad_logits);
#pragma omp parallel for schedule(static) if (p.forward.n >= kParallelMin)
    for (int64_t i = 0; i < p.forward.n; ++i) gx[i] = (stable_sigmoid(x[i]) - t[i]) * g[i];
  });
}

}  // namespace glia::kernels::cpu
