// glia's CUDA runtime layer (see cuda_runtime_wrappers.h). Real-CUDA builds only: every
// kernels/cuda/*.cu is also compiled for the SIMT emulator, where this file is empty
// (sim's memory and launches live in kernels/runtime.cpp and kernels/sim).
#if defined(__CUDACC__)
#include <cuda_runtime.h>
#include <unistd.h>

#include <cstdio>
#include <limits>
#include <mutex>
#include <unordered_map>

#include "kernels/block_cache.h"
#include "kernels/cuda/cuda_runtime_wrappers.h"
#include "kernels/error.h"
#include "kernels/runtime.h"
#include "kernels/upload.h"

#define GLIA_CUDA_CALL(expr)                                                                   \
  do {                                                                                         \
    cudaError_t glia_status_ = (expr);                                                         \
    GLIA_CHECK(glia_status_ == cudaSuccess, "CUDA call " #expr " failed: " << cudaGetErrorName(glia_status_) \
                                                  << " (" << cudaGetErrorString(glia_status_) << ")"); \
  } while (0)

namespace glia::cuda_rt {
namespace {

void free_device_block(void* p) { cudaFree(p); }

// Unbounded: the GPU's memory is the process's to use, and an allocation that fails
// empties the cache and retries before giving up.
rt::BlockCache& cache() {
  // Never destroyed: blocks may be released during exit.
  static rt::BlockCache* c = new rt::BlockCache(free_device_block, std::numeric_limits<size_t>::max());
  return *c;
}

thread_local cudaStream_t t_stream = cudaStreamPerThread;

cudaStream_t as_stream(void* s) { return s == nullptr ? t_stream : static_cast<cudaStream_t>(s); }

// The cache's tag for the current stream. cudaStreamPerThread is one handle value that
// names a different stream in every thread, so it is tagged by a per-thread address.
thread_local char t_per_thread_stream_tag;
const void* stream_tag() {
  return t_stream == cudaStreamPerThread ? static_cast<const void*>(&t_per_thread_stream_tag)
                                         : static_cast<const void*>(t_stream);
}

// The stream tag of every block in use, so release() files it under the stream that
// may still be using it (not the stream current when the host frees it).
std::mutex g_owner_mutex;
std::unordered_map<void*, const void*>& owners() {
  static auto* m = new std::unordered_map<void*, const void*>();  // never destroyed, as cache()
  return *m;
}

}  // namespace

// A GPU driver is loaded on this machine (its device node or its /proc entry exists).
static bool nvidia_driver_present() {
  return access("/dev/nvidiactl", F_OK) == 0 || access("/proc/driver/nvidia/version", F_OK) == 0;
}

int device_count() {
  int n = 0;
  const cudaError_t status = cudaGetDeviceCount(&n);
  if (status != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" status
    // No GPU and no driver is an ordinary CPU machine. Anything else is a GPU that CUDA
    // cannot use (driver older than the runtime, device busy or lost): say so once, with
    // CUDA's own error, instead of "0 devices" silently.
    const bool ordinary = status == cudaErrorNoDevice || (status == cudaErrorInsufficientDriver && !nvidia_driver_present());
    static std::once_flag noted;
    if (!ordinary)
      std::call_once(noted, [status] {
        std::fprintf(stderr, "glia: a GPU driver is here but CUDA cannot use it: cudaGetDeviceCount: %s (%s)\n",
                     cudaGetErrorName(status), cudaGetErrorString(status));
      });
    return 0;
  }
  return n;
}

// A new block from the driver; out of memory empties the cache and retries once.
static void* fresh_block(size_t bytes, size_t size) {
  void* p = nullptr;
  cudaError_t status = cudaMalloc(&p, size);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    empty_cache();  // cached blocks of other sizes may make room
    status = cudaMalloc(&p, size);
  }
  if (status != cudaSuccess) {
    cudaGetLastError();
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    int device = -1;
    cudaGetDevice(&device);
    GLIA_FAIL("CUDA out of memory on device " << device << ": could not allocate " << bytes << " bytes (" << size
                                              << " rounded): " << cudaGetErrorString(status) << "; the device has "
                                              << free_bytes << " of " << total_bytes << " bytes free");
  }
  return p;
}

void* alloc(size_t bytes) {
  const size_t size = rt::BlockCache::bucket_size(bytes);
  const void* tag = stream_tag();
  void* p = cache().take(size, tag);
  if (p == nullptr) p = fresh_block(bytes, size);
  std::lock_guard<std::mutex> lock(g_owner_mutex);
  owners()[p] = tag;
  return p;
}

void release(void* ptr, size_t bytes) {
  if (ptr == nullptr) return;
  const void* tag = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_owner_mutex);
    auto it = owners().find(ptr);
    if (it != owners().end()) {
      tag = it->second;
      owners().erase(it);
    }
  }
  cache().give(ptr, rt::BlockCache::bucket_size(bytes), tag);
}

void empty_cache() { cache().empty(); }

size_t cached_bytes() { return cache().cached_bytes(); }

void copy(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t bytes) {
  if (bytes == 0) return;
  cudaMemcpyKind kind = dst_on_device ? (src_on_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                      : (src_on_device ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  GLIA_CUDA_CALL(cudaMemcpyAsync(dst, src, bytes, kind, t_stream));
  // The host may read or reuse its buffer right after: copies touching it are synchronous.
  if (!dst_on_device || !src_on_device) GLIA_CUDA_CALL(cudaStreamSynchronize(t_stream));
}

void synchronize() { GLIA_CUDA_CALL(cudaDeviceSynchronize()); }

void check_launch(const char* kernel_name) {
  cudaError_t status = cudaGetLastError();
  GLIA_CHECK(status == cudaSuccess, "CUDA kernel '" << kernel_name << "' failed to launch: " << cudaGetErrorName(status)
                                                    << " (" << cudaGetErrorString(status) << ")");
#ifndef NDEBUG
  constexpr bool kAlwaysSync = true;
#else
  constexpr bool kAlwaysSync = false;
#endif
  // Debug builds and GLIA_CUDA_SYNC=1: wait for the kernel so an execution fault is
  // blamed on it, not on a later call.
  if (!kAlwaysSync && !rt::sync_after_launch()) return;
  status = cudaStreamSynchronize(t_stream);
  GLIA_CHECK(status == cudaSuccess, "CUDA kernel '" << kernel_name << "' failed while running: "
                                                    << cudaGetErrorName(status) << " (" << cudaGetErrorString(status) << ")");
}

void* current_stream() { return static_cast<void*>(t_stream); }
void set_current_stream(void* stream) {
  t_stream = stream == nullptr ? cudaStreamPerThread : static_cast<cudaStream_t>(stream);
}

void* create_stream() {
  cudaStream_t s = nullptr;
  GLIA_CUDA_CALL(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return static_cast<void*>(s);
}

void destroy_stream(void* stream) {
  if (stream == nullptr) return;
  if (t_stream == static_cast<cudaStream_t>(stream)) t_stream = cudaStreamPerThread;
  GLIA_CUDA_CALL(cudaStreamDestroy(static_cast<cudaStream_t>(stream)));
}

void synchronize_stream(void* stream) { GLIA_CUDA_CALL(cudaStreamSynchronize(as_stream(stream))); }

void* create_event() {
  cudaEvent_t e = nullptr;
  GLIA_CUDA_CALL(cudaEventCreate(&e));
  return static_cast<void*>(e);
}

void destroy_event(void* event) {
  if (event != nullptr) cudaEventDestroy(static_cast<cudaEvent_t>(event));  // never throws (destructors)
}

void record_event(void* event, void* stream) {
  GLIA_CUDA_CALL(cudaEventRecord(static_cast<cudaEvent_t>(event), as_stream(stream)));
}

float elapsed_ms(void* start, void* stop) {
  GLIA_CUDA_CALL(cudaEventSynchronize(static_cast<cudaEvent_t>(stop)));
  float ms = 0.0f;
  GLIA_CUDA_CALL(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start), static_cast<cudaEvent_t>(stop)));
  return ms;
}

namespace {

// Destructors of the staged uploader run at thread exit, possibly after the runtime has
// begun to shut down: frees and event destruction ignore errors there.
class CudaCopyEngine : public rt::CopyEngine {
 public:
  ~CudaCopyEngine() override {
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }
  void* alloc_host(size_t bytes) override {
    void* p = nullptr;
    GLIA_CUDA_CALL(cudaMallocHost(&p, bytes));
    return p;
  }
  void free_host(void* p, size_t) override { cudaFreeHost(p); }
  // Not from the block cache: these buffers are used on two streams, which the cache's
  // per-stream reuse does not track; they are allocated once and grow rarely.
  void* alloc_device(size_t bytes) override {
    void* p = nullptr;
    GLIA_CUDA_CALL(cudaMalloc(&p, bytes));
    return p;
  }
  void free_device(void* p, size_t) override { cudaFree(p); }
  void* copy_stream() override {
    if (stream_ == nullptr) GLIA_CUDA_CALL(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    return static_cast<void*>(stream_);
  }
  void* compute_stream() override { return current_stream(); }
  void copy_async(void* dst, const void* src, size_t bytes, void* stream) override {
    GLIA_CUDA_CALL(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, static_cast<cudaStream_t>(stream)));
  }
  void* create_event() override {
    cudaEvent_t e = nullptr;
    GLIA_CUDA_CALL(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    return static_cast<void*>(e);
  }
  void destroy_event(void* event) override { cudaEventDestroy(static_cast<cudaEvent_t>(event)); }
  void record(void* event, void* stream) override {
    GLIA_CUDA_CALL(cudaEventRecord(static_cast<cudaEvent_t>(event), static_cast<cudaStream_t>(stream)));
  }
  void stream_wait(void* stream, void* event) override {
    GLIA_CUDA_CALL(cudaStreamWaitEvent(static_cast<cudaStream_t>(stream), static_cast<cudaEvent_t>(event), 0));
  }
  void host_wait(void* event) override { GLIA_CUDA_CALL(cudaEventSynchronize(static_cast<cudaEvent_t>(event))); }

 private:
  cudaStream_t stream_ = nullptr;
};

}  // namespace

std::unique_ptr<rt::CopyEngine> make_copy_engine() { return std::make_unique<CudaCopyEngine>(); }

}  // namespace glia::cuda_rt

#endif  // __CUDACC__
