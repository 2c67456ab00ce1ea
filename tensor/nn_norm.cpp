// batch_norm. Composed from the differentiable ops of tensor/ops.h (mean, sub, mul, pow),
// so it runs with gradients on every device those run on; autograd derives the backward.
// The running statistics are updated in place outside autograd, as PyTorch does.
#include "tensor/autograd.h"
#include "tensor/nn_ops.h"
#include "tensor/ops.h"

namespace glia {

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
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
  return y;
}

}  // namespace glia
