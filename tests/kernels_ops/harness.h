// What every suite of the cross-backend kernel harness shares (cases in
// tests/kernels_ops/cases.h): the backends a case runs on, device buffers, and the
// comparison against the float64 reference.
//
// Backends: cpu and sim always (sim in checked mode: guarded 256-byte aligned buffers and
// every block run in several thread orders, so out-of-bounds accesses, races and reads of
// unwritten shared memory are errors); cuda when a GPU is present; cudnn too, for the
// slots that have a library variant. A slot with no cpu, sim or cuda kernel is not
// skipped: get() throws, naming the op and the backend, and the test fails.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/device.h"
#include "kernels/dtype.h"
#include "kernels/registry.h"
#include "kernels/runtime.h"
#include "kernels/sim/launch.h"
#include "tests/kernels_ops/cases.h"
#include "tests/support/random_data.h"

namespace glia::test::ops {

inline Device device_of(Backend b) {
  return b == Backend::cpu ? Device::cpu : b == Backend::sim ? Device::sim : Device::cuda;
}

// with_library: the family has cuDNN/cuBLAS variants for some slots (cudnn is then one
// more backend, and its tests run only the slots it has).
inline std::vector<Backend> harness_backends(bool with_library = false) {
  std::vector<Backend> out{Backend::cpu, Backend::sim};
  if (device_available(Device::cuda)) {
    out.push_back(Backend::cuda);
    if (with_library) out.push_back(Backend::cudnn);
  }
  return out;
}

inline std::string backend_param_name(const ::testing::TestParamInfo<Backend>& info) {
  return backend_name(info.param);
}

// Base of every harness suite, parameterised by backend.
class OpTest : public ::testing::TestWithParam<Backend> {
 public:
  // Whether backend b runs a slot: cudnn only where the slot has a library variant (most
  // have none); cpu, sim and cuda always (a missing kernel then fails in get()).
  static bool runs_on(const kernels::KernelSlotBase& slot, Backend b) {
    return b != Backend::cudnn || slot.has(Backend::cudnn);
  }

 protected:
  void SetUp() override {
    was_checked_ = sim::checked();
    sim::set_checked(true);
  }
  void TearDown() override { sim::set_checked(was_checked_); }
  Backend backend() const { return GetParam(); }

  bool runs(const kernels::KernelSlotBase& slot) const { return runs_on(slot, GetParam()); }
  // Whether a case of this size runs here: sim only takes the small ones.
  bool fits(double work) const { return GetParam() != Backend::sim || work <= kSimMaxWork; }

 private:
  bool was_checked_ = false;
};

// Runs `body` once per float type, so every case is checked in float32 and float64.
template <class Body>
void for_float_types(Body&& body) {
  body(float{});
  body(double{});
}

// n elements of T on the device of backend b, NaN-filled (max for integers) until written
// so an output element a kernel forgets to write shows up.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer(Backend b, size_t n) : device_(device_of(b)), n_(n), ptr_(rt::alloc(device_, alloc_bytes())) {
    upload(poisoned<T>(n));
  }
  DeviceBuffer(Backend b, const std::vector<T>& host) : DeviceBuffer(b, host.size()) { upload(host); }
  ~DeviceBuffer() { rt::release(device_, ptr_, alloc_bytes()); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* data() { return static_cast<T*>(ptr_); }
  size_t size() const { return n_; }
  void upload(const std::vector<T>& host) {
    if (host.size() != n_) throw std::runtime_error("DeviceBuffer::upload: size mismatch");
    if (n_ > 0) rt::copy(ptr_, device_, host.data(), Device::cpu, bytes());
  }
  std::vector<T> download() const {
    rt::synchronize(device_);
    std::vector<T> host(n_);
    if (n_ > 0) rt::copy(host.data(), Device::cpu, ptr_, device_, bytes());
    return host;
  }

 private:
  size_t bytes() const { return n_ * sizeof(T); }
  size_t alloc_bytes() const { return n_ == 0 ? sizeof(T) : bytes(); }  // a valid pointer even when empty
  Device device_;
  size_t n_;
  void* ptr_;
};

// Unit roundoff of T: the tolerances below are multiples of it.
template <class T>
constexpr double unit_roundoff() {
  return std::is_same_v<T, float> ? 0x1p-24 : 0x1p-53;
}

// |got_i - ref_i| <= tol * bound_i for every i, with bound_i what rounding can reach (for
// a sum, the sum of |terms|). NaN in got where ref is not (an unwritten output) fails;
// equal infinities pass. Names the first element that fails.
template <class T>
::testing::AssertionResult close_to(const std::vector<T>& got, const std::vector<double>& ref,
                                    const std::vector<double>& bound, double tol) {
  if (got.size() != ref.size() || bound.size() != ref.size())
    return ::testing::AssertionFailure() << "size " << got.size() << ", expected " << ref.size();
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = double(got[i]), r = ref[i];
    if (std::isnan(r) && std::isnan(g)) continue;
    if (std::isinf(r) && g == r) continue;
    if (!(std::fabs(g - r) <= tol * bound[i]))
      return ::testing::AssertionFailure() << "element " << i << ": got " << g << ", expected " << r
                                           << " (tolerance " << tol * bound[i] << ")";
  }
  return ::testing::AssertionSuccess();
}

// Bound max(|ref_i|, floor): relative error, absolute below `floor`.
inline std::vector<double> magnitude(const std::vector<double>& ref, double floor) {
  std::vector<double> b(ref.size());
  for (size_t i = 0; i < ref.size(); ++i) b[i] = std::max(std::fabs(ref[i]), floor);
  return b;
}

template <class T>
::testing::AssertionResult close_rel(const std::vector<T>& got, const std::vector<double>& ref, double floor,
                                     double ulps) {
  return close_to(got, ref, magnitude(ref, floor), ulps * unit_roundoff<T>());
}

// "name f32 on sim": for failure messages.
template <class T>
std::string what(const std::string& name, Backend b) {
  return name + " " + dtype_name(dtype_of<T>::value) + " on " + backend_name(b);
}

}  // namespace glia::test::ops
