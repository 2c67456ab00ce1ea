// Elementwise ops: binary with broadcasting (by strides: a broadcast dim has stride 0),
// scalar and unary ops, and the in-place ops of Tensor.
#include <cmath>

#include "kernels/elementwise.h"
#include "tensor/autocast.h"
#include "tensor/autograd.h"
#include "tensor/detail.h"
#include "tensor/ops.h"

namespace glia {
namespace {

using kernels::BinaryOp;
using kernels::UnaryOp;

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::add: return "add";
    case BinaryOp::sub: return "sub";
    case BinaryOp::mul: return "mul";
    case BinaryOp::div: return "div";
    case BinaryOp::maximum: return "maximum";
    case BinaryOp::minimum: return "minimum";
  }
  return "?";
}

// out = a op b, broadcast; written into `out` when given (must be contiguous, of the
// broadcast shape), else into a new tensor.
Tensor binary_kernel(BinaryOp op, const Tensor& a, const Tensor& b, Tensor out = Tensor()) {
  const char* name = binary_name(op);
  detail::check_compatible(name, a, b);
  const Shape shape = detail::broadcast_shapes(name, a.sizes(), b.sizes());
  if (!out.defined()) out = empty(shape, a.dtype(), a.device());
  if (out.numel() == 0) return out;
  kernels::BinaryParams p;
  p.dtype = a.dtype();
  p.op = op;
  p.ndim = detail::fill_dims(shape, p.sizes);
  detail::fill_strides(detail::broadcast_strides(a, shape), p.a_strides);
  detail::fill_strides(detail::broadcast_strides(b, shape), p.b_strides);
  p.numel = out.numel();
  p.a = a.data_ptr();
  p.b = b.data_ptr();
  p.out = out.data_ptr();
  kernels::select(kernels::binary_kernel, a.device())(p);
  return out;
}

// y = f(x) on a contiguous copy of x (a no-op when x is contiguous).
Tensor unary_kernel(UnaryOp op, const Tensor& x, double scalar, Tensor out = Tensor()) {
  Tensor xc = x.contiguous();
  if (!out.defined()) out = empty(x.sizes(), x.dtype(), x.device());
  if (out.numel() == 0) return out;
  kernels::UnaryParams p;
  p.dtype = x.dtype();
  p.op = op;
  p.scalar = scalar;
  p.n = x.numel();
  p.x = xc.data_ptr();
  p.y = out.data_ptr();
  kernels::select(kernels::unary_kernel, x.device())(p);
  return out;
}

// gx = gy * f'(x): the derivative is written in terms of the forward input.
Tensor unary_backward_kernel(UnaryOp op, const Tensor& x, const Tensor& gy, double scalar) {
  Tensor gyc = gy.contiguous();
  Tensor gx = empty(x.sizes(), x.dtype(), x.device());
  if (gx.numel() == 0) return gx;
  kernels::UnaryBackwardParams p;
  p.dtype = x.dtype();
  p.op = op;
  p.scalar = scalar;
  p.n = x.numel();
  p.x = x.data_ptr();
  p.gy = gyc.data_ptr();
  p.gx = gx.data_ptr();
  kernels::select(kernels::unary_backward_kernel, x.device())(p);
  return gx;
}

// A unary op whose backward needs x: records `name` saving the contiguous input.
Tensor unary_op(const char* name, UnaryOp op, const Tensor& x, double scalar = 0) {
  detail::check_defined(name, x);
  detail::check_floating(name, x);
  if (autocast_active() && x.dtype() != DType::f32 && x.dtype() != DType::f64 && autocast_rule(name)) {
    AutocastCall call(name, {x});
    return unary_op(name, op, call.cast(x), scalar);
  }
  Tensor xc = x.contiguous();
  Tensor y = unary_kernel(op, xc, scalar);
  record(name, y, {x}, {xc}, [op, scalar](const Tensor& g, const FunctionNode& node) {
    return std::vector<Tensor>{unary_backward_kernel(op, node.saved(0), g, scalar)};
  });
  return y;
}

}  // namespace

// 1 where d > 0, 0 where d <= 0, exactly, from elementwise kernels only: relu then two
// saturating multiplications (one would underflow for denormal d).
namespace detail {
Tensor step_positive(const Tensor& d) {
  const double scale = d.dtype() == DType::f64 ? 1e200 : 1e30;
  Tensor one = scalar_tensor(1, d.dtype(), d.device());
  Tensor s = minimum(relu(d) * scale, one);
  return minimum(s * scale, one);
}
}  // namespace detail

// ---- binary -----------------------------------------------------------------------------

Tensor add(const Tensor& a, const Tensor& b) {
  if (autocast_active() && a.defined() && b.defined() && a.dtype() != b.dtype()) {
    AutocastCall call("add", {a, b});
    return add(call.cast(a), call.cast(b));
  }
  Tensor out = binary_kernel(BinaryOp::add, a, b);
  const Shape sa = a.sizes(), sb = b.sizes();
  record("add", out, {a, b}, {}, [sa, sb](const Tensor& g, const FunctionNode& n) {
    return std::vector<Tensor>{n.needs_grad(0) ? detail::sum_to(g, sa) : Tensor(),
                               n.needs_grad(1) ? detail::sum_to(g, sb) : Tensor()};
  });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  if (autocast_active() && a.defined() && b.defined() && a.dtype() != b.dtype()) {
    AutocastCall call("sub", {a, b});
    return sub(call.cast(a), call.cast(b));
  }
  Tensor out = binary_kernel(BinaryOp::sub, a, b);
  const Shape sa = a.sizes(), sb = b.sizes();
  record("sub", out, {a, b}, {}, [sa, sb](const Tensor& g, const FunctionNode& n) {
    return std::vector<Tensor>{n.needs_grad(0) ? detail::sum_to(g, sa) : Tensor(),
                               n.needs_grad(1) ? neg(detail::sum_to(g, sb)) : Tensor()};
  });
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  if (autocast_active() && a.defined() && b.defined() && a.dtype() != b.dtype()) {
    AutocastCall call("mul", {a, b});
    return mul(call.cast(a), call.cast(b));
  }
  Tensor out = binary_kernel(BinaryOp::mul, a, b);
  const Shape sa = a.sizes(), sb = b.sizes();
  record("mul", out, {a, b}, {a, b}, [sa, sb](const Tensor& g, const FunctionNode& n) {
    return std::vector<Tensor>{n.needs_grad(0) ? detail::sum_to(mul(g, n.saved(1)), sa) : Tensor(),
                               n.needs_grad(1) ? detail::sum_to(mul(g, n.saved(0)), sb) : Tensor()};
  });
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  if (autocast_active() && a.defined() && b.defined() && a.dtype() != b.dtype()) {
    AutocastCall call("div", {a, b});
    return div(call.cast(a), call.cast(b));
  }
  Tensor out = binary_kernel(BinaryOp::div, a, b);
  const Shape sa = a.sizes(), sb = b.sizes();
  record("div", out, {a, b}, {a, b}, [sa, sb](const Tensor& g, const FunctionNode& n) {
    Tensor a = n.saved(0), b = n.saved(1);
    Tensor ga, gb;
    if (n.needs_grad(0)) ga = detail::sum_to(div(g, b), sa);
    if (n.needs_grad(1)) gb = detail::sum_to(neg(div(mul(g, a), mul(b, b))), sb);  // d(a/b)/db = -a/b^2
    return std::vector<Tensor>{ga, gb};
  });
  return out;
}

Tensor maximum(const Tensor& a, const Tensor& b) {
  if (autocast_active() && a.defined() && b.defined() && a.dtype() != b.dtype()) {
    AutocastCall call("maximum", {a, b});
    return maximum(call.cast(a), call.cast(b));
  }
  Tensor out = binary_kernel(BinaryOp::maximum, a, b);
  const Shape sa = a.sizes(), sb = b.sizes();
  record("maximum", out, {a, b}, {a, b}, [sa, sb](const Tensor& g, const FunctionNode& n) {
    Tensor b_wins = detail::step_positive(sub(n.saved(1), n.saved(0)));  // ties go to a
    return std::vector<Tensor>{n.needs_grad(0) ? detail::sum_to(mul(g, 1.0 - b_wins), sa) : Tensor(),
                               n.needs_grad(1) ? detail::sum_to(mul(g, b_wins), sb) : Tensor()};
  });
  return out;
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  if (autocast_active() && a.defined() && b.defined() && a.dtype() != b.dtype()) {
    AutocastCall call("minimum", {a, b});
    return minimum(call.cast(a), call.cast(b));
  }
  Tensor out = binary_kernel(BinaryOp::minimum, a, b);
  const Shape sa = a.sizes(), sb = b.sizes();
  record("minimum", out, {a, b}, {a, b}, [sa, sb](const Tensor& g, const FunctionNode& n) {
    Tensor b_wins = detail::step_positive(sub(n.saved(0), n.saved(1)));
    return std::vector<Tensor>{n.needs_grad(0) ? detail::sum_to(mul(g, 1.0 - b_wins), sa) : Tensor(),
                               n.needs_grad(1) ? detail::sum_to(mul(g, b_wins), sb) : Tensor()};
  });
  return out;
}

// ---- scalar -----------------------------------------------------------------------------

Tensor neg(const Tensor& x) {
  detail::check_defined("neg", x);
  Tensor y = unary_kernel(UnaryOp::neg, x, 0);
  record("neg", y, {x}, {}, [](const Tensor& g, const FunctionNode&) { return std::vector<Tensor>{neg(g)}; });
  return y;
}

Tensor add(const Tensor& x, double value) {
  detail::check_defined("add", x);
  Tensor y = unary_kernel(UnaryOp::add_scalar, x, value);
  record("add_scalar", y, {x}, {}, [](const Tensor& g, const FunctionNode&) { return std::vector<Tensor>{g}; });
  return y;
}

Tensor mul(const Tensor& x, double value) {
  detail::check_defined("mul", x);
  Tensor y = unary_kernel(UnaryOp::mul_scalar, x, value);
  record("mul_scalar", y, {x}, {},
         [value](const Tensor& g, const FunctionNode&) { return std::vector<Tensor>{mul(g, value)}; });
  return y;
}

Tensor pow(const Tensor& x, double exponent) { return unary_op("pow", UnaryOp::pow_scalar, x, exponent); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& x, double s) { return add(x, s); }
Tensor operator+(double s, const Tensor& x) { return add(x, s); }
Tensor operator-(const Tensor& x, double s) { return add(x, -s); }
Tensor operator-(double s, const Tensor& x) { return add(neg(x), s); }
Tensor operator*(const Tensor& x, double s) { return mul(x, s); }
Tensor operator*(double s, const Tensor& x) { return mul(x, s); }
Tensor operator/(const Tensor& x, double s) { return mul(x, 1.0 / s); }
Tensor operator/(double s, const Tensor& x) { return mul(pow(x, -1.0), s); }

// ---- unary ------------------------------------------------------------------------------

Tensor exp(const Tensor& x) { return unary_op("exp", UnaryOp::exp, x); }
Tensor log(const Tensor& x) { return unary_op("log", UnaryOp::log, x); }
Tensor sqrt(const Tensor& x) { return unary_op("sqrt", UnaryOp::sqrt, x); }
Tensor abs(const Tensor& x) { return unary_op("abs", UnaryOp::abs, x); }
Tensor relu(const Tensor& x) { return unary_op("relu", UnaryOp::relu, x); }
Tensor relu6(const Tensor& x) { return unary_op("relu6", UnaryOp::relu6, x); }
Tensor leaky_relu(const Tensor& x, double slope) { return unary_op("leaky_relu", UnaryOp::leaky_relu, x, slope); }
Tensor sigmoid(const Tensor& x) { return unary_op("sigmoid", UnaryOp::sigmoid, x); }
Tensor silu(const Tensor& x) { return unary_op("silu", UnaryOp::silu, x); }
Tensor tanh(const Tensor& x) { return unary_op("tanh", UnaryOp::tanh, x); }
Tensor hardswish(const Tensor& x) { return unary_op("hardswish", UnaryOp::hardswish, x); }

// ---- in-place ---------------------------------------------------------------------------
// Each writes through this tensor's strides and bumps the storage version, so a saved
// tensor sharing the storage notices. A non-contiguous destination is computed into a
// temporary and copied back.

const Tensor& Tensor::fill_(double value) const {
  check_inplace(*this, "fill_");
  if (is_contiguous()) {
    detail::fill_contiguous(*this, value);
  } else {
    Tensor tmp = full(sizes(), value, dtype(), device());
    detail::copy_into(*this, tmp);
  }
  storage()->bump_version();
  return *this;
}

const Tensor& Tensor::copy_(const Tensor& src) const {
  check_inplace(*this, "copy_");
  detail::check_defined("copy_", src, "source");
  NoGradGuard no_grad;  // the source's graph is not extended by an in-place copy
  Tensor s = src.to(device());
  detail::broadcast_shapes("copy_", s.sizes(), sizes());
  Shape target = sizes();
  GLIA_CHECK(s.dim() <= dim(), "copy_: source shape " << shape_str(src.sizes()) << " does not broadcast to "
                                                      << shape_str(sizes()));
  s = s.expand(target);
  // An overlapping source (e.g. a view of this very tensor) is copied out first.
  if (s.storage() == storage()) s = s.clone();
  detail::copy_into(*this, s);
  storage()->bump_version();
  return *this;
}

const Tensor& Tensor::add_(const Tensor& other, double alpha) const {
  check_inplace(*this, "add_");
  NoGradGuard no_grad;
  detail::check_compatible("add_", *this, other);
  Tensor o = alpha == 1 ? other : mul(other, alpha);
  if (is_contiguous() && detail::broadcast_shapes("add_", sizes(), o.sizes()) == sizes()) {
    binary_kernel(BinaryOp::add, *this, o, *this);  // elementwise: out may alias an input
    storage()->bump_version();
  } else {
    copy_(add(*this, o));
  }
  return *this;
}

const Tensor& Tensor::add_(double value) const {
  check_inplace(*this, "add_");
  NoGradGuard no_grad;
  if (is_contiguous()) {
    unary_kernel(UnaryOp::add_scalar, *this, value, *this);
    storage()->bump_version();
  } else {
    copy_(add(*this, value));
  }
  return *this;
}

const Tensor& Tensor::mul_(const Tensor& other) const {
  check_inplace(*this, "mul_");
  NoGradGuard no_grad;
  detail::check_compatible("mul_", *this, other);
  if (is_contiguous() && detail::broadcast_shapes("mul_", sizes(), other.sizes()) == sizes()) {
    binary_kernel(BinaryOp::mul, *this, other, *this);
    storage()->bump_version();
  } else {
    copy_(mul(*this, other));
  }
  return *this;
}

const Tensor& Tensor::mul_(double value) const {
  check_inplace(*this, "mul_");
  NoGradGuard no_grad;
  if (is_contiguous()) {
    unary_kernel(UnaryOp::mul_scalar, *this, value, *this);
    storage()->bump_version();
  } else {
    copy_(mul(*this, value));
  }
  return *this;
}

}  // namespace glia
