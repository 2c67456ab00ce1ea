// glia's CUDA runtime layer (see cuda_runtime_wrappers.h). Real-CUDA builds only: every
// kernels/cuda/*.cu is also compiled for the SIMT emulator, where this file is empty
// (sim's memory and launches live in kernels/runtime.cpp and kernels/sim).
#if defined(__CUDACC__)
#include <cuda_runtime.h>

#include <map>
#include <mutex>

#include "kernels/cuda/cuda_runtime_wrappers.h"
#include "kernels/error.h"

#define GLIA_CUDA_CALL(expr)                                                                   \
  do {                                                                                         \
    cudaError_t glia_status_ = (expr);                                                         \
    GLIA_CHECK(glia_status_ == cudaSuccess, "CUDA call " #expr " failed: " << cudaGetErrorName(glia_status_) \
                                                  << " (" << cudaGetErrorString(glia_status_) << ")"); \
  } while (0)

namespace glia::cuda_rt {
namespace {

// Small blocks in 512-byte steps, large ones in 2 MiB steps: a few size classes keep
// reuse high without wasting much.
size_t rounded(size_t bytes) {
  constexpr size_t small_step = 512, large_step = size_t{2} << 20;
  if (bytes == 0) bytes = 1;
  size_t step = bytes < (size_t{1} << 20) ? small_step : large_step;
  return (bytes + step - 1) / step * step;
}

struct Cache {
  std::mutex mutex;
  std::multimap<size_t, void*> free_blocks;  // by rounded size
  size_t bytes = 0;
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: blocks may be released during exit
  return *c;
}

thread_local cudaStream_t t_stream = cudaStreamPerThread;

cudaStream_t as_stream(void* s) { return s == nullptr ? t_stream : static_cast<cudaStream_t>(s); }

}  // namespace

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" status
    return 0;
  }
  return n;
}

void* alloc(size_t bytes) {
  size_t size = rounded(bytes);
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.free_blocks.find(size);
    if (it != c.free_blocks.end()) {
      void* p = it->second;
      c.free_blocks.erase(it);
      c.bytes -= size;
      return p;
    }
  }
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

void release(void* ptr, size_t bytes) {
  if (ptr == nullptr) return;
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  size_t size = rounded(bytes);
  c.free_blocks.emplace(size, ptr);
  c.bytes += size;
}

void empty_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  for (auto& [size, p] : c.free_blocks) {
    (void)size;
    cudaFree(p);
  }
  c.free_blocks.clear();
  c.bytes = 0;
}

size_t cached_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.bytes;
}

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
  // Debug builds: wait for the kernel so an execution fault is blamed on it, not on a
  // later call.
  status = cudaStreamSynchronize(t_stream);
  GLIA_CHECK(status == cudaSuccess, "CUDA kernel '" << kernel_name << "' failed while running: "
                                                    << cudaGetErrorName(status) << " (" << cudaGetErrorString(status) << ")");
#endif
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

}  // namespace glia::cuda_rt

#endif  // __CUDACC__
