// Host entry points of the hand-written CUDA kernels, one per registry slot. Declared in
// the namespace this translation unit is compiled for (cuda under nvcc, sim under the
// emulator) and registered by kernels/cuda/register.cu.
#pragma once
#include "kernels/batch_norm.h"
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

namespace glia::kernels::GLIA_CUDA_NS {

// elementwise.cu
void binary(const BinaryParams& p);
void unary(const UnaryParams& p);
void unary_backward(const UnaryBackwardParams& p);
void fill(const FillParams& p);
// copy.cu
void copy(const CopyParams& p);
// reduce.cu
void reduce(const ReduceParams& p);
// softmax.cu
void softmax(const SoftmaxParams& p);
void softmax_backward(const SoftmaxBackwardParams& p);
void cross_entropy(const CrossEntropyParams& p);
void cross_entropy_backward(const CrossEntropyBackwardParams& p);
void bce_with_logits(const BceWithLogitsParams& p);
void bce_with_logits_backward(const BceWithLogitsBackwardParams& p);
// gemm.cu
void gemm(const GemmParams& p);
// gemm_bf16.cu: dtype bf16, on tensor cores (gemm() routes there)
void gemm_bf16(const GemmParams& p);
// optim.cu
void adam_step(const AdamParams& p);
void adam_multi_step(const AdamMultiParams& p);
void sgd_step(const SgdParams& p);
// conv2d.cu
void conv2d(const Conv2dParams& p);
void conv2d_backward_input(const Conv2dBackwardInputParams& p);
void conv2d_backward_weight(const Conv2dBackwardWeightParams& p);
void conv2d_backward_bias(const Conv2dBackwardBiasParams& p);
// conv2d_depthwise.cu: groups == C_in == C_out, float32/float64 (the conv2d*() entry points route there)
void conv2d_depthwise(const Conv2dParams& p);
void conv2d_backward_input_depthwise(const Conv2dBackwardInputParams& p);
void conv2d_backward_weight_depthwise(const Conv2dBackwardWeightParams& p);
// conv2d_bf16.cu: dtype bf16, implicit GEMM on tensor cores (the conv2d*() entry points route there)
void conv2d_bf16(const Conv2dParams& p);
void conv2d_backward_input_bf16(const Conv2dBackwardInputParams& p);
void conv2d_backward_weight_bf16(const Conv2dBackwardWeightParams& p);
void conv2d_backward_bias_bf16(const Conv2dBackwardBiasParams& p);
// conv_transpose2d.cu
void conv_transpose2d(const ConvTranspose2dParams& p);
void conv_transpose2d_backward_input(const ConvTranspose2dBackwardInputParams& p);
void conv_transpose2d_backward_weight(const ConvTranspose2dBackwardWeightParams& p);
// batch_norm.cu
void batch_norm(const BatchNormParams& p);
void batch_norm_backward(const BatchNormBackwardParams& p);
// pool.cu
void max_pool2d(const MaxPool2dParams& p);
void max_pool2d_backward(const MaxPool2dBackwardParams& p);
void avg_pool2d(const AvgPool2dParams& p);
void avg_pool2d_backward(const AvgPool2dBackwardParams& p);
void adaptive_avg_pool2d(const AdaptiveAvgPool2dParams& p);
void adaptive_avg_pool2d_backward(const AdaptiveAvgPool2dBackwardParams& p);
void global_avg_pool(const GlobalAvgPoolParams& p);
void global_avg_pool_backward(const GlobalAvgPoolBackwardParams& p);
// dropout.cu
void dropout(const DropoutParams& p);
void dropout_backward(const DropoutBackwardParams& p);
void stochastic_depth(const StochasticDepthParams& p);
// resample.cu
void upsample2d(const Upsample2dParams& p);
void upsample2d_backward(const Upsample2dBackwardParams& p);

}  // namespace glia::kernels::GLIA_CUDA_NS
