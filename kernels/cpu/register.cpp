// Every CPU kernel glia has, registered in its slot. A new CPU kernel adds one line here.
#include "kernels/batch_norm.h"
#include "kernels/cpu/blas.h"
#include "kernels/conv2d.h"
#include "kernels/conv_transpose2d.h"
#include "kernels/copy.h"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/optim.h"
#include "kernels/pool.h"
#include "kernels/reduce.h"
#include "kernels/resample.h"
#include "kernels/softmax.h"

namespace glia::kernels::cpu {

void register_kernels() {
  constexpr Backend b = Backend::cpu;
  use_one_blas_thread();  // OpenMP does the threading (kernels/cpu/blas.h)
  binary_kernel.set(b, &binary);
  unary_kernel.set(b, &unary);
  unary_backward_kernel.set(b, &unary_backward);
  fill_kernel.set(b, &fill);
  copy_kernel.set(b, &copy);
  reduce_kernel.set(b, &reduce);
  gemm_kernel.set(b, &gemm);
  softmax_kernel.set(b, &softmax);
  softmax_backward_kernel.set(b, &softmax_backward);
  cross_entropy_kernel.set(b, &cross_entropy);
  cross_entropy_backward_kernel.set(b, &cross_entropy_backward);
  bce_with_logits_kernel.set(b, &bce_with_logits);
  bce_with_logits_backward_kernel.set(b, &bce_with_logits_backward);

  // Optimizer updates.
  adam_step_kernel.set(b, &adam_step);
  adam_multi_step_kernel.set(b, &adam_multi_step);
  sgd_step_kernel.set(b, &sgd_step);

  // Layer kernels (conv family, normalisation, pooling, dropout, resampling).
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

}  // namespace glia::kernels::cpu
