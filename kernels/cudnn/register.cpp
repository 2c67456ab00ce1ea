// Every cuDNN / cuBLAS kernel glia has, registered as Backend::cudnn. On device cuda,
// backend_for() prefers these where a slot has one (GLIA_<FAMILY>=hand|cudnn|auto).
#include "kernels/cudnn/cudnn_kernels.h"
#include "kernels/registry.h"

namespace glia::kernels::cudnn {

void register_kernels() {
  constexpr Backend b = Backend::cudnn;
  gemm_kernel.set(b, &gemm);
}

}  // namespace glia::kernels::cudnn
