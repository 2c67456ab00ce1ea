// glia's thin layer over the CUDA runtime (real-CUDA builds). Plain C++ header: the rest
// of glia includes it without the CUDA toolkit's headers, so streams and events travel
// as void*. Every call checks its cudaError_t and throws glia::Error naming the call.
//
// Memory: a caching allocator. Freed blocks are kept per rounded size and handed out
// again without cudaFree/cudaMalloc (both synchronise the device). A block remembers the
// stream it was allocated on (the calling thread's current stream) and is handed out
// again only to allocations on that stream, where queued work runs in order: reuse
// never races with a kernel still using the block. Code that hands a block to work on
// another stream must make that stream wait for the first (an event) before freeing it.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

namespace glia::rt {
class CopyEngine;  // kernels/upload.h
}

namespace glia::cuda_rt {

int device_count();  // 0 when no GPU or no driver; never throws. A driver CUDA cannot use is
                     // also 0, with CUDA's error on stderr (once per process).
// "" when a device is usable; otherwise why not, with the CUDA runtime's error name and
// text (kernels/cuda/cuda_device.cu). Never throws.
std::string device_error();
void* alloc(size_t bytes);  // caching allocator; out of memory names the size and free memory
void release(void* ptr, size_t bytes);
void empty_cache();          // returns every cached block to the driver
size_t cached_bytes();       // held in the cache, not in use
void copy(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t bytes);
void synchronize();          // the whole device
// After every launch (GLIA_LAUNCH): the launch error; in debug builds and with
// GLIA_CUDA_SYNC=1 (rt::sync_after_launch) also waits for the kernel and checks how it ran.
void check_launch(const char* kernel_name);

// Streams: each host thread has a current stream (default: the per-thread default
// stream), which GLIA_LAUNCH and copy() use.
void* current_stream();
void set_current_stream(void* stream);  // nullptr: back to the per-thread default stream
void* create_stream();                  // non-blocking with respect to the legacy stream
void destroy_stream(void* stream);
void synchronize_stream(void* stream);

// Events, for timing GPU work in benchmarks.
void* create_event();
void destroy_event(void* event);
void record_event(void* event, void* stream);      // on `stream` (the current one if nullptr)
float elapsed_ms(void* start, void* stop);         // waits for `stop`

// The staged uploader's engine (kernels/upload.h): pinned host buffers, its own
// non-blocking copy stream, and events without timing.
std::unique_ptr<rt::CopyEngine> make_copy_engine();

// Times the GPU work queued on the current stream between construction and stop().
class GpuTimer {
 public:
  GpuTimer() : start_(create_event()), stop_(create_event()) { record_event(start_, nullptr); }
  ~GpuTimer() {
    destroy_event(start_);
    destroy_event(stop_);
  }
  GpuTimer(const GpuTimer&) = delete;
  GpuTimer& operator=(const GpuTimer&) = delete;
  float stop_ms() {
    record_event(stop_, nullptr);
    return elapsed_ms(start_, stop_);
  }

 private:
  void* start_;
  void* stop_;
};

}  // namespace glia::cuda_rt
