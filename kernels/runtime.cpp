#include "kernels/runtime.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include "kernels/block_cache.h"
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

// AddressSanitizer must see every free, or a block handed out again would hide a
// use-after-free: sanitizer builds (GLIA_SANITIZE adds -fsanitize=address) never cache.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// Default cap on cached host bytes. The cache only ever holds blocks that tensors used
// and freed, so a training loop needs about one step's peak to hit every time (B1 at
// batch 8: ~1.5 GiB; batch 32: ~4x); past the cap the least recently freed blocks go
// back to the system.
constexpr size_t kDefaultCpuCacheMiB = 4096;

void free_host_block(void* p) { std::free(p); }

BlockCache& cpu_cache() {
  // Never destroyed: tensors may be released during exit, after static destructors.
  static BlockCache* cache = new BlockCache(free_host_block, cpu_cache_limit_from_env());
  return *cache;
}

void* host_alloc(size_t bytes, Device d) {
  size_t rounded = (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
  void* p = std::aligned_alloc(kHostAlignment, rounded == 0 ? kHostAlignment : rounded);
  if (p == nullptr && cpu_cache().cached_bytes() > 0) {
    cpu_cache().empty();  // host memory cached in other buckets may make room (for sim too)
    p = std::aligned_alloc(kHostAlignment, rounded == 0 ? kHostAlignment : rounded);
  }
  GLIA_CHECK(p != nullptr, "out of memory on " << device_name(d) << ": could not allocate " << bytes << " bytes ("
                                               << bytes_in_use(d) << " bytes already in use by tensors)");
  return p;
}

// cpu: every block is allocated at its bucket size, whether or not the cache is on now,
// so that any block may enter the cache later (set_cpu_cache_limit) and serve every
// request of its bucket. With a limit of 0 the cache is empty and give() frees at once.
void* cpu_alloc_unpoisoned(size_t bytes) {
  if (kSanitized) return host_alloc(bytes, Device::cpu);
  size_t bucket = BlockCache::bucket_size(bytes);
  if (void* p = cpu_cache().take(bucket)) return p;
  return host_alloc(bucket, Device::cpu);
}

void poison(void* p, size_t bytes) {
  // A kernel that reads what it never wrote sees NaN (floats) or 0x7fc00000.
  float nan = std::numeric_limits<float>::quiet_NaN();
  auto* f = static_cast<float*>(p);
  for (size_t i = 0; i < bytes / sizeof(float); ++i) f[i] = nan;
}

// GLIA_CPU_POISON=1: cpu blocks, fresh or reused, come filled with NaN like sim's, to
// find code that reads a tensor before writing it (a reused block holds old data, and
// even a fresh mmapped one reads as zeros, which can hide such a bug).
bool cpu_poison_from_env() {
  const char* text = std::getenv("GLIA_CPU_POISON");
  return text != nullptr && std::string(text) == "1";
}

void* cpu_alloc(size_t bytes) {
  static const bool poisoned = cpu_poison_from_env();
  void* p = cpu_alloc_unpoisoned(bytes);
  if (poisoned) poison(p, bytes);
  return p;
}

void cpu_release(void* ptr, size_t bytes) {
  if (kSanitized) {
    std::free(ptr);
    return;
  }
  cpu_cache().give(ptr, BlockCache::bucket_size(bytes));
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

std::string cuda_unavailable_reason() {
#ifdef GLIA_HAVE_CUDA
  return cuda_rt::device_error();
#else
  return "this glia was built without CUDA (configure with -DGLIA_CUDA=ON on a machine with the CUDA toolkit)";
#endif
}

bool sync_after_launch_from_env() {
  const char* text = std::getenv("GLIA_CUDA_SYNC");
  if (text == nullptr || *text == '\0') return false;
  const std::string value(text);
  GLIA_CHECK(value == "0" || value == "1", "GLIA_CUDA_SYNC='" << value << "' is not 0 or 1");
  return value == "1";
}

namespace {
std::atomic<int> g_sync_after_launch{-1};  // -1: not read from the environment yet
}  // namespace

bool sync_after_launch() {
  int v = g_sync_after_launch.load(std::memory_order_relaxed);
  if (v < 0) {
    v = sync_after_launch_from_env() ? 1 : 0;
    g_sync_after_launch.store(v, std::memory_order_relaxed);
  }
  return v == 1;
}

void set_sync_after_launch(bool on) { g_sync_after_launch.store(on ? 1 : 0, std::memory_order_relaxed); }

void* alloc(Device d, size_t bytes) {
  GLIA_CHECK(backend_built(d), "device '" << device_name(d) << "' is not built into this glia");
  void* p = nullptr;
  if (d == Device::cuda) {
#ifdef GLIA_HAVE_CUDA
    p = cuda_rt::alloc(bytes);
#endif
  } else if (d == Device::cpu) {
    p = cpu_alloc(bytes);
  } else {
#ifdef GLIA_HAVE_SIM
    // Checked mode: the buffer ends at a guard page, so a kernel reading or writing past
    // its end faults and the emulator names the kernel, block and thread.
    p = d == Device::sim && sim::checked() ? sim::guarded_alloc(bytes) : host_alloc(bytes, d);
#else
    p = host_alloc(bytes, d);
#endif
    if (d == Device::sim) poison(p, bytes);
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
    if (d == Device::cpu) {
      cpu_release(ptr, bytes);
    } else {
      std::free(ptr);
    }
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

void empty_cache(Device d) {
  if (d == Device::cpu) {
    cpu_cache().empty();
  } else if (d == Device::cuda) {
#ifdef GLIA_HAVE_CUDA
    cuda_rt::empty_cache();
#endif
  }
}

size_t cached_bytes(Device d) {
  if (d == Device::cpu) return cpu_cache().cached_bytes();
#ifdef GLIA_HAVE_CUDA
  if (d == Device::cuda) return cuda_rt::cached_bytes();
#endif
  return 0;
}

bool cpu_cache_supported() { return !kSanitized; }

size_t cpu_cache_limit_from_env() {
  if (kSanitized) return 0;
  const char* enabled = std::getenv("GLIA_CPU_CACHE");
  if (enabled != nullptr && std::string(enabled) == "0") return 0;
  size_t mib = kDefaultCpuCacheMiB;
  if (const char* text = std::getenv("GLIA_CPU_CACHE_MB"); text != nullptr && *text != '\0') {
    char* end = nullptr;
    unsigned long long value = std::strtoull(text, &end, 10);
    GLIA_CHECK(*end == '\0' && text[0] != '-', "GLIA_CPU_CACHE_MB='" << text << "' is not a whole number of MiB");
    mib = static_cast<size_t>(value);
  }
  return mib << 20;
}

size_t cpu_cache_limit() { return cpu_cache().limit(); }

void set_cpu_cache_limit(size_t bytes) { cpu_cache().set_limit(kSanitized ? 0 : bytes); }

}  // namespace glia::rt
