// Host entry points of the hand-written CUDA kernels, one per registry slot. Declared in
// the namespace this translation unit is compiled for (cuda under nvcc, sim under the
// emulator) and registered by kernels/cuda/register.cu.
#pragma once
#include "kernels/copy.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/reduce.h"
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

}  // namespace glia::kernels::GLIA_CUDA_NS
