// Synchronised batch norm (tensor/cross_replica.h): the statistics of one training forward
// come from every replica's batch. Built from the device's own batch_norm kernels, so it
// runs wherever batch norm does (cpu, sim, cuda, cuDNN) and adds no kernel:
//   1. local statistics: the training kernel with momentum 1 writes this replica's mean
//      and unbiased variance into zeroed scratch "running" buffers (its y is overwritten
//      in step 4);
//   2. two float64 sums over replicas give the global count, mean and variance
//      (per-replica squared deviations from the global mean: m_r * (var_r + (mean_r -
//      mean)^2), exact in exact arithmetic and free of cancellation);
//   3. running statistics from the global mean and unbiased variance, in double as the
//      kernels do;
//   4. y from the eval-mode kernel with the global mean and variance as its "running"
//      statistics (the same formula, activation and residual fused as usual).
// Backward: the eval-mode backward kernel gives this replica's two per-channel sums (sum
// dy -> bias gradient, sum dy * xhat -> weight gradient) and gx0 = gamma * invstd * dy;
// the sums are added over replicas and the input gradient completed as
//   gx = gx0 + k2 * x + k3,  k2 = -gamma * invstd^2 * sum(dy xhat) / M,
//                            k3 = -gamma * invstd * sum(dy) / M - k2 * mean
// (the training kernels' own folding) with M the global count. The weight and bias
// gradients stay this replica's: the data-parallel all-reduce of parameter gradients sums
// them, as for every other parameter (PyTorch's SyncBatchNorm does the same).
#include <memory>
#include <optional>

#include "kernels/batch_norm.h"
#include "tensor/autograd.h"
#include "tensor/cross_replica.h"
#include "tensor/nn_dispatch.h"
#include "tensor/ops.h"

namespace glia::detail {
namespace {

Tensor per_channel(const Tensor& v, int64_t dims) {
  const int64_t c = v.numel();
  return dims == 4 ? v.view({1, c, 1, 1}) : v.view({1, c});
}

}  // namespace

Tensor batch_norm_synced(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                         const Tensor& running_var, double momentum, double eps, kernels::NormActivation act,
                         const Tensor& residual, std::shared_ptr<CrossReplicaReducer> reducer) {
  const DType dt = x.dtype();
  const Device dev = x.device();
  const int64_t dims = x.dim();
  const int64_t n = x.size(0), c = x.size(1), hw = dims == 4 ? x.size(2) * x.size(3) : 1;
  const int64_t m = n * hw;  // this replica's values per channel (may be 0 or 1)
  Tensor xc = x.contiguous();
  Tensor w = weight.defined() ? weight.contiguous() : Tensor();
  Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  Tensor r = residual.defined() ? residual.contiguous() : Tensor();
  Tensor y = empty(x.sizes(), dt, dev);
  auto bn_kernel = kernels::select(kernels::batch_norm_kernel, dev, kBatchNormFamily);

  // Steps 1-4 are constants to autograd: the node recorded below is the whole op.
  std::optional<NoGradGuard> no_grad(std::in_place);

  // 1. This replica's mean and biased variance, float64 [C].
  Tensor local_mean = zeros({c}, DType::f64, dev), local_var = zeros({c}, DType::f64, dev);
  if (m > 1) {
    Tensor scratch_mean = zeros({c}, dt, dev), scratch_var = zeros({c}, dt, dev);
    Tensor save_mean = empty({c}, dt, dev), save_invstd = empty({c}, dt, dev);
    kernels::BatchNormParams p;
    p.dtype = dt;
    p.n = n;
    p.c = c;
    p.hw = hw;
    p.eps = eps;
    p.momentum = 1;  // running = batch statistics, variance unbiased
    p.training = true;
    p.x = xc.data_ptr();
    p.y = y.data_ptr();
    p.running_mean = scratch_mean.data_ptr();
    p.running_var = scratch_var.data_ptr();
    p.save_mean = save_mean.data_ptr();
    p.save_invstd = save_invstd.data_ptr();
    bn_kernel(p);
    local_mean = scratch_mean.to(DType::f64);
    local_var = scratch_var.to(DType::f64) * (double(m - 1) / double(m));
  } else if (m == 1) {
    local_mean = xc.reshape({c}).to(DType::f64);
  }

  // 2. Global count and mean, then the global variance.
  Tensor first = concat({local_mean * double(m), full({1}, double(m), DType::f64, dev)}, 0);
  reducer->sum_in_place(first);
  const double total = first.narrow(0, c, 1).item<double>();
  GLIA_CHECK(total > 1, "batch_norm: training needs more than one value per channel over all "
                            << reducer->world_size() << " replicas, got " << total << " (this replica's input "
                            << shape_str(x.sizes()) << ")");
  Tensor mean = first.narrow(0, 0, c) / total;
  Tensor deviation = local_mean - mean;
  Tensor second = (local_var + deviation * deviation) * double(m);
  reducer->sum_in_place(second);
  Tensor var = second / total;

  // 3. Running statistics (identical on every replica: same inputs, same order).
  if (running_mean.defined()) {
    running_mean.copy_(running_mean.to(DType::f64) * (1 - momentum) + mean * momentum);
    running_var.copy_(running_var.to(DType::f64) * (1 - momentum) + var * (momentum * total / (total - 1)));
  }

  // 4. Normalise with the global statistics.
  Tensor mean_t = mean.to(dt).contiguous(), var_t = var.to(dt).contiguous();
  if (x.numel() > 0) {
    kernels::BatchNormParams p;
    p.dtype = dt;
    p.n = n;
    p.c = c;
    p.hw = hw;
    p.eps = eps;
    p.training = false;
    p.act = act;
    p.x = xc.data_ptr();
    p.gamma = w.defined() ? w.data_ptr() : nullptr;
    p.beta = b.defined() ? b.data_ptr() : nullptr;
    p.residual = r.defined() ? r.data_ptr() : nullptr;
    p.y = y.data_ptr();
    p.running_mean = mean_t.data_ptr();
    p.running_var = var_t.data_ptr();
    bn_kernel(p);
  }
  no_grad.reset();

  const bool has_w = w.defined();
  const bool has_b = b.defined() && act != kernels::NormActivation::identity;  // the backward recomputes y
  const bool has_r = r.defined();  // the backward reads relu's mask from y
  std::vector<Tensor> saved{xc, mean_t, var_t};
  if (has_w) saved.push_back(w);
  if (has_b) saved.push_back(b);
  if (has_r) saved.push_back(y);
  record("batch_norm", y, {x, weight, bias, residual}, saved,
         [n, c, hw, dims, eps, total, act, has_w, has_b, has_r, reducer](const Tensor& g, const FunctionNode& node) {
           Tensor gy = g.contiguous();
           size_t k = 0;
           Tensor xs = node.saved(k++), mean_s = node.saved(k++), var_s = node.saved(k++);
           Tensor ws = has_w ? node.saved(k++) : Tensor();
           Tensor bs = has_b ? node.saved(k++) : Tensor();
           Tensor ys = has_r ? node.saved(k++) : Tensor();
           const DType dt = xs.dtype();
           const Device dev = xs.device();
           std::vector<Tensor> grads(4);
           Tensor sum_gy = zeros({c}, dt, dev), sum_gy_xhat = zeros({c}, dt, dev);
           Tensor gx = node.needs_grad(0) ? empty(xs.sizes(), dt, dev) : Tensor();
           if (has_r && node.needs_grad(3)) grads[3] = empty(xs.sizes(), dt, dev);
           if (xs.numel() > 0) {
             kernels::BatchNormBackwardParams p;
             p.dtype = dt;
             p.n = n;
             p.c = c;
             p.hw = hw;
             p.eps = eps;
             p.training = false;  // this replica's sums and gx0; the batch terms follow below
             p.act = act;
             p.x = xs.data_ptr();
             p.gy = gy.data_ptr();
             p.gamma = has_w ? ws.data_ptr() : nullptr;
             p.beta = has_b ? bs.data_ptr() : nullptr;
             p.fused_residual = has_r;
             p.y = has_r ? ys.data_ptr() : nullptr;
             p.gresidual = grads[3].defined() ? grads[3].data_ptr() : nullptr;
             p.running_mean = mean_s.data_ptr();
             p.running_var = var_s.data_ptr();
             p.gx = gx.defined() ? gx.data_ptr() : nullptr;
             p.ggamma = sum_gy_xhat.data_ptr();
             p.gbeta = sum_gy.data_ptr();
             kernels::select(kernels::batch_norm_backward_kernel, dev, kBatchNormFamily)(p);
           }
           if (node.needs_grad(1)) grads[1] = sum_gy_xhat;
           if (node.needs_grad(2)) grads[2] = sum_gy;
           // Every replica runs the same graph, so all of them skip this sum or none does.
           if (gx.defined()) {
             Tensor sums = concat({sum_gy.to(DType::f64), sum_gy_xhat.to(DType::f64)}, 0);
             reducer->sum_in_place(sums);
             if (xs.numel() > 0) {
               Tensor invstd = pow(var_s.to(DType::f64) + eps, -0.5);
               Tensor scale = has_w ? ws.to(DType::f64) * invstd : invstd;
               Tensor k2 = scale * invstd * sums.narrow(0, c, c) / (-total);
               Tensor k3 = scale * sums.narrow(0, 0, c) / (-total) - k2 * mean_s.to(DType::f64);
               gx.add_(xs * per_channel(k2.to(dt), dims)).add_(per_channel(k3.to(dt), dims));
             }
             grads[0] = gx;
           }
           return grads;
         });
  return y;
}

}  // namespace glia::detail
