// dropout and stochastic depth: a Bernoulli keep-mask from the tensor Generator
// (counter-based, so the mask is the same on every device), applied by a differentiable
// multiply: the gradient flows through the kept elements, scaled like the forward.
#include "tensor/nn_ops.h"
#include "tensor/ops.h"

namespace glia {
namespace {

Tensor apply_keep_mask(const Tensor& x, const Shape& mask_shape, double p, Generator* gen) {
  if (p >= 1) return x * 0.0;
  Tensor keep = bernoulli(mask_shape, 1 - p, x.dtype(), x.device(), gen);
  return x * (keep * (1.0 / (1 - p)));
}

void check_args(const char* op, const Tensor& x, double p) {
  GLIA_CHECK(x.defined(), op << ": input is undefined");
  GLIA_CHECK(p >= 0 && p <= 1, op << ": probability must be in [0, 1], got " << p);
  GLIA_CHECK(is_floating(x.dtype()), op << ": input dtype " << dtype_name(x.dtype()) << " is not floating point");
}

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  check_args("dropout", x, p);
  if (!training || p == 0) return x;
  return apply_keep_mask(x, x.sizes(), p, gen);
}

Tensor stochastic_depth(const Tensor& x, double p, bool training, Generator* gen) {
  check_args("stochastic_depth", x, p);
  GLIA_CHECK(x.dim() >= 1, "stochastic_depth: input needs a batch dim, got " << shape_str(x.sizes()));
  if (!training || p == 0) return x;
  Shape mask_shape(x.sizes().size(), 1);
  mask_shape[0] = x.size(0);
  return apply_keep_mask(x, mask_shape, p, gen);
}

}  // namespace glia
