// Helpers shared by tensor/nn_*.cpp (not public API): each op family's environment
// switch and "does this device have the family's kernel yet" — when not, the op is
// composed from tensor/ops.h on the same device instead (never moved to another device).
//
// On cuda, GLIA_CONV picks the convolutions' backend, GLIA_BN batch norm's and
// GLIA_POOL pooling's (hand|cudnn|auto, kernels/registry.h); one switch per family, so
// trying cuDNN's convolutions does not silently change how batch norm runs.
#pragma once
#include <memory>

#include "kernels/batch_norm.h"
#include "kernels/registry.h"
#include "tensor/tensor.h"

namespace glia {
class CrossReplicaReducer;
}

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

// batch_norm in training mode with statistics over every replica's batch
// (tensor/cross_replica.h), on the device's batch_norm kernels; tensor/nn_norm_sync.cpp.
// batch_norm() has checked the arguments.
Tensor batch_norm_synced(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                         const Tensor& running_var, double momentum, double eps, kernels::NormActivation act,
                         const Tensor& residual, std::shared_ptr<CrossReplicaReducer> reducer);

}  // namespace glia::detail
