// Entry points of the cuDNN / cuBLAS backend (real-CUDA builds with GLIA_HAVE_CUDNN),
// registered as Backend::cudnn by kernels/cudnn/register.cpp.
#pragma once
#include "kernels/batch_norm.h"
#include "kernels/conv2d.h"
#include "kernels/conv_transpose2d.h"
#include "kernels/gemm.h"
#include "kernels/pool.h"

namespace glia::kernels::cudnn {

void gemm(const GemmParams& p);  // gemm_cublas.cpp

// conv_cudnn.cpp
void conv2d(const Conv2dParams& p);
void conv2d_backward_input(const Conv2dBackwardInputParams& p);
void conv2d_backward_weight(const Conv2dBackwardWeightParams& p);
void conv2d_backward_bias(const Conv2dBackwardBiasParams& p);
void conv_transpose2d(const ConvTranspose2dParams& p);
void conv_transpose2d_backward_input(const ConvTranspose2dBackwardInputParams& p);
void conv_transpose2d_backward_weight(const ConvTranspose2dBackwardWeightParams& p);

// batch_norm_cudnn.cpp
void batch_norm(const BatchNormParams& p);
void batch_norm_backward(const BatchNormBackwardParams& p);

// pool_cudnn.cpp
void avg_pool2d(const AvgPool2dParams& p);

}  // namespace glia::kernels::cudnn
