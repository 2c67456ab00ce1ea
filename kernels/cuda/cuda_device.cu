// Why device cuda cannot be used (cuda_rt::device_error), with the CUDA runtime's own
// words: "no GPU" and "a driver too old for this runtime" need different fixes, and a
// check that asked for cuda must say which it is. Real-CUDA builds only; empty for sim.
#if defined(__CUDACC__)
#include <cuda_runtime.h>

#include <string>

#include "kernels/cuda/cuda_runtime_wrappers.h"

namespace glia::cuda_rt {

std::string device_error() {
  int n = 0;
  const cudaError_t status = cudaGetDeviceCount(&n);
  if (status != cudaSuccess) {
    cudaGetLastError();  // clear the sticky status
    return std::string("cudaGetDeviceCount failed: ") + cudaGetErrorName(status) + " (" +
           cudaGetErrorString(status) + ")";
  }
  if (n == 0) return "cudaGetDeviceCount found no CUDA device (check CUDA_VISIBLE_DEVICES and nvidia-smi)";
  return "";
}

}  // namespace glia::cuda_rt

#endif  // __CUDACC__
