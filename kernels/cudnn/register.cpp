// Every cuDNN / cuBLAS kernel glia has, registered as Backend::cudnn. On device cuda,
// backend_for() prefers these where a slot has one (GLIA_<FAMILY>=hand|cudnn|auto).
#include "kernels/cudnn/cudnn_kernels.h"
#include "kernels/registry.h"

namespace glia::kernels::cudnn {

void register_kernels() {
  constexpr Backend b = Backend::cudnn;
  gemm_kernel.set(b, &gemm);
  conv2d_kernel.set(b, &conv2d);
  conv2d_backward_input_kernel.set(b, &conv2d_backward_input);
  conv2d_backward_weight_kernel.set(b, &conv2d_backward_weight);
  conv2d_backward_bias_kernel.set(b, &conv2d_backward_bias);
  conv_transpose2d_kernel.set(b, &conv_transpose2d);
  conv_transpose2d_backward_input_kernel.set(b, &conv_transpose2d_backward_input);
  conv_transpose2d_backward_weight_kernel.set(b, &conv_transpose2d_backward_weight);
  batch_norm_kernel.set(b, &batch_norm);
  batch_norm_backward_kernel.set(b, &batch_norm_backward);
  avg_pool2d_kernel.set(b, &avg_pool2d);
}

}  // namespace glia::kernels::cudnn
