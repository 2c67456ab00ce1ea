// Entry points of the cuDNN / cuBLAS backend (real-CUDA builds with GLIA_HAVE_CUDNN),
// registered as Backend::cudnn by kernels/cudnn/register.cpp.
#pragma once
#include "kernels/gemm.h"

namespace glia::kernels::cudnn {

void gemm(const GemmParams& p);  // gemm_cublas.cpp

}  // namespace glia::kernels::cudnn
