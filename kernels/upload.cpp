// The staged host-to-device upload (see upload.h).
#include "kernels/upload.h"

#include <cstdlib>
#include <cstring>

#include "kernels/error.h"
#include "kernels/runtime.h"

#ifdef GLIA_HAVE_CUDA
#include "kernels/cuda/cuda_runtime_wrappers.h"
#endif

namespace glia::rt {
namespace {

// Staging buffers grow to the next multiple of 1 MiB, so batches of slightly different
// sizes (a last, smaller batch) reuse them.
size_t staging_size(size_t bytes) {
  constexpr size_t kGranule = size_t{1} << 20;
  return (bytes + kGranule - 1) / kGranule * kGranule;
}

// Host-addressable devices (sim, and cpu if asked): every copy happens at once, so events
// are always complete and waits are no-ops; buffers are ordinary memory of the device.
class ImmediateEngine : public CopyEngine {
 public:
  explicit ImmediateEngine(Device device) : device_(device) {}
  void* alloc_host(size_t bytes) override { return alloc(Device::cpu, bytes); }
  void free_host(void* p, size_t bytes) override { release(Device::cpu, p, bytes); }
  void* alloc_device(size_t bytes) override { return alloc(device_, bytes); }
  void free_device(void* p, size_t bytes) override { release(device_, p, bytes); }
  void* copy_stream() override { return nullptr; }
  void* compute_stream() override { return nullptr; }
  void copy_async(void* dst, const void* src, size_t bytes, void*) override { std::memcpy(dst, src, bytes); }
  void* create_event() override { return &token_; }
  void destroy_event(void*) override {}
  void record(void*, void*) override {}
  void stream_wait(void*, void*) override {}
  void host_wait(void*) override {}

 private:
  Device device_;
  char token_ = 0;  // every event handle points here: non-null, nothing to free
};

}  // namespace

StagedUploader::StagedUploader(std::unique_ptr<CopyEngine> engine) : engine_(std::move(engine)) {
  GLIA_CHECK(engine_ != nullptr, "StagedUploader: no copy engine");
  for (Slot& s : slots_) {
    s.h2d_done = engine_->create_event();
    s.d2d_done = engine_->create_event();
  }
}

StagedUploader::~StagedUploader() {
  try {
    for (Slot& s : slots_) {
      if (s.used) {
        engine_->host_wait(s.h2d_done);
        engine_->host_wait(s.d2d_done);
      }
      if (s.host != nullptr) engine_->free_host(s.host, s.capacity);
      if (s.device != nullptr) engine_->free_device(s.device, s.capacity);
      engine_->destroy_event(s.h2d_done);
      engine_->destroy_event(s.d2d_done);
    }
  } catch (...) {
    // At process exit the runtime may be gone already; the memory goes with the process.
  }
}

void StagedUploader::upload(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  Slot& s = slots_[next_];
  next_ = 1 - next_;
  CopyEngine& e = *engine_;
  if (s.used) e.host_wait(s.h2d_done);  // the pinned buffer has been read
  if (bytes > s.capacity) {
    if (s.used) e.host_wait(s.d2d_done);  // nothing reads the device buffer any more
    if (s.host != nullptr) e.free_host(s.host, s.capacity);
    if (s.device != nullptr) e.free_device(s.device, s.capacity);
    s.host = s.device = nullptr;
    s.capacity = 0;
    const size_t size = staging_size(bytes);
    s.host = e.alloc_host(size);
    s.device = e.alloc_device(size);
    s.capacity = size;
  }
  std::memcpy(s.host, src, bytes);
  void* copy = e.copy_stream();
  void* compute = e.compute_stream();
  if (s.used) e.stream_wait(copy, s.d2d_done);  // the device buffer's last reader is done
  e.copy_async(s.device, s.host, bytes, copy);
  e.record(s.h2d_done, copy);
  e.stream_wait(compute, s.h2d_done);
  e.copy_async(dst, s.device, bytes, compute);
  e.record(s.d2d_done, compute);
  s.used = true;
}

std::unique_ptr<CopyEngine> make_copy_engine(Device device) {
  GLIA_CHECK(backend_built(device), "upload: device '" << device_name(device) << "' is not built into this glia");
#ifdef GLIA_HAVE_CUDA
  if (device == Device::cuda) return cuda_rt::make_copy_engine();
#endif
  GLIA_CHECK(host_addressable(device), "upload: no copy engine for device '" << device_name(device) << "'");
  return std::make_unique<ImmediateEngine>(device);
}

void upload(void* dst, Device device, const void* src, size_t bytes) {
  if (bytes == 0) return;
  if (device == Device::cpu) {
    std::memcpy(dst, src, bytes);
    return;
  }
  thread_local std::unique_ptr<StagedUploader> uploaders[kNumDevices];
  std::unique_ptr<StagedUploader>& u = uploaders[static_cast<int>(device)];
  if (!u) u = std::make_unique<StagedUploader>(make_copy_engine(device));
  u->upload(dst, src, bytes);
}

}  // namespace glia::rt
