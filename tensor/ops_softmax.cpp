// softmax, log_softmax and the fused losses on logits. The kernels work on a contiguous
// [outer, dim, inner] buffer; the losses return one value per sample (or element) and the
// reduction (none / mean / sum) is done here with the reduction ops.
#include "kernels/softmax.h"
#include "tensor/autocast.h"
#include "tensor/autograd.h"
#include "tensor/detail.h"
#include "tensor/ops.h"

namespace glia {
namespace {

struct Axis {
  int64_t outer = 1, dim = 1, inner = 1;
};

Axis split_axis(const Tensor& x, int64_t d) {
  Axis a;
  for (int64_t i = 0; i < x.dim(); ++i) {
    const int64_t s = x.sizes()[static_cast<size_t>(i)];
    if (i < d) a.outer *= s;
    if (i == d) a.dim = s;
    if (i > d) a.inner *= s;
  }
  return a;
}

Tensor softmax_impl(const char* op, const Tensor& x, int64_t dim, bool log) {
  detail::check_defined(op, x);
  if (autocast_active()) {
    AutocastCall call(op, {x});
    return softmax_impl(op, call.cast(x), dim, log);
  }
  detail::check_floating(op, x);
  const int64_t d = normalize_dim(op, dim, x.dim(), x.sizes());
  Tensor xc = x.contiguous();
  Tensor y = empty(x.sizes(), x.dtype(), x.device());
  const Axis axis = split_axis(x, d);
  if (y.numel() > 0) {
    kernels::SoftmaxParams p;
    p.dtype = x.dtype();
    p.log = log;
    p.outer = axis.outer;
    p.dim = axis.dim;
    p.inner = axis.inner;
    p.x = xc.data_ptr();
    p.y = y.data_ptr();
    kernels::select(kernels::softmax_kernel, x.device())(p);
  }
  record(op, y, {x}, {y}, [axis, log](const Tensor& g, const FunctionNode& n) {
    Tensor ys = n.saved(0);
    Tensor gc = g.contiguous();
    Tensor gx = empty(ys.sizes(), ys.dtype(), ys.device());
    if (gx.numel() > 0) {
      kernels::SoftmaxBackwardParams p;
      p.dtype = ys.dtype();
      p.log = log;
      p.outer = axis.outer;
      p.dim = axis.dim;
      p.inner = axis.inner;
      p.y = ys.data_ptr();
      p.gy = gc.data_ptr();
      p.gx = gx.data_ptr();
      kernels::select(kernels::softmax_backward_kernel, ys.device())(p);
    }
    return std::vector<Tensor>{gx};
  });
  return y;
}

Tensor reduce_loss(const Tensor& per_item, Reduction reduction) {
  switch (reduction) {
    case Reduction::none: return per_item;
    case Reduction::sum: return sum(per_item);
    case Reduction::mean: return mean(per_item);
  }
  return per_item;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl("softmax", x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl("log_softmax", x, dim, true); }

Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction, double label_smoothing) {
  if (autocast_active()) {
    AutocastCall call("cross_entropy", {logits, target});
    return cross_entropy(call.cast(logits), call.cast(target), reduction, label_smoothing);
  }
  const char* op = "cross_entropy";
  detail::check_defined(op, logits, "logits");
  detail::check_defined(op, target, "target");
  detail::check_floating(op, logits);
  GLIA_CHECK(logits.dim() == 2, op << ": logits must be [N, C], got " << shape_str(logits.sizes()));
  GLIA_CHECK(label_smoothing >= 0 && label_smoothing <= 1,
             op << ": label_smoothing " << label_smoothing << " is outside [0, 1]");
  GLIA_CHECK(target.device() == logits.device(), op << ": logits on " << device_name(logits.device())
                                                    << ", target on " << device_name(target.device()));
  const int64_t n = logits.size(0), classes = logits.size(1);
  const bool by_index = target.dtype() == DType::i64;
  if (by_index) {
    GLIA_CHECK(target.dim() == 1 && target.size(0) == n,
               op << ": class-index target must be [" << n << "] for logits " << shape_str(logits.sizes())
                  << ", got " << shape_str(target.sizes()));
    for (int64_t t : target.to_vector<int64_t>()) {
      GLIA_CHECK(t >= 0 && t < classes, op << ": target class " << t << " is outside [0, " << classes
                                           << ") for logits " << shape_str(logits.sizes()));
    }
  } else {
    GLIA_CHECK(target.dtype() == logits.dtype(),
               op << ": target must be int64 class indices or probabilities of the logits' dtype "
                  << dtype_name(logits.dtype()) << ", got " << dtype_name(target.dtype()));
    GLIA_CHECK(target.sizes() == logits.sizes(), op << ": probability target " << shape_str(target.sizes())
                                                    << " must have the logits' shape " << shape_str(logits.sizes()));
  }
  Tensor lc = logits.contiguous(), tc = target.contiguous();
  Tensor loss = empty({n}, logits.dtype(), logits.device());
  kernels::CrossEntropyParams p;
  p.dtype = logits.dtype();
  p.n = n;
  p.classes = classes;
  p.logits = lc.data_ptr();
  if (by_index) {
    p.target_index = static_cast<const int64_t*>(tc.data_ptr());
  } else {
    p.target_prob = tc.data_ptr();
  }
  p.label_smoothing = label_smoothing;
  p.loss = loss.data_ptr();
  if (n > 0) kernels::select(kernels::cross_entropy_kernel, logits.device())(p);
  record(op, loss, {logits}, {lc, tc}, [by_index, label_smoothing](const Tensor& g, const FunctionNode& node) {
    Tensor l = node.saved(0), t = node.saved(1), gc = g.contiguous();
    Tensor gx = empty(l.sizes(), l.dtype(), l.device());
    kernels::CrossEntropyBackwardParams b;
    b.forward.dtype = l.dtype();
    b.forward.n = l.size(0);
    b.forward.classes = l.size(1);
    b.forward.logits = l.data_ptr();
    if (by_index) {
      b.forward.target_index = static_cast<const int64_t*>(t.data_ptr());
    } else {
      b.forward.target_prob = t.data_ptr();
    }
    b.forward.label_smoothing = label_smoothing;
    b.grad_loss = gc.data_ptr();
    b.grad_logits = gx.data_ptr();
    if (gx.numel() > 0) kernels::select(kernels::cross_entropy_backward_kernel, l.device())(b);
    return std::vector<Tensor>{gx};
  });
  return reduce_loss(loss, reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, Reduction reduction) {
  const char* op = "binary_cross_entropy_with_logits";
  if (autocast_active()) {
    AutocastCall call(op, {logits, target});
    return binary_cross_entropy_with_logits(call.cast(logits), call.cast(target), reduction);
  }
  detail::check_compatible(op, logits, target);
  detail::check_floating(op, logits);
  GLIA_CHECK(target.sizes() == logits.sizes(), op << ": target " << shape_str(target.sizes())
                                                  << " must have the logits' shape " << shape_str(logits.sizes()));
  Tensor lc = logits.contiguous(), tc = target.contiguous();
  Tensor loss = empty(logits.sizes(), logits.dtype(), logits.device());
  kernels::BceWithLogitsParams p;
  p.dtype = logits.dtype();
  p.n = logits.numel();
  p.logits = lc.data_ptr();
  p.target = tc.data_ptr();
  p.loss = loss.data_ptr();
  if (p.n > 0) kernels::select(kernels::bce_with_logits_kernel, logits.device())(p);
  record(op, loss, {logits}, {lc, tc}, [](const Tensor& g, const FunctionNode& node) {
    Tensor l = node.saved(0), t = node.saved(1), gc = g.contiguous();
    Tensor gx = empty(l.sizes(), l.dtype(), l.device());
    kernels::BceWithLogitsBackwardParams b;
    b.forward.dtype = l.dtype();
    b.forward.n = l.numel();
    b.forward.logits = l.data_ptr();
    b.forward.target = t.data_ptr();
    b.grad_loss = gc.data_ptr();
    b.grad_logits = gx.data_ptr();
    if (gx.numel() > 0) kernels::select(kernels::bce_with_logits_backward_kernel, l.device())(b);
    return std::vector<Tensor>{gx};
  });
  return reduce_loss(loss, reduction);
}

}  // namespace glia
