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
}

}  // namespace glia::kernels::GLIA_CUDA_NS
