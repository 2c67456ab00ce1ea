// dropout and stochastic depth on the device's dropout kernels (kernels/dropout.h): one
// pass that reads x and writes y, and a backward that recomputes the mask from the
// Philox stream (seed, offset) instead of storing it. The stream is reserved from the
// tensor Generator exactly as bernoulli(shape, 1 - p) reserves it, and the kernels' keep
// rule is bernoulli's (draw < 1 - p), so the masks are the ones the composed form
// x * bernoulli(1 - p) / (1 - p) drew, on every device (tests/nets_ops checks this).
#include "kernels/dropout.h"
#include "tensor/autograd.h"
#include "tensor/nn_ops.h"
#include "tensor/ops.h"

namespace glia {
namespace {

void check_args(const char* op, const Tensor& x, double p) {
  GLIA_CHECK(x.defined(), op << ": input is undefined");
  GLIA_CHECK(p >= 0 && p <= 1, op << ": probability must be in [0, 1], got " << p);
  GLIA_CHECK(is_floating(x.dtype()), op << ": input dtype " << dtype_name(x.dtype()) << " is not floating point");
}

GeneratorState reserve(Generator* gen, int64_t draws) {
  return (gen ? *gen : default_generator()).reserve(static_cast<uint64_t>(draws));
}

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  check_args("dropout", x, p);
  if (!training || p == 0) return x;
  if (p >= 1) return x * 0.0;  // draws nothing, as before the kernel path
  const GeneratorState s = reserve(gen, x.numel());
  Tensor xc = x.contiguous();
  Tensor y = empty(x.sizes(), x.dtype(), x.device());
  kernels::DropoutParams f;
  f.dtype = x.dtype();
  f.n = x.numel();
  f.p = p;
  f.seed = s.seed;
  f.offset = s.offset;
  f.x = xc.data_ptr();
  f.y = y.data_ptr();
  if (f.n > 0) kernels::select(kernels::dropout_kernel, x.device())(f);
  record("dropout", y, {x}, {}, [p, s](const Tensor& g, const FunctionNode&) {
    Tensor gy = g.contiguous();
    Tensor gx = empty(gy.sizes(), gy.dtype(), gy.device());
    kernels::DropoutBackwardParams b;
    b.dtype = gy.dtype();
    b.n = gy.numel();
    b.p = p;
    b.seed = s.seed;
    b.offset = s.offset;
    b.gy = gy.data_ptr();
    b.gx = gx.data_ptr();
    if (b.n > 0) kernels::select(kernels::dropout_backward_kernel, gy.device())(b);
    return std::vector<Tensor>{gx};
  });
  return y;
}

Tensor stochastic_depth(const Tensor& x, double p, bool training, Generator* gen) {
  check_args("stochastic_depth", x, p);
  GLIA_CHECK(x.dim() >= 1, "stochastic_depth: input needs a batch dim, got " << shape_str(x.sizes()));
  if (!training || p == 0) return x;
  if (p >= 1) return x * 0.0;
  const int64_t batch = x.size(0);
  const int64_t per_sample = batch > 0 ? x.numel() / batch : 0;
  const GeneratorState s = reserve(gen, batch);  // one draw per sample
  // The backward is the same per-sample scaling applied to the gradient.
  auto apply = [batch, per_sample, p, s](const Tensor& in) {
    Tensor ic = in.contiguous();
    Tensor out = empty(in.sizes(), in.dtype(), in.device());
    kernels::StochasticDepthParams k;
    k.dtype = in.dtype();
    k.batch = batch;
    k.per_sample = per_sample;
    k.p = p;
    k.seed = s.seed;
    k.offset = s.offset;
    k.x = ic.data_ptr();
    k.y = out.data_ptr();
    if (in.numel() > 0) kernels::select(kernels::stochastic_depth_kernel, in.device())(k);
    return out;
  };
  Tensor y = apply(x);
  record("stochastic_depth", y, {x}, {}, [apply](const Tensor& g, const FunctionNode&) {
    return std::vector<Tensor>{apply(g)};
  });
  return y;
}

}  // namespace glia
