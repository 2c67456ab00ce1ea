// Every hand-written CUDA kernel, registered for the backend this file is compiled for:
// Backend::cuda under nvcc, Backend::sim under the emulator.
#include "kernels/registry.h"

namespace glia::kernels::GLIA_CUDA_NS {

void register_kernels() {}

}  // namespace glia::kernels::GLIA_CUDA_NS
