// Reductions (kernels/reduce.h) and the softmax family (kernels/softmax.h: softmax,
// log-softmax, cross-entropy with index or probability targets and label smoothing,
// binary cross-entropy with logits, each with its backward) on every backend against
// double references, over the cases of cases.h; plus what reductions promise beyond
// values: first index on ties, bit-identical sums, grids with more rows than blocks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/reduce.h"
#include "kernels/softmax.h"
#include "tests/kernels_ops/harness.h"

namespace glia::test::ops {
namespace {

using kernels::ReduceOp;


class ReduceOps : public OpTest {};

struct Shape {
  int64_t outer, reduce, inner;
};
Shape shape_of(const RowsCase& c) { return {c.outer, c.dim, c.inner}; }

struct Result {
  std::vector<double> values;      // sum/mean/max/min
  std::vector<int64_t> positions;  // max/min/argmax: first extreme
  std::vector<double> abs_sums;    // sum of |x|, scales the tolerance of sums
};

Result reference(ReduceOp op, const Shape& s, const std::vector<double>& x) {
  Result r;
  for (int64_t o = 0; o < s.outer; ++o) {
    for (int64_t i = 0; i < s.inner; ++i) {
      double sum = 0, abs_sum = 0, best = x[o * s.reduce * s.inner + i];
      int64_t at = 0;
      for (int64_t j = 0; j < s.reduce; ++j) {
        double v = x[(o * s.reduce + j) * s.inner + i];
        sum += v;
        abs_sum += std::fabs(v);
        bool better = op == ReduceOp::min ? v < best : v > best;
        if (better) best = v, at = j;
      }
      r.values.push_back(op == ReduceOp::sum ? sum : op == ReduceOp::mean ? sum / s.reduce : best);
      r.positions.push_back(at);
      r.abs_sums.push_back(op == ReduceOp::mean ? abs_sum / s.reduce : abs_sum);
    }
  }
  return r;
}

template <class T>
void check_reduce(Backend backend, ReduceOp op, const Shape& s, const std::vector<T>& x) {
  const size_t outputs = static_cast<size_t>(s.outer * s.inner);
  Result ref = reference(op, s, cast_vector<double>(x));
  DeviceBuffer<T> dx(backend, x);
  DeviceBuffer<T> dout(backend, outputs);
  DeviceBuffer<int64_t> dindex(backend, outputs);
  kernels::ReduceParams p;
  p.dtype = dtype_of<T>::value;
  p.op = op;
  p.outer = s.outer;
  p.reduce = s.reduce;
  p.inner = s.inner;
  p.x = dx.data();
  bool extreme = op == ReduceOp::max || op == ReduceOp::min;
  if (op == ReduceOp::argmax) {
    p.out = dindex.data();
  } else {
    p.out = dout.data();
    if (extreme) p.indices = dindex.data();
  }
  kernels::reduce_kernel.get(backend)(p);
  std::string where = std::string(backend_name(backend)) + " " + dtype_name(dtype_of<T>::value) + " op " + std::to_string(static_cast<int>(op)) + " shape [" + std::to_string(s.outer) + ", " +
                      std::to_string(s.reduce) + ", " + std::to_string(s.inner) + "]";
  if (op != ReduceOp::argmax) {
    std::vector<T> got = dout.download();
    for (size_t i = 0; i < outputs; ++i) {
      if (extreme) {
        ASSERT_EQ(static_cast<double>(got[i]), ref.values[i]) << where << " output " << i;
      } else {  // summation order differs from the reference: error relative to sum |x|
        ASSERT_NEAR(static_cast<double>(got[i]), ref.values[i], tolerance<T>() * ref.abs_sums[i]) << where << " output " << i;
      }
    }
  }
  if (op == ReduceOp::argmax || extreme) {
    std::vector<int64_t> got = dindex.download();
    for (size_t i = 0; i < outputs; ++i) ASSERT_EQ(got[i], ref.positions[i]) << where << " index " << i;
  }
}

TEST_P(ReduceOps, EveryOpEveryCase) {
  for (const RowsCase& c : kReduceCases)
    for (ReduceOp op : kReduceOps) {
      const Shape s = shape_of(c);
      check_reduce<float>(GetParam(), op, s, random_vector<float>(size_t(s.outer * s.reduce * s.inner), 41));
      check_reduce<double>(GetParam(), op, s, random_vector<double>(size_t(s.outer * s.reduce * s.inner), 42));
    }
}

TEST_P(ReduceOps, MoreRowsThanTheGridHasBlocks) {
  // The row kernel launches at most 4096 blocks; block b also reduces rows b+4096, ...
  // (unchecked: that many blocks run twice in checked mode take seconds).
  sim::set_checked(false);
  const Shape s{4096 + 37, 3, 1};
  check_reduce<float>(GetParam(), ReduceOp::sum, s, random_vector<float>(s.outer * s.reduce, 45));
  check_reduce<float>(GetParam(), ReduceOp::argmax, s, random_vector<float>(s.outer * s.reduce, 46));
}

TEST_P(ReduceOps, TiesReportTheFirstIndex) {
  // Small integers in [-3, 3]: every row and column has repeated extremes, spread over
  // different threads, lanes and warps.
  for (const Shape& s : {Shape{2, 300, 1}, Shape{2, 50, 33}}) {
    std::vector<float> x = cast_vector<float>(random_ints(s.outer * s.reduce * s.inner, 43, -3, 4));
    for (ReduceOp op : {ReduceOp::max, ReduceOp::min, ReduceOp::argmax}) check_reduce<float>(GetParam(), op, s, x);
  }
}

TEST_P(ReduceOps, SumIsBitIdenticalAcrossRuns) {
  const Shape s{2, 900, 1};
  std::vector<float> x = random_vector<float>(s.outer * s.reduce, 44, -1e4, 1e4);
  DeviceBuffer<float> dx(GetParam(), x), first(GetParam(), 2), second(GetParam(), 2);
  kernels::ReduceParams p;
  p.outer = s.outer;
  p.reduce = s.reduce;
  p.x = dx.data();
  p.out = first.data();
  kernels::reduce_kernel.get(GetParam())(p);
  p.out = second.data();
  kernels::reduce_kernel.get(GetParam())(p);
  std::vector<float> a = first.download(), b = second.download();
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), sizeof(float) * a.size()));
}

TEST_P(ReduceOps, EmptyAxisSumIsZeroAndMaxIsAnError) {
  DeviceBuffer<float> dx(GetParam(), 1), dout(GetParam(), 3);
  kernels::ReduceParams p;
  p.outer = 3;
  p.reduce = 0;
  p.x = dx.data();
  p.out = dout.data();
  kernels::reduce_kernel.get(GetParam())(p);
  for (float v : dout.download()) EXPECT_EQ(v, 0.0f);
  p.op = ReduceOp::max;
  EXPECT_THROW(kernels::reduce_kernel.get(GetParam())(p), Error);
}


class SoftmaxOps : public OpTest {};

struct SmShape {
  int64_t outer, dim, inner;
};

SmShape sm_shape_of(const RowsCase& c) { return {c.outer, c.dim, c.inner}; }

// y over the dim axis of x, in double (log: log-softmax).
std::vector<double> softmax_ref(const SmShape& s, const std::vector<double>& x, bool log) {
  std::vector<double> y(x.size());
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t i = 0; i < s.inner; ++i) {
      auto at = [&](int64_t j) { return (o * s.dim + j) * s.inner + i; };
      double m = -INFINITY, sum = 0;
      for (int64_t j = 0; j < s.dim; ++j) m = std::max(m, x[at(j)]);
      for (int64_t j = 0; j < s.dim; ++j) sum += std::exp(x[at(j)] - m);
      for (int64_t j = 0; j < s.dim; ++j) y[at(j)] = log ? x[at(j)] - m - std::log(sum) : std::exp(x[at(j)] - m) / sum;
    }
  return y;
}

// gx, and in `scale` the size of the terms gx is made of (|gy| and |y * sum|): float
// rounding is relative to those, not to gx, which cancels to near 0 for some elements.
std::vector<double> softmax_backward_ref(const SmShape& s, const std::vector<double>& y, const std::vector<double>& gy,
                                         bool log, std::vector<double>& scale) {
  std::vector<double> gx(y.size());
  scale.assign(y.size(), 0.0);
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t i = 0; i < s.inner; ++i) {
      auto at = [&](int64_t j) { return (o * s.dim + j) * s.inner + i; };
      double total = 0, abs_total = 0;
      for (int64_t j = 0; j < s.dim; ++j) {
        double term = log ? gy[at(j)] : gy[at(j)] * y[at(j)];
        total += term;
        abs_total += std::fabs(term);
      }
      for (int64_t j = 0; j < s.dim; ++j) {
        double yj = y[at(j)], gj = gy[at(j)];
        gx[at(j)] = log ? gj - std::exp(yj) * total : yj * (gj - total);
        scale[at(j)] = log ? std::fabs(gj) + std::exp(yj) * abs_total : std::fabs(yj) * (std::fabs(gj) + abs_total);
      }
    }
  return gx;
}

template <class T>
void check_softmax(Backend backend, const SmShape& s, bool log) {
  size_t n = static_cast<size_t>(s.outer * s.dim * s.inner);
  std::vector<T> x = random_vector<T>(n, 51, -6, 6), gy = random_vector<T>(n, 52);
  DeviceBuffer<T> dx(backend, x), dy(backend, n), dgy(backend, gy), dgx(backend, n);
  kernels::SoftmaxParams p;
  p.dtype = dtype_of<T>::value;
  p.log = log;
  p.outer = s.outer;
  p.dim = s.dim;
  p.inner = s.inner;
  p.x = dx.data();
  p.y = dy.data();
  kernels::softmax_kernel.get(backend)(p);
  std::vector<T> y = dy.download();
  // log-softmax is x - max - log(sum): error absolute, relative to those O(10) terms.
  EXPECT_LE(max_rel_error(y, softmax_ref(s, cast_vector<double>(x), log), log ? 10.0 : 1e-3), tolerance<T>())
      << backend_name(backend) << " log " << log << " dim " << s.dim << " inner " << s.inner;

  // Backward from the kernel's own y (as autograd does), against the reference on that y.
  kernels::SoftmaxBackwardParams b;
  b.dtype = p.dtype;
  b.log = log;
  b.outer = s.outer;
  b.dim = s.dim;
  b.inner = s.inner;
  b.y = dy.data();
  b.gy = dgy.data();
  b.gx = dgx.data();
  kernels::softmax_backward_kernel.get(backend)(b);
  std::vector<double> scale;
  std::vector<double> gx_ref = softmax_backward_ref(s, cast_vector<double>(y), cast_vector<double>(gy), log, scale);
  std::vector<T> gx = dgx.download();
  for (size_t i = 0; i < n; ++i)
    ASSERT_NEAR(double(gx[i]), gx_ref[i], tolerance<T>() * scale[i])
        << "backward element " << i << ", log " << log << " dim " << s.dim << " inner " << s.inner;
}

TEST_P(SoftmaxOps, SoftmaxAndLogSoftmaxForwardBackward) {
  for (const RowsCase& c : kSoftmaxCases)
    for (bool log : {false, true}) {
      const SmShape s = sm_shape_of(c);
      check_softmax<float>(GetParam(), s, log);
      check_softmax<double>(GetParam(), s, log);
    }
}

TEST_P(SoftmaxOps, MoreRowsThanTheGridHasBlocks) {
  // At most 4096 row blocks are launched; block b also handles rows b+4096, ...
  // (unchecked: 4101 blocks run twice in checked mode take seconds).
  sim::set_checked(false);
  check_softmax<float>(GetParam(), SmShape{4096 + 5, 3, 1}, false);
}

// ---- cross-entropy -------------------------------------------------------------------------
template <class T>
void check_cross_entropy(Backend backend, int64_t n, int64_t classes, bool prob_targets, double smoothing) {
  std::vector<T> logits = random_vector<T>(n * classes, 61, -5, 5), grad_loss = random_vector<T>(n, 62);
  std::vector<int64_t> index = random_ints(n, 63, 0, classes);
  std::vector<T> prob = random_vector<T>(n * classes, 64, 0.01, 1.0);
  for (int64_t i = 0; i < n; ++i) {  // rows of prob sum to 1
    T sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += prob[i * classes + c];
    for (int64_t c = 0; c < classes; ++c) prob[i * classes + c] /= sum;
  }
  // Reference: q = (1-eps)*target + eps/C; loss = sum q*(lse - x); grad = g*(p*sum(q) - q).
  std::vector<double> loss_ref(n), grad_ref(n * classes);
  for (int64_t i = 0; i < n; ++i) {
    double m = -INFINITY, sum = 0, q_total = 0, loss = 0;
    for (int64_t c = 0; c < classes; ++c) m = std::max(m, double(logits[i * classes + c]));
    for (int64_t c = 0; c < classes; ++c) sum += std::exp(logits[i * classes + c] - m);
    double lse = m + std::log(sum);
    auto q = [&](int64_t c) {
      double t = prob_targets ? double(prob[i * classes + c]) : (c == index[i] ? 1.0 : 0.0);
      return (1 - smoothing) * t + smoothing / classes;
    };
    for (int64_t c = 0; c < classes; ++c) q_total += q(c), loss += q(c) * (lse - logits[i * classes + c]);
    loss_ref[i] = loss;
    for (int64_t c = 0; c < classes; ++c)
      grad_ref[i * classes + c] = grad_loss[i] * (std::exp(logits[i * classes + c] - lse) * q_total - q(c));
  }
  DeviceBuffer<T> dlogits(backend, logits), dprob(backend, prob), dgrad_loss(backend, grad_loss);
  DeviceBuffer<int64_t> dindex(backend, index);
  DeviceBuffer<T> dloss(backend, n), dgrad(backend, n * classes);
  kernels::CrossEntropyBackwardParams p;
  kernels::CrossEntropyParams& f = p.forward;
  f.dtype = dtype_of<T>::value;
  f.n = n;
  f.classes = classes;
  f.logits = dlogits.data();
  if (prob_targets) f.target_prob = dprob.data();
  else f.target_index = dindex.data();
  f.label_smoothing = smoothing;
  f.loss = dloss.data();
  kernels::cross_entropy_kernel.get(backend)(f);
  p.grad_loss = dgrad_loss.data();
  p.grad_logits = dgrad.data();
  kernels::cross_entropy_backward_kernel.get(backend)(p);
  EXPECT_LE(max_rel_error(dloss.download(), loss_ref, 1e-3), tolerance<T>())
      << backend_name(backend) << " classes " << classes << " prob " << prob_targets << " smoothing " << smoothing;
  EXPECT_LE(max_rel_error(dgrad.download(), grad_ref, 1e-3), tolerance<T>())
      << "backward, classes " << classes << " prob " << prob_targets << " smoothing " << smoothing;
}

TEST_P(SoftmaxOps, CrossEntropyIndexAndProbabilityTargets) {
  for (const CrossEntropyCase& c : kCrossEntropyCases) {
    check_cross_entropy<float>(GetParam(), c.n, c.classes, c.prob_targets, c.label_smoothing);
    check_cross_entropy<double>(GetParam(), c.n, c.classes, c.prob_targets, c.label_smoothing);
  }
}

TEST_P(SoftmaxOps, CrossEntropyOutOfRangeTargetIsAnErrorOnCpuAndNaNOnTheGpu) {
  // A GPU kernel cannot throw, so a bad class index marks that sample's loss NaN; the CPU
  // kernel names the index and the sample instead.
  std::vector<float> logits = random_vector<float>(2 * 3, 65);
  DeviceBuffer<float> dlogits(GetParam(), logits), dloss(GetParam(), 2);
  DeviceBuffer<int64_t> dindex(GetParam(), std::vector<int64_t>{1, 3});
  kernels::CrossEntropyParams f;
  f.n = 2;
  f.classes = 3;
  f.logits = dlogits.data();
  f.target_index = dindex.data();
  f.loss = dloss.data();
  if (GetParam() == Backend::cpu) {
    EXPECT_THROW(kernels::cross_entropy_kernel.get(GetParam())(f), Error);
    return;
  }
  kernels::cross_entropy_kernel.get(GetParam())(f);
  std::vector<float> loss = dloss.download();
  EXPECT_FALSE(std::isnan(loss[0]));
  EXPECT_TRUE(std::isnan(loss[1]));
}

// ---- binary cross-entropy with logits ------------------------------------------------------
template <class T>
void check_bce(Backend backend, int64_t n) {
  std::vector<T> x = random_vector<T>(n, 71, -8, 8), t = random_vector<T>(n, 72, 0.0, 1.0, 0.0),
                 g = random_vector<T>(n, 73);
  std::vector<double> loss_ref(n), grad_ref(n);
  for (int64_t i = 0; i < n; ++i) {
    double xi = x[i], ti = t[i];
    loss_ref[i] = std::max(xi, 0.0) - xi * ti + std::log1p(std::exp(-std::fabs(xi)));
    grad_ref[i] = g[i] * (1 / (1 + std::exp(-xi)) - ti);
  }
  DeviceBuffer<T> dx(backend, x), dt(backend, t), dg(backend, g), dloss(backend, n), dgrad(backend, n);
  kernels::BceWithLogitsBackwardParams p;
  p.forward.dtype = dtype_of<T>::value;
  p.forward.n = n;
  p.forward.logits = dx.data();
  p.forward.target = dt.data();
  p.forward.loss = dloss.data();
  kernels::bce_with_logits_kernel.get(backend)(p.forward);
  p.grad_loss = dg.data();
  p.grad_logits = dgrad.data();
  kernels::bce_with_logits_backward_kernel.get(backend)(p);
  // The loss cancels where x*t ~ max(x, 0) and the gradient where sigmoid(x) ~ t, so only
  // absolute error means something there (~1e-6 in float for |x| <= 8): floor 0.1.
  EXPECT_LE(max_rel_error(dloss.download(), loss_ref, 0.1), 10 * tolerance<T>());
  EXPECT_LE(max_rel_error(dgrad.download(), grad_ref, 0.1), 10 * tolerance<T>());
}

TEST_P(SoftmaxOps, BinaryCrossEntropyWithLogits) {
  for (int64_t n : kBceLengths) {
    check_bce<float>(GetParam(), n);
    check_bce<double>(GetParam(), n);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ReduceOps, ::testing::ValuesIn(harness_backends()), backend_param_name);
INSTANTIATE_TEST_SUITE_P(Backends, SoftmaxOps, ::testing::ValuesIn(harness_backends()), backend_param_name);

}  // namespace
}  // namespace glia::test::ops
