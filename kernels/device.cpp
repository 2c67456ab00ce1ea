#include "kernels/device.h"

#include "kernels/dtype.h"
#include "kernels/error.h"
#include "kernels/runtime.h"

namespace glia {

const char* device_name(Device d) {
  switch (d) {
    case Device::cpu: return "cpu";
    case Device::sim: return "sim";
    case Device::cuda: return "cuda";
  }
  return "?";
}

const char* backend_name(Backend b) {
  switch (b) {
    case Backend::cpu: return "cpu";
    case Backend::sim: return "sim";
    case Backend::cuda: return "cuda";
    case Backend::cudnn: return "cudnn";
  }
  return "?";
}

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::cpu;
  if (name == "sim") return Device::sim;
  if (name == "cuda") return Device::cuda;
  GLIA_FAIL("unknown device '" << name << "' (expected cpu, sim or cuda)");
}

bool device_available(Device d) {
  switch (d) {
    case Device::cpu: return true;
    case Device::sim: return rt::backend_built(Device::sim);
    case Device::cuda: return rt::backend_built(Device::cuda) && rt::cuda_device_count() > 0;
  }
  return false;
}

std::string device_unavailable_reason(Device d) {
  switch (d) {
    case Device::cpu: return "";
    case Device::sim:
      return rt::backend_built(Device::sim) ? "" : "this glia was built without the SIMT emulator (GLIA_SIM=OFF)";
    case Device::cuda: return rt::cuda_unavailable_reason();
  }
  return "unknown device";
}

void require_device(Device d, const char* who) {
  const std::string why = device_unavailable_reason(d);
  GLIA_CHECK(why.empty(), who << ": device '" << device_name(d) << "' was requested but cannot be used: " << why);
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
    case DType::u8: return "uint8";
    case DType::f16: return "float16";
    case DType::bf16: return "bfloat16";
  }
  return "?";
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: case DType::i32: return 4;
    case DType::f64: case DType::i64: return 8;
    case DType::u8: return 1;
    case DType::f16: case DType::bf16: return 2;
  }
  return 0;
}

}  // namespace glia
