// Kernel registry: one slot per op family entry point, one function per backend.
//
// A family header (e.g. kernels/elementwise.h) declares its parameter struct, each
// backend's function, and a slot:
//     inline KernelSlot<void(const BinaryParams&)> binary_kernel{"binary"};
// Each backend lists what it implements in one registration function
// (kernels/cpu/register.cpp, kernels/cuda/register.cu, kernels/cudnn/register.cpp), so
// adding a device means one new list, not an edit to every op. Asking a slot for a
// backend that has no kernel is an Error naming the op and the backend: glia never
// falls back to another device silently.
#pragma once
#include <array>
#include <cstdlib>
#include <string>
#include <vector>

#include "kernels/device.h"
#include "kernels/error.h"
#include "kernels/profile.h"

namespace glia::kernels {

// Fills every slot the built backends implement; safe to call many times.
void ensure_registered();

// What every slot is, whatever its signature: a name and which backends fill it. Each slot
// adds itself to all_kernel_slots() when constructed, so a test can ask every slot of the
// build for its backends (tests/kernels_ops/registry_test.cpp) without a list to forget.
class KernelSlotBase {
 public:
  explicit KernelSlotBase(const char* name);
  KernelSlotBase(const KernelSlotBase&) = delete;
  KernelSlotBase& operator=(const KernelSlotBase&) = delete;
  const char* name() const { return name_; }
  bool has(Backend b) const {
    ensure_registered();
    return filled_[static_cast<int>(b)];
  }

 protected:
  const char* name_;
  std::array<bool, kNumBackends> filled_{};
};

// Every slot constructed so far (all of them once static initialisation is over).
const std::vector<const KernelSlotBase*>& all_kernel_slots();

template <class Fn>
class KernelSlot : public KernelSlotBase {
 public:
  explicit KernelSlot(const char* name) : KernelSlotBase(name) {}
  void set(Backend b, Fn* fn) {
    impl_[static_cast<int>(b)] = fn;
    filled_[static_cast<int>(b)] = fn != nullptr;
  }
  Fn& get(Backend b) const {
    ensure_registered();
    Fn* fn = impl_[static_cast<int>(b)];
    GLIA_CHECK(fn != nullptr, "op '" << name_ << "' has no kernel on backend '" << backend_name(b) << "'");
    return *fn;
  }

 private:
  std::array<Fn*, kNumBackends> impl_{};
};

// Which backend runs an op family on `device`. On cuda, the family's environment variable
// (GLIA_CONV for convolutions, GLIA_BN batch norm, GLIA_POOL pooling, GLIA_GEMM matrix
// products; each hand|cudnn|auto) picks the hand-written kernel or the cuDNN/cuBLAS one;
// auto (default) prefers the library where the slot has it. Any other value is an Error
// naming the variable, on every device.
Backend backend_for(Device device, const char* family_env_name);

// What select() returns: the backend's kernel, called like it. The call is where the
// profiler sees every kernel (kernels/profile.h): while a recording is on it records one
// op span with the family's cost(); on cuda it opens an NVTX range named after the op.
// Off, the extra work is one branch on a thread-local flag.
template <class Fn>
class Launch;
template <class P>
class Launch<void(const P&)> {
 public:
  Launch(const char* name, void (*fn)(const P&), Backend backend) : name_(name), fn_(fn), backend_(backend) {}
  void operator()(const P& p) const {
#ifdef GLIA_HAVE_CUDA
    const bool gpu = backend_ == Backend::cuda || backend_ == Backend::cudnn;
    if (gpu) prof::nvtx_push(name_);
#endif
    if (prof::on()) {
      const int span = prof::open(prof::Kind::op, name_, cost(p));  // cost(): kernels/<family>.h
      fn_(p);
      prof::close(span);
    } else {
      fn_(p);
    }
#ifdef GLIA_HAVE_CUDA
    if (gpu) prof::nvtx_pop();
#endif
  }
  Backend backend() const { return backend_; }

 private:
  const char* name_;
  void (*fn_)(const P&);
  Backend backend_;
};

template <class Fn>
Launch<Fn> select(const KernelSlot<Fn>& slot, Device device, const char* family_env_name = nullptr) {
  Backend b = backend_for(device, family_env_name);
  if (b == Backend::cudnn && !slot.has(Backend::cudnn)) b = Backend::cuda;
  return Launch<Fn>(slot.name(), &slot.get(b), b);
}

}  // namespace glia::kernels
