// Pooling on the device's pool kernels (kernels/pool.h), forward and backward, selected
// by GLIA_POOL on cuda: one pass over x where the composed forms took k*k strided slices
// (avg) or one mean per output cell (adaptive) and as many graph nodes. Where a device
// lacks max_pool2d or global average pooling, those two are composed from differentiable
// views and ops instead: a k x k window is k*k strided slices of the (padded) input
// reduced with maximum, and autograd derives the backward (maximum sends the gradient to
// its first operand on ties, so the gradient goes to the first maximum of the window in
// row-major order, as PyTorch's does).
#include <cmath>
#include <limits>

#include "kernels/pool.h"
#include "tensor/autograd.h"
#include "tensor/nn_dispatch.h"
#include "tensor/nn_ops.h"
#include "tensor/ops.h"

namespace glia {
namespace {

void check_pool_input(const char* op, const Tensor& x) {
  GLIA_CHECK(x.defined(), op << ": input is undefined");
  GLIA_CHECK(x.dim() == 4, op << ": input must be [N, C, H, W], got " << shape_str(x.sizes()));
  GLIA_CHECK(is_floating(x.dtype()), op << ": input dtype " << dtype_name(x.dtype()) << " is not floating point");
}

int64_t pooled_size(const char* op, int64_t in, int64_t kernel, int64_t stride, int64_t padding, const Tensor& x) {
  GLIA_CHECK(kernel >= 1 && stride >= 1 && padding >= 0,
             op << ": kernel " << kernel << ", stride " << stride << ", padding " << padding
                << " (kernel and stride must be >= 1, padding >= 0)");
  GLIA_CHECK(2 * padding <= kernel, op << ": padding " << padding << " must be at most half the kernel " << kernel);
  GLIA_CHECK(in + 2 * padding >= kernel, op << ": kernel " << kernel << " larger than the padded input "
                                            << shape_str(x.sizes()) << " with padding " << padding);
  return (in + 2 * padding - kernel) / stride + 1;
}

// x padded by `p` on every side of H and W with `value` (constant, outside the graph).
Tensor pad2d(const Tensor& x, int64_t p, double value) {
  if (p == 0) return x;
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  Tensor side = full({n, c, h, p}, value, x.dtype(), x.device());
  Tensor mid = concat({side, x, side}, 3);
  Tensor cap = full({n, c, p, w + 2 * p}, value, x.dtype(), x.device());
  return concat({cap, mid, cap}, 2);
}

// The (i, j) tap of every window: xp[:, :, i + s*oh, j + s*ow].
Tensor window_tap(const Tensor& xp, int64_t i, int64_t j, int64_t stride, int64_t oh, int64_t ow) {
  return xp.slice(2, i, i + stride * (oh - 1) + 1, stride).slice(3, j, j + stride * (ow - 1) + 1, stride);
}

kernels::Pool2dShape pool_shape(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding, const char* op) {
  kernels::Pool2dShape s;
  s.n = x.size(0);
  s.c = x.size(1);
  s.h_in = x.size(2);
  s.w_in = x.size(3);
  s.kh = s.kw = kernel;
  s.stride_h = s.stride_w = stride;
  s.pad_h = s.pad_w = padding;
  kernels::validate_pool2d(s, op);
  return s;
}

Tensor max_pool2d_by_kernel(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  const kernels::Pool2dShape s = pool_shape(x, kernel, stride, padding, "max_pool2d");
  Tensor xc = x.contiguous();
  Tensor y = empty({s.n, s.c, s.h_out(), s.w_out()}, x.dtype(), x.device());
  Tensor indices = empty(y.sizes(), DType::i64, x.device());
  kernels::MaxPool2dParams p;
  p.dtype = x.dtype();
  p.shape = s;
  p.x = xc.data_ptr();
  p.y = y.data_ptr();
  p.indices = indices.data<int64_t>();
  kernels::select(kernels::max_pool2d_kernel, x.device(), detail::kPoolFamily)(p);
  const DType dtype = x.dtype();
  record("max_pool2d", y, {x}, {indices}, [s, dtype](const Tensor& g, const FunctionNode& node) {
    Tensor gy = g.contiguous();
    Tensor idx = node.saved(0);
    Tensor gx = empty({s.n, s.c, s.h_in, s.w_in}, dtype, gy.device());
    kernels::MaxPool2dBackwardParams p;
    p.dtype = dtype;
    p.shape = s;
    p.gy = gy.data_ptr();
    p.indices = idx.data<int64_t>();
    p.gx = gx.data_ptr();
    kernels::select(kernels::max_pool2d_backward_kernel, gy.device(), detail::kPoolFamily)(p);
    return std::vector<Tensor>{gx};
  });
  return y;
}

Tensor global_avg_pool_by_kernel(const Tensor& x) {
  const int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
  Tensor xc = x.contiguous();
  Tensor y = empty({n, c, 1, 1}, x.dtype(), x.device());
  kernels::GlobalAvgPoolParams p;
  p.dtype = x.dtype();
  p.n = n;
  p.c = c;
  p.hw = hw;
  p.x = xc.data_ptr();
  p.y = y.data_ptr();
  kernels::select(kernels::global_avg_pool_kernel, x.device(), detail::kPoolFamily)(p);
  const Shape in_shape = x.sizes();
  record("global_avg_pool2d", y, {x}, {}, [n, c, hw, in_shape](const Tensor& g, const FunctionNode&) {
    Tensor gy = g.contiguous();
    Tensor gx = empty(in_shape, gy.dtype(), gy.device());
    kernels::GlobalAvgPoolBackwardParams p;
    p.dtype = gy.dtype();
    p.n = n;
    p.c = c;
    p.hw = hw;
    p.gy = gy.data_ptr();
    p.gx = gx.data_ptr();
    kernels::select(kernels::global_avg_pool_backward_kernel, gy.device(), detail::kPoolFamily)(p);
    return std::vector<Tensor>{gx};
  });
  return y;
}

Tensor avg_pool2d_by_kernel(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding,
                            bool count_include_pad) {
  const kernels::Pool2dShape s = pool_shape(x, kernel, stride, padding, "avg_pool2d");
  Tensor xc = x.contiguous();
  Tensor y = empty({s.n, s.c, s.h_out(), s.w_out()}, x.dtype(), x.device());
  kernels::AvgPool2dParams p;
  p.dtype = x.dtype();
  p.shape = s;
  p.count_include_pad = count_include_pad;
  p.x = xc.data_ptr();
  p.y = y.data_ptr();
  if (y.numel() > 0) kernels::select(kernels::avg_pool2d_kernel, x.device(), detail::kPoolFamily)(p);
  record("avg_pool2d", y, {x}, {}, [s, count_include_pad](const Tensor& g, const FunctionNode&) {
    Tensor gy = g.contiguous();
    Tensor gx = empty({s.n, s.c, s.h_in, s.w_in}, gy.dtype(), gy.device());
    kernels::AvgPool2dBackwardParams b;
    b.dtype = gy.dtype();
    b.shape = s;
    b.count_include_pad = count_include_pad;
    b.gy = gy.data_ptr();
    b.gx = gx.data_ptr();
    if (gx.numel() > 0) kernels::select(kernels::avg_pool2d_backward_kernel, gy.device(), detail::kPoolFamily)(b);
    return std::vector<Tensor>{gx};
  });
  return y;
}

Tensor adaptive_avg_pool2d_by_kernel(const Tensor& x, int64_t out_h, int64_t out_w) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  Tensor xc = x.contiguous();
  Tensor y = empty({n, c, out_h, out_w}, x.dtype(), x.device());
  kernels::AdaptiveAvgPool2dParams p{x.dtype(), n, c, h, w, out_h, out_w, xc.data_ptr(), y.data_ptr()};
  if (y.numel() > 0) kernels::select(kernels::adaptive_avg_pool2d_kernel, x.device(), detail::kPoolFamily)(p);
  record("adaptive_avg_pool2d", y, {x}, {}, [n, c, h, w, out_h, out_w](const Tensor& g, const FunctionNode&) {
    Tensor gy = g.contiguous();
    Tensor gx = empty({n, c, h, w}, gy.dtype(), gy.device());
    kernels::AdaptiveAvgPool2dBackwardParams b{gy.dtype(), n, c, h, w, out_h, out_w, gy.data_ptr(), gx.data_ptr()};
    if (gx.numel() > 0)
      kernels::select(kernels::adaptive_avg_pool2d_backward_kernel, gy.device(), detail::kPoolFamily)(b);
    return std::vector<Tensor>{gx};
  });
  return y;
}

bool global_pool_kernels(const Tensor& x) {
  return x.numel() > 0 && detail::has_kernel(kernels::global_avg_pool_kernel, x.device(), detail::kPoolFamily) &&
         detail::has_kernel(kernels::global_avg_pool_backward_kernel, x.device(), detail::kPoolFamily);
}

}  // namespace

Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding) {
  const char* op = "max_pool2d";
  check_pool_input(op, x);
  const int64_t oh = pooled_size(op, x.size(2), kernel, stride, padding, x);
  const int64_t ow = pooled_size(op, x.size(3), kernel, stride, padding, x);
  if (x.numel() > 0 && detail::has_kernel(kernels::max_pool2d_kernel, x.device(), detail::kPoolFamily) &&
      detail::has_kernel(kernels::max_pool2d_backward_kernel, x.device(), detail::kPoolFamily))
    return max_pool2d_by_kernel(x, kernel, stride, padding);
  Tensor xp = pad2d(x, padding, -std::numeric_limits<double>::infinity());
  Tensor out;
  for (int64_t i = 0; i < kernel; ++i)
    for (int64_t j = 0; j < kernel; ++j) {
      Tensor tap = window_tap(xp, i, j, stride, oh, ow);
      out = out.defined() ? maximum(out, tap) : tap.contiguous();
    }
  return out;
}

Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding, bool count_include_pad) {
  const char* op = "avg_pool2d";
  check_pool_input(op, x);
  pooled_size(op, x.size(2), kernel, stride, padding, x);
  pooled_size(op, x.size(3), kernel, stride, padding, x);
  return avg_pool2d_by_kernel(x, kernel, stride, padding, count_include_pad);
}

Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w) {
  const char* op = "adaptive_avg_pool2d";
  check_pool_input(op, x);
  GLIA_CHECK(out_h >= 1 && out_w >= 1, op << ": output size " << out_h << "x" << out_w << " must be positive");
  // The global case keeps its own kernel (one reduction per plane, no window bounds).
  if (out_h == 1 && out_w == 1) return global_avg_pool2d(x);
  return adaptive_avg_pool2d_by_kernel(x, out_h, out_w);
}

Tensor global_avg_pool2d(const Tensor& x) {
  check_pool_input("global_avg_pool2d", x);
  if (global_pool_kernels(x)) return global_avg_pool_by_kernel(x);
  return mean(x, {2, 3}, true);
}

}  // namespace glia
