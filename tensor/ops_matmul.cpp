// matmul and linear through the gemm kernel. A matrix whose rows or columns are
// contiguous is handed to GEMM as it is, with a transpose flag and leading dimension
// taken from its strides (so x.transpose(0, 1) costs no copy); anything else is copied.
#include "kernels/gemm.h"
#include "tensor/autocast.h"
#include "tensor/autograd.h"
#include "tensor/detail.h"
#include "tensor/ops.h"

namespace glia {
namespace {

// How GEMM reads the last two dims of t as a rows x cols matrix.
struct Operand {
  Tensor t;          // possibly a contiguous copy
  bool trans = false;
  int64_t ld = 1;
  int64_t batch_stride = 0;  // 0: the same matrix for every batch item
};

Operand as_operand(const Tensor& t) {
  const int64_t r = t.size(-2), c = t.size(-1);
  const int64_t sr = t.stride(-2), sc = t.stride(-1);
  Operand op;
  op.t = t;
  if ((c == 1 || sc == 1) && (r == 1 || sr >= std::max<int64_t>(c, 1))) {
    op.ld = r == 1 ? std::max<int64_t>(c, 1) : sr;
  } else if ((r == 1 || sr == 1) && (c == 1 || sc >= std::max<int64_t>(r, 1))) {
    op.trans = true;  // stored column-major: GEMM reads its transpose
    op.ld = c == 1 ? std::max<int64_t>(r, 1) : sc;
  } else {
    NoGradGuard no_grad;
    op.t = t.contiguous();
    op.ld = std::max<int64_t>(c, 1);
  }
  op.batch_stride = (op.t.dim() == 3 && op.t.size(0) > 1) ? op.t.stride(0) : 0;
  return op;
}

// c = a @ b for a [(B,) m, k], b [(B,) k, n]; no autograd.
Tensor gemm(const Tensor& a, const Tensor& b, int64_t batch) {
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  const bool batched = a.dim() == 3 || b.dim() == 3;
  Tensor c = empty(batched ? Shape{batch, m, n} : Shape{m, n}, a.dtype(), a.device());
  if (c.numel() == 0) return c;
  Operand oa = as_operand(a), ob = as_operand(b);
  kernels::GemmParams p;
  p.dtype = a.dtype();
  p.trans_a = oa.trans;
  p.trans_b = ob.trans;
  p.m = m;
  p.n = n;
  p.k = k;
  p.a = oa.t.data_ptr();
  p.lda = oa.ld;
  p.b = ob.t.data_ptr();
  p.ldb = ob.ld;
  p.c = c.data_ptr();
  p.ldc = std::max<int64_t>(n, 1);
  p.batch = batch;
  p.stride_a = oa.batch_stride;
  p.stride_b = ob.batch_stride;
  p.stride_c = m * n;
  kernels::select(kernels::gemm_kernel, a.device(), "GLIA_GEMM")(p);
  return c;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  if (autocast_active()) {
    AutocastCall call("matmul", {a, b});
    return call.result(matmul(call.cast(a), call.cast(b)));
  }
  detail::check_compatible("matmul", a, b);
  detail::check_floating("matmul", a);
  GLIA_CHECK((a.dim() == 2 || a.dim() == 3) && (b.dim() == 2 || b.dim() == 3),
             "matmul: needs 2-D or 3-D operands, got shapes " << shape_str(a.sizes()) << " and "
                                                               << shape_str(b.sizes()));
  GLIA_CHECK(a.size(-1) == b.size(-2), "matmul: shapes " << shape_str(a.sizes()) << " and " << shape_str(b.sizes())
                                                         << " cannot be multiplied (" << a.size(-1)
                                                         << " columns vs " << b.size(-2) << " rows)");
  if (a.dim() == 3 && b.dim() == 2) {
    // One weight for every batch item: a single [B*m, k] x [k, n] product.
    const int64_t batch = a.size(0), m = a.size(1);
    return matmul(a.reshape({batch * m, a.size(2)}), b).reshape({batch, m, b.size(1)});
  }
  int64_t batch = 1;
  if (a.dim() == 3 && b.dim() == 3) {
    GLIA_CHECK(a.size(0) == b.size(0) || a.size(0) == 1 || b.size(0) == 1,
               "matmul: batch sizes differ in shapes " << shape_str(a.sizes()) << " and " << shape_str(b.sizes()));
    batch = std::max(a.size(0), b.size(0));
  } else if (b.dim() == 3) {
    batch = b.size(0);
  }
  Tensor out = gemm(a, b, batch);
  const Shape sa = a.sizes(), sb = b.sizes();
  record("matmul", out, {a, b}, {a, b}, [sa, sb](const Tensor& g, const FunctionNode& n) {
    Tensor ga, gb;
    if (n.needs_grad(0)) ga = detail::sum_to(matmul(g, n.saved(1).transpose(-2, -1)), sa);  // g b^T
    if (n.needs_grad(1)) gb = detail::sum_to(matmul(n.saved(0).transpose(-2, -1), g), sb);  // a^T g
    return std::vector<Tensor>{ga, gb};
  });
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  detail::check_compatible("linear", x, weight);
  GLIA_CHECK(weight.dim() == 2, "linear: weight must be [out_features, in_features], got " << shape_str(weight.sizes()));
  GLIA_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1),
             "linear: input " << shape_str(x.sizes()) << " does not end in in_features = " << weight.size(1)
                              << " of weight " << shape_str(weight.sizes()));
  if (bias.defined()) {
    detail::check_compatible("linear", x, bias);
    GLIA_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0),
               "linear: bias " << shape_str(bias.sizes()) << " must be [" << weight.size(0) << "] for weight "
                               << shape_str(weight.sizes()));
  }
  Shape out_shape = x.sizes();
  out_shape.back() = weight.size(0);
  Tensor y = matmul(x.reshape({-1, weight.size(1)}), weight.transpose(0, 1));
  if (bias.defined()) y = add(y, bias);
  return y.reshape(out_shape);
}

}  // namespace glia
