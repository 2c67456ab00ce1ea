// batch_norm: the device's batch_norm kernel (kernels/batch_norm.h) with its backward (in
// training with a cross-replica reducer installed, synchronised over replicas:
// tensor/nn_norm_sync.cpp), or, where a device has no such kernel yet, a composition of
// the differentiable ops of tensor/ops.h (mean, sub, mul, pow) whose backward autograd
// derives. Either way the
// running statistics are updated in place outside autograd, as PyTorch does.
#include "kernels/batch_norm.h"
#include "tensor/autograd.h"
#include "tensor/cross_replica.h"
#include "tensor/nn_dispatch.h"
#include "tensor/nn_ops.h"
#include "tensor/ops.h"

namespace glia {
namespace {

Tensor batch_norm_by_kernel(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                            const Tensor& running_var, bool training, double momentum, double eps,
                            NormActivation act, const Tensor& residual) {
  const int64_t n = x.size(0), c = x.size(1), hw = x.numel() / std::max<int64_t>(n * c, 1);
  Tensor xc = x.contiguous();
  Tensor w = weight.defined() ? weight.contiguous() : Tensor();
  Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  Tensor r = residual.defined() ? residual.contiguous() : Tensor();
  Tensor y = empty(x.sizes(), x.dtype(), x.device());
  Tensor save_mean, save_invstd, eval_mean, eval_var;
  kernels::BatchNormParams p;
  p.dtype = x.dtype();
  p.n = n;
  p.c = c;
  p.hw = hw;
  p.eps = eps;
  p.momentum = momentum;
  p.training = training;
  p.act = act;
  p.x = xc.data_ptr();
  p.gamma = w.defined() ? w.data_ptr() : nullptr;
  p.beta = b.defined() ? b.data_ptr() : nullptr;
  p.residual = r.defined() ? r.data_ptr() : nullptr;
  p.y = y.data_ptr();
  if (training) {
    save_mean = empty({c}, x.dtype(), x.device());
    save_invstd = empty({c}, x.dtype(), x.device());
    p.save_mean = save_mean.data_ptr();
    p.save_invstd = save_invstd.data_ptr();
    if (running_mean.defined()) {
      GLIA_CHECK(running_mean.is_contiguous() && running_var.is_contiguous(),
                 "batch_norm: running statistics must be contiguous to be updated in place");
      p.running_mean = running_mean.data_ptr();
      p.running_var = running_var.data_ptr();
    }
  } else {
    // Copies: the backward must see the statistics of this forward, even if a later
    // training forward updates the buffers before backward runs.
    eval_mean = running_mean.clone();
    eval_var = running_var.clone();
    p.running_mean = eval_mean.data_ptr();
    p.running_var = eval_var.data_ptr();
  }
  kernels::select(kernels::batch_norm_kernel, x.device(), detail::kBatchNormFamily)(p);
  if (training && running_mean.defined()) {
    running_mean.storage()->bump_version();
    running_var.storage()->bump_version();
  }
  const bool has_w = w.defined();
  const bool has_b = b.defined() && act != NormActivation::identity;  // the fused backward recomputes y
  const bool has_r = r.defined();  // the backward then reads relu's mask from y itself
  std::vector<Tensor> saved{xc};
  if (has_w) saved.push_back(w);
  if (has_b) saved.push_back(b);
  if (has_r) saved.push_back(y);  // not yet part of the graph here, so no reference cycle
  if (training) {
    saved.push_back(save_mean);
    saved.push_back(save_invstd);
  } else {
    saved.push_back(eval_mean);
    saved.push_back(eval_var);
  }
  record("batch_norm", y, {x, weight, bias, residual}, saved,
         [n, c, hw, eps, training, has_w, has_b, has_r, act](const Tensor& g, const FunctionNode& node) {
           Tensor gy = g.contiguous();
           size_t k = 0;
           Tensor xs = node.saved(k++);
           Tensor ws = has_w ? node.saved(k++) : Tensor();
           Tensor bs = has_b ? node.saved(k++) : Tensor();
           Tensor ys = has_r ? node.saved(k++) : Tensor();
           Tensor s0 = node.saved(k++), s1 = node.saved(k++);
           std::vector<Tensor> grads(4);
           kernels::BatchNormBackwardParams p;
           p.dtype = xs.dtype();
           p.n = n;
           p.c = c;
           p.hw = hw;
           p.eps = eps;
           p.training = training;
           p.act = act;
           p.x = xs.data_ptr();
           p.gy = gy.data_ptr();
           p.gamma = has_w ? ws.data_ptr() : nullptr;
           p.beta = has_b ? bs.data_ptr() : nullptr;
           p.fused_residual = has_r;
           p.y = has_r ? ys.data_ptr() : nullptr;
           if (training) {
             p.save_mean = s0.data_ptr();
             p.save_invstd = s1.data_ptr();
           } else {
             p.running_mean = s0.data_ptr();
             p.running_var = s1.data_ptr();
           }
           if (node.needs_grad(0)) {
             grads[0] = empty(xs.sizes(), xs.dtype(), xs.device());
             p.gx = grads[0].data_ptr();
           }
           if (node.needs_grad(1)) {
             grads[1] = empty({c}, xs.dtype(), xs.device());
             p.ggamma = grads[1].data_ptr();
           }
           if (node.needs_grad(2)) {
             grads[2] = empty({c}, xs.dtype(), xs.device());
             p.gbeta = grads[2].data_ptr();
           }
           if (has_r && node.needs_grad(3)) {
             grads[3] = empty(xs.sizes(), xs.dtype(), xs.device());
             p.gresidual = grads[3].data_ptr();
           }
           kernels::select(kernels::batch_norm_backward_kernel, xs.device(), detail::kBatchNormFamily)(p);
           return grads;
         });
  return y;
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps, NormActivation act,
                  const Tensor& residual) {
  const char* op = "batch_norm";
  GLIA_CHECK(x.defined(), op << ": input is undefined");
  GLIA_CHECK(x.dim() == 4 || x.dim() == 2, op << ": input must be [N, C, H, W] or [N, C], got " << shape_str(x.sizes()));
  GLIA_CHECK(is_floating(x.dtype()), op << ": input dtype " << dtype_name(x.dtype()) << " is not floating point");
  const int64_t c = x.size(1);
  auto check_vec = [&](const Tensor& t, const char* what) {
    if (!t.defined()) return;
    GLIA_CHECK(t.dim() == 1 && t.size(0) == c, op << ": " << what << " must be [" << c << "] for input "
                                                   << shape_str(x.sizes()) << ", got " << shape_str(t.sizes()));
    GLIA_CHECK(t.dtype() == x.dtype() && t.device() == x.device(),
               op << ": " << what << " is " << dtype_name(t.dtype()) << " on " << device_name(t.device())
                  << ", input is " << dtype_name(x.dtype()) << " on " << device_name(x.device()));
  };
  check_vec(weight, "weight");
  check_vec(bias, "bias");
  check_vec(running_mean, "running_mean");
  check_vec(running_var, "running_var");
  GLIA_CHECK(running_mean.defined() == running_var.defined(),
             op << ": running_mean and running_var must both be given or both be undefined");
  GLIA_CHECK(eps > 0, op << ": eps must be positive, got " << eps);
  if (residual.defined()) {
    GLIA_CHECK(act == NormActivation::relu,
               op << ": a residual is fused only before relu, got activation " << kernels::norm_activation_name(act));
    GLIA_CHECK(residual.sizes() == x.sizes() && residual.dtype() == x.dtype() && residual.device() == x.device(),
               op << ": residual " << shape_str(residual.sizes()) << " " << dtype_name(residual.dtype()) << " on "
                  << device_name(residual.device()) << " must match the input " << shape_str(x.sizes()) << " "
                  << dtype_name(x.dtype()) << " on " << device_name(x.device()));
  }

  if (training) {
    if (std::shared_ptr<CrossReplicaReducer> reducer = batch_norm_reducer()) {
      GLIA_CHECK(detail::has_kernel(kernels::batch_norm_kernel, x.device(), detail::kBatchNormFamily) &&
                     detail::has_kernel(kernels::batch_norm_backward_kernel, x.device(), detail::kBatchNormFamily),
                 op << ": synchronised batch norm needs the batch_norm kernels, which device "
                    << device_name(x.device()) << " lacks");
      return detail::batch_norm_synced(x, weight, bias, running_mean, running_var, momentum, eps, act, residual,
                                       std::move(reducer));
    }
  }

  if (x.numel() > 0 && (training || running_mean.defined()) &&
      detail::has_kernel(kernels::batch_norm_kernel, x.device(), detail::kBatchNormFamily) &&
      detail::has_kernel(kernels::batch_norm_backward_kernel, x.device(), detail::kBatchNormFamily)) {
    if (training)
      GLIA_CHECK(x.numel() / std::max<int64_t>(c, 1) > 1,
                 op << ": training needs more than one value per channel, input " << shape_str(x.sizes()));
    return batch_norm_by_kernel(x, weight, bias, running_mean, running_var, training, momentum, eps, act, residual);
  }

  const std::vector<int64_t> dims = x.dim() == 4 ? std::vector<int64_t>{0, 2, 3} : std::vector<int64_t>{0};
  const Shape channel_shape = x.dim() == 4 ? Shape{1, c, 1, 1} : Shape{1, c};
  Tensor centred, inv_std;
  if (training || !running_mean.defined()) {
    const int64_t count = x.numel() / std::max<int64_t>(c, 1);
    GLIA_CHECK(count > 1, op << ": training needs more than one value per channel, input " << shape_str(x.sizes()));
    Tensor mu = mean(x, dims, true);
    centred = x - mu;
    Tensor var = mean(centred * centred, dims, true);
    inv_std = pow(var + eps, -0.5);
    if (training && running_mean.defined()) {
      NoGradGuard no_grad;
      const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
      running_mean.mul_(1 - momentum).add_(mu.detach().reshape({c}), momentum);
      running_var.mul_(1 - momentum).add_(var.detach().reshape({c}), momentum * unbias);
    }
  } else {
    centred = x - running_mean.view(channel_shape);
    inv_std = pow(running_var.view(channel_shape) + eps, -0.5);
  }
  Tensor y = centred * inv_std;
  if (weight.defined()) y = y * weight.view(channel_shape);
  if (bias.defined()) y = y + bias.view(channel_shape);
  if (residual.defined()) y = y + residual;
  switch (act) {
    case NormActivation::identity: return y;
    case NormActivation::relu: return relu(y);
    case NormActivation::silu: return silu(y);
  }
  GLIA_FAIL(op << ": unknown activation " << static_cast<int>(act));
}

}  // namespace glia
