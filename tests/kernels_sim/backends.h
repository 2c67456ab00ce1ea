// What the kernels_sim suites share: the backends that run the hand-written CUDA kernels
// here (sim always; cuda when a GPU is present; cudnn for the families it implements)
// and a device buffer that uploads and downloads host vectors.
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/device.h"
#include "kernels/registry.h"
#include "kernels/runtime.h"
#include "kernels/sim/launch.h"
#include "tests/support/random_data.h"

namespace glia::test {

inline Device device_of(Backend b) { return b == Backend::sim ? Device::sim : Device::cuda; }

// sim, plus cuda (and cudnn when asked and built) when this machine has a GPU.
inline std::vector<Backend> gpu_backends(bool with_cudnn = false) {
  std::vector<Backend> out{Backend::sim};
  if (device_available(Device::cuda)) {
    out.push_back(Backend::cuda);
    if (with_cudnn) out.push_back(Backend::cudnn);  // suites skip it where the slot has none
  }
  return out;
}

inline std::string backend_param_name(const ::testing::TestParamInfo<Backend>& info) {
  return backend_name(info.param);
}

// Base of every kernels_sim suite, parameterised by backend. Runs sim in checked mode:
// guarded, 256-byte aligned allocations (an out-of-bounds access is an error naming the
// kernel; float4 paths run) and every block run in three thread orders (a race between
// barriers, or a read of shared memory nobody wrote, is an error).
class KernelTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    was_checked_ = sim::checked();
    sim::set_checked(true);
  }
  void TearDown() override { sim::set_checked(was_checked_); }

 private:
  bool was_checked_ = false;
};

// n elements of T on the device that runs backend b, NaN-filled (max for integers) until
// written, so an output element a kernel forgets to write shows up.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer(Backend b, size_t n) : device_(device_of(b)), n_(n), ptr_(rt::alloc(device_, alloc_bytes())) {
    if (device_ == Device::cuda) upload(poisoned<T>(n));  // cuda memory is not NaN-filled by itself
  }
  DeviceBuffer(Backend b, const std::vector<T>& host) : DeviceBuffer(b, host.size()) { upload(host); }
  ~DeviceBuffer() { rt::release(device_, ptr_, alloc_bytes()); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* data() { return static_cast<T*>(ptr_); }
  size_t size() const { return n_; }
  void upload(const std::vector<T>& host) {
    ASSERT_EQ(host.size(), n_);
    rt::copy(ptr_, device_, host.data(), Device::cpu, bytes());
  }
  std::vector<T> download() const {
    rt::synchronize(device_);
    std::vector<T> host(n_);
    rt::copy(host.data(), Device::cpu, ptr_, device_, bytes());
    return host;
  }

 private:
  size_t bytes() const { return n_ * sizeof(T); }
  size_t alloc_bytes() const { return n_ == 0 ? sizeof(T) : bytes(); }  // a valid pointer even when empty
  Device device_;
  size_t n_;
  void* ptr_;
};

}  // namespace glia::test
