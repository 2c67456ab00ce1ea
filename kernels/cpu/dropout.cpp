// CPU dropout and stochastic depth. Each block of 4 elements shares one Philox call.
#include "kernels/dropout.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/dispatch.h"
#include "kernels/error.h"

namespace glia::kernels::cpu {
namespace {

void check_p(double p, const char* op) {
  GLIA_CHECK(p >= 0 && p <= 1, op << ": drop probability p=" << p << " must be in [0, 1]");
}

// out[i] = keep(i) ? in[i] * scale : 0, and mask[i] = keep(i) when mask is given.
template <class T>
void apply_mask(int64_t n, double p, uint64_t seed, uint64_t offset, const T* in, T* out, uint8_t* mask) {
  const uint32_t threshold = dropout_threshold(p);
  const T scale = p < 1 ? T(1.0 / (1.0 - p)) : T(0);
  const int64_t blocks = (n + 3) / 4;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t b = 0; b < blocks; ++b) {
    const Philox4 r = philox4x32(seed, offset, uint64_t(b));
    for (int64_t k = 0; k < 4 && 4 * b + k < n; ++k) {
      const int64_t i = 4 * b + k;
      const bool keep = dropout_keep_bits(r.v[k], threshold);
      out[i] = keep ? in[i] * scale : T(0);
      if (mask) mask[i] = keep ? 1 : 0;
    }
  }
}

}  // namespace

void dropout(const DropoutParams& p) {
  check_p(p.p, "dropout");
  GLIA_CHECK(p.n >= 0, "dropout: negative size " << p.n);
  dispatch_float(p.dtype, "dropout", [&](auto tag) {
    using T = typename decltype(tag)::type;
    apply_mask(p.n, p.p, p.seed, p.offset, static_cast<const T*>(p.x), static_cast<T*>(p.y), p.mask);
  });
}

void dropout_backward(const DropoutBackwardParams& p) {
  check_p(p.p, "dropout_backward");
  GLIA_CHECK(p.n >= 0, "dropout_backward: negative size " << p.n);
  dispatch_float(p.dtype, "dropout_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    apply_mask(p.n, p.p, p.seed, p.offset, static_cast<const T*>(p.gy), static_cast<T*>(p.gx), nullptr);
  });
}

void stochastic_depth(const StochasticDepthParams& p) {
  check_p(p.p, "stochastic_depth");
  GLIA_CHECK(p.batch >= 0 && p.per_sample >= 0,
             "stochastic_depth: negative size batch=" << p.batch << " per_sample=" << p.per_sample);
  dispatch_float(p.dtype, "stochastic_depth", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = static_cast<const T*>(p.x);
    T* y = static_cast<T*>(p.y);
    const T scale = p.p < 1 ? T(1.0 / (1.0 - p.p)) : T(0);
    const uint32_t threshold = dropout_threshold(p.p);
    std::vector<T> factor(size_t(p.batch));
    for (int64_t b = 0; b < p.batch; ++b)
      factor[size_t(b)] = dropout_keep(p.seed, p.offset, uint64_t(b), threshold) ? scale : T(0);
    // One parallel region over (sample, chunk), each chunk a plain scale or fill that
    // vectorises: a region per sample, or a select per element, made this slower than
    // the composed broadcast multiply it replaces.
    constexpr int64_t kChunk = 1 << 14;
    const int64_t chunks = (p.per_sample + kChunk - 1) / kChunk;
#pragma omp parallel for collapse(2) schedule(static) if (p.batch * p.per_sample > kParallelMin)
    for (int64_t b = 0; b < p.batch; ++b) {
      for (int64_t ch = 0; ch < chunks; ++ch) {
        const int64_t begin = b * p.per_sample + ch * kChunk;
        const int64_t end = b * p.per_sample + std::min(p.per_sample, (ch + 1) * kChunk);
        const T f = factor[size_t(b)];
        if (f == T(0)) {
          std::fill(y + begin, y + end, T(0));
        } else {
          for (int64_t i = begin; i < end; ++i) y[i] = x[i] * f;
        }
      }
    }
  });
}

}  // namespace glia::kernels::cpu
