// Hand-written softmax family (kernels/cuda/softmax.cu) on sim (and cuda) against a
// double reference: softmax / log-softmax forward and backward with rows longer than a
// block and with inner > 1; cross-entropy with index and probability targets and label
// smoothing, forward and backward; binary cross-entropy with logits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/softmax.h"
#include "tests/kernels_sim/backends.h"
#include "tests/support/random_data.h"

namespace glia::test {
namespace {

class SoftmaxSim : public KernelTest {};

struct Shape {
  int64_t outer, dim, inner;
};

// Rows of 300 are longer than the 256-thread block; inner 5 takes the column kernel.
const Shape kShapes[] = {{4, 300, 1}, {3, 7, 1}, {3, 7, 5}};

// y over the dim axis of x, in double (log: log-softmax).
std::vector<double> softmax_ref(const Shape& s, const std::vector<double>& x, bool log) {
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
std::vector<double> softmax_backward_ref(const Shape& s, const std::vector<double>& y, const std::vector<double>& gy,
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
void check_softmax(Backend backend, const Shape& s, bool log) {
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
  EXPECT_LE(max_rel_error(y, softmax_ref(s, cast_vector<double>(x), log), 1e-3), tolerance<T>())
      << "log " << log << " dim " << s.dim << " inner " << s.inner;

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

TEST_P(SoftmaxSim, SoftmaxAndLogSoftmaxForwardBackward) {
  for (const Shape& s : kShapes)
    for (bool log : {false, true}) {
      check_softmax<float>(GetParam(), s, log);
      check_softmax<double>(GetParam(), s, log);
    }
}

TEST_P(SoftmaxSim, MoreRowsThanTheGridHasBlocks) {
  // At most 4096 row blocks are launched; block b also handles rows b+4096, ...
  // (unchecked: 4101 blocks run twice in checked mode take seconds).
  sim::set_checked(false);
  check_softmax<float>(GetParam(), Shape{4096 + 5, 3, 1}, false);
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
      << "classes " << classes << " prob " << prob_targets << " smoothing " << smoothing;
  EXPECT_LE(max_rel_error(dgrad.download(), grad_ref, 1e-3), tolerance<T>())
      << "backward, classes " << classes << " prob " << prob_targets << " smoothing " << smoothing;
}

TEST_P(SoftmaxSim, CrossEntropyIndexAndProbabilityTargets) {
  for (int64_t classes : {4, 300})
    for (bool prob : {false, true})
      for (double smoothing : {0.0, 0.1}) {
        check_cross_entropy<float>(GetParam(), 5, classes, prob, smoothing);
        check_cross_entropy<double>(GetParam(), 3, classes, prob, smoothing);
      }
}

TEST_P(SoftmaxSim, CrossEntropyOutOfRangeTargetGivesNaN) {
  // A kernel cannot throw, so a bad class index marks that sample's loss NaN.
  std::vector<float> logits = random_vector<float>(2 * 3, 65);
  DeviceBuffer<float> dlogits(GetParam(), logits), dloss(GetParam(), 2);
  DeviceBuffer<int64_t> dindex(GetParam(), std::vector<int64_t>{1, 3});
  kernels::CrossEntropyParams f;
  f.n = 2;
  f.classes = 3;
  f.logits = dlogits.data();
  f.target_index = dindex.data();
  f.loss = dloss.data();
  kernels::cross_entropy_kernel.get(GetParam())(f);
  std::vector<float> loss = dloss.download();
  EXPECT_FALSE(std::isnan(loss[0]));
  EXPECT_TRUE(std::isnan(loss[1]));
}

// ---- binary cross-entropy with logits ------------------------------------------------------
template <class T>
void check_bce(Backend backend) {
  const int64_t n = 1001;
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

TEST_P(SoftmaxSim, BinaryCrossEntropyWithLogits) {
  check_bce<float>(GetParam());
  check_bce<double>(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Backends, SoftmaxSim, ::testing::ValuesIn(gpu_backends()), backend_param_name);

}  // namespace
}  // namespace glia::test
