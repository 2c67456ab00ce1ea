// Devices a tensor can live on, and the backends that run kernels for them.
//   cpu  : host memory, kernels/cpu
//   sim  : host memory, the hand-written kernels/cuda/*.cu run by the SIMT emulator
//   cuda : GPU memory, kernels/cuda (hand-written) or kernels/cudnn (cuDNN/cuBLAS)
#pragma once
#include <string>

namespace glia {

enum class Device { cpu, sim, cuda };
constexpr int kNumDevices = 3;

enum class Backend { cpu, sim, cuda, cudnn };
constexpr int kNumBackends = 4;

const char* device_name(Device d);
const char* backend_name(Backend b);
Device parse_device(const std::string& name);  // "cpu" | "sim" | "cuda", else Error

// True when this build can run on the device (sim: built with GLIA_SIM; cuda: built
// with CUDA and a GPU is present at run time).
bool device_available(Device d);
// Why the device cannot be used ("" when it can): for cuda the CUDA runtime's own error
// (no driver, a driver too old for the runtime, no device visible, ...).
std::string device_unavailable_reason(Device d);
// For a device the user asked for by name (a flag, GLIA_TEST_DEVICES): an Error
// "<who>: device 'cuda' was requested but cannot be used: <reason>" unless it can.
// Quietly running on fewer devices than asked for would make a broken GPU look green.
void require_device(Device d, const char* who);

// The backend that runs hand-written kernels for a device.
inline Backend hand_backend(Device d) {
  return d == Device::cpu ? Backend::cpu : d == Device::sim ? Backend::sim : Backend::cuda;
}

// Host-addressable memory: cpu and sim tensors can be read directly by the host.
inline bool host_addressable(Device d) { return d != Device::cuda; }

}  // namespace glia
