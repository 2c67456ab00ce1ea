// Helpers shared by tensor/nn_*.cpp (not public API): the conv family's environment name
// and "does this device have the family's kernel yet" — when not, the op is composed
// from tensor/ops.h on the same device instead (never moved to another device).
#pragma once
#include "kernels/registry.h"
#include "tensor/tensor.h"

namespace glia::detail {

constexpr const char* kConvFamily = "GLIA_CONV";

template <class Fn>
bool has_kernel(const kernels::KernelSlot<Fn>& slot, Device device) {
  Backend b = kernels::backend_for(device, kConvFamily);
  if (b == Backend::cudnn && !slot.has(b)) b = Backend::cuda;
  return slot.has(b);
}

}  // namespace glia::detail
