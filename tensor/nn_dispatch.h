// Helpers shared by tensor/nn_*.cpp (not public API): each op family's environment
// switch and "does this device have the family's kernel yet" — when not, the op is
// composed from tensor/ops.h on the same device instead (never moved to another device).
//
// On cuda, GLIA_CONV picks the convolutions' backend, GLIA_BN batch norm's and
// GLIA_POOL pooling's (hand|cudnn|auto, kernels/registry.h); one switch per family, so
// trying cuDNN's convolutions does not silently change how batch norm runs.
#pragma once
#include "kernels/registry.h"
#include "tensor/tensor.h"

namespace glia::detail {

constexpr const char* kConvFamily = "GLIA_CONV";
constexpr const char* kBatchNormFamily = "GLIA_BN";
constexpr const char* kPoolFamily = "GLIA_POOL";

template <class Fn>
bool has_kernel(const kernels::KernelSlot<Fn>& slot, Device device, const char* family_env_name) {
  Backend b = kernels::backend_for(device, family_env_name);
  if (b == Backend::cudnn && !slot.has(b)) b = Backend::cuda;
  return slot.has(b);
}

}  // namespace glia::detail
