// Every hand-written CUDA kernel, registered for the backend this file is compiled for:
// Backend::cuda under nvcc, Backend::sim under the emulator.
#include "kernels/cuda/kernels.cuh"
#include "kernels/registry.h"

namespace glia::kernels::GLIA_CUDA_NS {

void register_kernels() {
  constexpr Backend b = Backend::GLIA_CUDA_NS;
  binary_kernel.set(b, &binary);
  unary_kernel.set(b, &unary);
  unary_backward_kernel.set(b, &unary_backward);
  fill_kernel.set(b, &fill);
  adam_step_kernel.set(b, &adam_step);
  adam_multi_step_kernel.set(b, &adam_multi_step);
  sgd_step_kernel.set(b, &sgd_step);
  copy_kernel.set(b, &copy);
  reduce_kernel.set(b, &reduce);
  softmax_kernel.set(b, &softmax);
  softmax_backward_kernel.set(b, &softmax_backward);
  cross_entropy_kernel.set(b, &cross_entropy);
  cross_entropy_backward_kernel.set(b, &cross_entropy_backward);
  bce_with_logits_kernel.set(b, &bce_with_logits);
  bce_with_logits_backward_kernel.set(b, &bce_with_logits_backward);
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
  max_pool2d_kernel.set(b, &max_pool2d);
  max_pool2d_backward_kernel.set(b, &max_pool2d_backward);
  avg_pool2d_kernel.set(b, &avg_pool2d);
  avg_pool2d_backward_kernel.set(b, &avg_pool2d_backward);
  adaptive_avg_pool2d_kernel.set(b, &adaptive_avg_pool2d);
  adaptive_avg_pool2d_backward_kernel.set(b, &adaptive_avg_pool2d_backward);
  global_avg_pool_kernel.set(b, &global_avg_pool);
  global_avg_pool_backward_kernel.set(b, &global_avg_pool_backward);
  dropout_kernel.set(b, &dropout);
  dropout_backward_kernel.set(b, &dropout_backward);
  stochastic_depth_kernel.set(b, &stochastic_depth);
  upsample2d_kernel.set(b, &upsample2d);
  upsample2d_backward_kernel.set(b, &upsample2d_backward);
}

}  // namespace glia::kernels::GLIA_CUDA_NS
