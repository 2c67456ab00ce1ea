// Reductions over a list of dims. The kernel reduces the middle axis of a contiguous
// [outer, reduce, inner] buffer: when the reduced dims are one adjacent run of a
// contiguous tensor that is the tensor itself; otherwise the kept dims are permuted to
// the front, the reduced ones to the back, and that view is made contiguous.
#include <algorithm>
#include <cmath>

#include "kernels/reduce.h"
#include "tensor/autocast.h"
#include "tensor/autograd.h"
#include "tensor/detail.h"
#include "tensor/ops.h"

namespace glia {
namespace {

using kernels::ReduceOp;

struct ReducePlan {
  std::vector<int64_t> dims;  // normalised, sorted
  Shape keep_shape;           // reduced dims as 1
  Shape out_shape;            // keepdim ? keep_shape : reduced dims removed
  int64_t count = 1;          // elements reduced into each output
};

ReducePlan plan_reduce(const char* op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  ReducePlan plan;
  plan.dims = detail::normalize_dims(op, dims, x);
  if (dims.empty()) {
    for (int64_t d = 0; d < x.dim(); ++d) plan.dims.push_back(d);
  }
  for (int64_t d = 0; d < x.dim(); ++d) {
    const bool reduced = std::binary_search(plan.dims.begin(), plan.dims.end(), d);
    const int64_t s = x.sizes()[static_cast<size_t>(d)];
    plan.keep_shape.push_back(reduced ? 1 : s);
    if (reduced) plan.count *= s;
    if (!reduced || keepdim) plan.out_shape.push_back(reduced ? 1 : s);
  }
  return plan;
}

Tensor run_reduce(const char* op, ReduceOp kind, const Tensor& x, const ReducePlan& plan) {
  detail::check_defined(op, x);
  const bool is_arg = kind == ReduceOp::argmax;
  if (kind == ReduceOp::max || is_arg) {
    GLIA_CHECK(plan.count > 0 || x.numel() == 0, op << ": reducing an empty dim of shape " << shape_str(x.sizes()));
    GLIA_CHECK(x.numel() > 0, op << ": reducing an empty tensor of shape " << shape_str(x.sizes()));
  }
  Tensor out = empty(plan.out_shape, is_arg ? DType::i64 : x.dtype(), x.device());
  if (out.numel() == 0) return out;
  if (plan.count == 0) {  // an empty sum is 0, an empty mean NaN (as in PyTorch)
    detail::fill_contiguous(out, kind == ReduceOp::sum ? 0.0 : std::nan(""));
    return out;
  }
  kernels::ReduceParams p;
  p.dtype = x.dtype();
  p.op = kind;
  Tensor src;
  const auto& d = plan.dims;
  const bool adjacent = d.empty() || d.back() - d.front() + 1 == static_cast<int64_t>(d.size());
  if (x.is_contiguous() && adjacent) {
    src = x;
    p.outer = 1;
    p.inner = 1;
    for (int64_t i = 0; i < x.dim(); ++i) {
      const int64_t s = x.sizes()[static_cast<size_t>(i)];
      if (!d.empty() && i < d.front()) p.outer *= s;
      if (!d.empty() && i > d.back()) p.inner *= s;
    }
    if (d.empty()) p.outer = x.numel();  // a 0-dim tensor: one element, reduced over 1
  } else {
    std::vector<int64_t> perm;
    for (int64_t i = 0; i < x.dim(); ++i) {
      if (!std::binary_search(d.begin(), d.end(), i)) perm.push_back(i);
    }
    perm.insert(perm.end(), d.begin(), d.end());
    NoGradGuard no_grad;  // internal copy; the op records its own node
    src = x.permute(perm).contiguous();
    p.outer = x.numel() / std::max<int64_t>(plan.count, 1);
    p.inner = 1;
  }
  p.reduce = plan.count;
  p.x = src.data_ptr();
  p.out = out.data_ptr();
  kernels::select(kernels::reduce_kernel, x.device())(p);
  return out;
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  if (autocast_active()) {
    AutocastCall call("sum", {x});
    return sum(call.cast(x), dims, keepdim);
  }
  const ReducePlan plan = plan_reduce("sum", x, dims, keepdim);
  Tensor out = run_reduce("sum", ReduceOp::sum, x, plan);
  const Shape in_shape = x.sizes(), keep = plan.keep_shape;
  record("sum", out, {x}, {}, [in_shape, keep](const Tensor& g, const FunctionNode&) {
    return std::vector<Tensor>{g.reshape(keep).expand(in_shape)};
  });
  return out;
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  detail::check_defined("mean", x);
  if (autocast_active()) {
    AutocastCall call("mean", {x});
    return mean(call.cast(x), dims, keepdim);
  }
  detail::check_floating("mean", x);
  const ReducePlan plan = plan_reduce("mean", x, dims, keepdim);
  Tensor out = run_reduce("mean", ReduceOp::mean, x, plan);
  const Shape in_shape = x.sizes(), keep = plan.keep_shape;
  const double scale = 1.0 / static_cast<double>(plan.count);
  record("mean", out, {x}, {}, [in_shape, keep, scale](const Tensor& g, const FunctionNode&) {
    return std::vector<Tensor>{mul(g, scale).reshape(keep).expand(in_shape)};
  });
  return out;
}

Tensor max(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  const ReducePlan plan = plan_reduce("max", x, dims, keepdim);
  Tensor out = run_reduce("max", ReduceOp::max, x, plan);
  const Shape keep = plan.keep_shape;
  const std::vector<int64_t> rdims = plan.dims;
  record("max", out, {x}, {x, out}, [keep, rdims](const Tensor& g, const FunctionNode& n) {
    Tensor xs = n.saved(0);
    Tensor m = n.saved(1).reshape(keep);
    // Gradient split evenly between the elements equal to the maximum.
    Tensor is_max = 1.0 - detail::step_positive(sub(m, xs));
    Tensor count = sum(is_max, rdims, /*keepdim=*/true);
    return std::vector<Tensor>{div(mul(g.reshape(keep), is_max), count)};
  });
  return out;
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  detail::check_defined("argmax", x);
  const ReducePlan plan = plan_reduce("argmax", x, {dim}, keepdim);
  return run_reduce("argmax", ReduceOp::argmax, x, plan);
}

Tensor argmax(const Tensor& x) {
  detail::check_defined("argmax", x);
  NoGradGuard no_grad;
  return argmax(x.reshape({-1}), 0).reshape({});
}

}  // namespace glia
