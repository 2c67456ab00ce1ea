#include "kernels/runtime.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "kernels/error.h"

#ifdef GLIA_HAVE_CUDA
#include "kernels/cuda/cuda_runtime_wrappers.h"
#endif
#ifdef GLIA_HAVE_SIM
#include "kernels/sim/launch.h"
#include "kernels/sim/memory.h"
#endif

namespace glia::rt {
namespace {

constexpr size_t kHostAlignment = 64;  // one cache line; also enough for AVX-512 loads

std::atomic<size_t> g_in_use[kNumDevices];
std::atomic<size_t> g_peak[kNumDevices];

void account(Device d, ptrdiff_t delta) {
  auto& used = g_in_use[static_cast<int>(d)];
  size_t now = used.fetch_add(static_cast<size_t>(delta)) + static_cast<size_t>(delta);
  auto& peak = g_peak[static_cast<int>(d)];
  size_t p = peak.load();
  while (now > p && !peak.compare_exchange_weak(p, now)) {
  }
}

void* host_alloc(size_t bytes, Device d) {
  size_t rounded = (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
  void* p = std::aligned_alloc(kHostAlignment, rounded == 0 ? kHostAlignment : rounded);
  GLIA_CHECK(p != nullptr, "out of memory on " << device_name(d) << ": could not allocate " << bytes << " bytes");
  return p;
}

}  // namespace

bool backend_built(Device d) {
  switch (d) {
    case Device::cpu: return true;
    case Device::sim:
#ifdef GLIA_HAVE_SIM
      return true;
#else
      return false;
#endif
    case Device::cuda:
#ifdef GLIA_HAVE_CUDA
      return true;
#else
      return false;
#endif
  }
  return false;
}

int cuda_device_count() {
#ifdef GLIA_HAVE_CUDA
  return cuda_rt::device_count();
#else
  return 0;
#endif
}

void* alloc(Device d, size_t bytes) {
  GLIA_CHECK(backend_built(d), "device '" << device_name(d) << "' is not built into this glia");
  void* p = nullptr;
  if (d == Device::cuda) {
#ifdef GLIA_HAVE_CUDA
    p = cuda_rt::alloc(bytes);
#endif
  } else {
#ifdef GLIA_HAVE_SIM
    // Checked mode: the buffer ends at a guard page, so a kernel reading or writing past
    // its end faults and the emulator names the kernel, block and thread.
    p = d == Device::sim && sim::checked() ? sim::guarded_alloc(bytes) : host_alloc(bytes, d);
#else
    p = host_alloc(bytes, d);
#endif
    if (d == Device::sim) {
      // Poison: a kernel that reads what it never wrote sees NaN (floats) or 0x7fc00000.
      float nan = std::numeric_limits<float>::quiet_NaN();
      auto* f = static_cast<float*>(p);
      for (size_t i = 0; i < bytes / sizeof(float); ++i) f[i] = nan;
    }
  }
  account(d, static_cast<ptrdiff_t>(bytes));
  return p;
}

void release(Device d, void* ptr, size_t bytes) {
  if (ptr == nullptr) return;
  if (d == Device::cuda) {
#ifdef GLIA_HAVE_CUDA
    cuda_rt::release(ptr, bytes);
#endif
  } else {
#ifdef GLIA_HAVE_SIM
    if (d == Device::sim && sim::guarded_release(ptr)) {
      account(d, -static_cast<ptrdiff_t>(bytes));
      return;
    }
#endif
    std::free(ptr);
  }
  account(d, -static_cast<ptrdiff_t>(bytes));
}

void copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (bytes == 0) return;
  if (host_addressable(dst_device) && host_addressable(src_device)) {
    std::memcpy(dst, src, bytes);
    return;
  }
#ifdef GLIA_HAVE_CUDA
  cuda_rt::copy(dst, dst_device == Device::cuda, src, src_device == Device::cuda, bytes);
#else
  GLIA_FAIL("copy involving device 'cuda' in a build without CUDA");
#endif
}

void synchronize(Device d) {
  if (d == Device::cuda) {
#ifdef GLIA_HAVE_CUDA
    cuda_rt::synchronize();
#endif
  }
}

size_t bytes_in_use(Device d) { return g_in_use[static_cast<int>(d)].load(); }
size_t peak_bytes(Device d) { return g_peak[static_cast<int>(d)].load(); }

}  // namespace glia::rt
