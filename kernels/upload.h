// Host-to-device copies of input batches that do not stall the host or the GPU.
//
// rt::copy from pageable host memory to cuda is synchronous: the host waits for every
// kernel already queued, so it cannot queue the next step while the GPU works, and the
// copy itself runs at pageable speed. rt::upload instead goes through a StagedUploader:
//
//   host:         wait for slot k's previous host->device copy (normally long done),
//                 memcpy src into slot k's pinned buffer
//   copy stream:  wait for slot k's previous device->device copy (its device buffer is
//                 free again), pinned -> slot k's device buffer, record "h2d done"
//   compute:      wait for "h2d done", slot k's device buffer -> dst, record "d2d done"
//
// Two slots, used in turn, so batch k+1's transfer overlaps the GPU's work on batch k.
// The last hop runs on the compute stream (the calling thread's current stream), where
// dst was allocated, so dst is written in order with every earlier use of its memory
// block (the caching allocator hands a block out again on its stream at once,
// kernels/cuda/cuda_runtime_wrappers.h); the copy stream only ever touches the
// uploader's own buffers. The extra device->device hop costs microseconds (GPU memory
// bandwidth) against milliseconds for the PCIe transfer.
//
// The protocol is written once, over a CopyEngine: the real CUDA streams and events on
// cuda; immediate copies on sim (which then runs the same code) and cpu. Tests drive it
// with an engine that delays every queued copy as long as the waits allow
// (tests/kernels_cpu/upload_test.cpp), so a missing wait shows up as wrong data.
#pragma once
#include <cstddef>
#include <memory>

#include "kernels/device.h"

namespace glia::rt {

// What an uploader needs from a device runtime. Streams and events are opaque handles;
// copies are asynchronous with respect to the host and ordered within their stream.
class CopyEngine {
 public:
  virtual ~CopyEngine() = default;
  virtual void* alloc_host(size_t bytes) = 0;  // pinned (page-locked) on cuda
  virtual void free_host(void* p, size_t bytes) = 0;
  virtual void* alloc_device(size_t bytes) = 0;
  virtual void free_device(void* p, size_t bytes) = 0;
  virtual void* copy_stream() = 0;     // the uploader's own stream
  virtual void* compute_stream() = 0;  // the calling thread's current stream
  // Queues a copy of `bytes` from src to dst on `stream` (host->device or device->device).
  virtual void copy_async(void* dst, const void* src, size_t bytes, void* stream) = 0;
  virtual void* create_event() = 0;
  virtual void destroy_event(void* event) = 0;
  virtual void record(void* event, void* stream) = 0;
  virtual void stream_wait(void* stream, void* event) = 0;  // later work on stream waits; the host does not
  virtual void host_wait(void* event) = 0;                  // the host blocks until the event has happened
};

class StagedUploader {
 public:
  explicit StagedUploader(std::unique_ptr<CopyEngine> engine);
  ~StagedUploader();  // waits for its copies, frees its buffers; never throws
  StagedUploader(const StagedUploader&) = delete;
  StagedUploader& operator=(const StagedUploader&) = delete;

  // Copies `bytes` of host memory `src` into device memory `dst` (allocated on the
  // calling thread's current stream). Returns as soon as src has been staged: the caller
  // may reuse src at once; work queued later on the current stream sees dst's new data.
  void upload(void* dst, const void* src, size_t bytes);

  CopyEngine& engine() { return *engine_; }

 private:
  struct Slot {
    void* host = nullptr;
    void* device = nullptr;
    size_t capacity = 0;
    void* h2d_done = nullptr;  // the copy out of `host` has finished
    void* d2d_done = nullptr;  // the copy out of `device` has finished
    bool used = false;
  };
  std::unique_ptr<CopyEngine> engine_;
  Slot slots_[2];
  int next_ = 0;
};

// The engine of a device: cuda's streams and pinned memory, or immediate copies for sim
// and cpu.
std::unique_ptr<CopyEngine> make_copy_engine(Device device);

// Copies host memory into a tensor's memory on `device` through the calling thread's
// uploader for that device (created at first use): staged and asynchronous on cuda, a
// plain memcpy on cpu, the same staged protocol with immediate copies on sim.
void upload(void* dst, Device device, const void* src, size_t bytes);

}  // namespace glia::rt
