// The staged host-to-device upload (kernels/upload.h). Without a GPU its protocol is
// checked against an engine that behaves like the worst legal GPU: every queued copy is
// delayed until some host wait forces it, and runnable work is then executed in the order
// a policy picks (the compute stream first, or the copy stream first). A missing wait
// (compute reading the device buffer before the copy stream filled it, the copy stream
// overwriting it before compute copied it out, the host overwriting pinned memory still
// being read) then gives wrong data or a deadlock here. The real engines: sim (the same
// protocol with immediate copies) and cpu.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <vector>

#include "kernels/error.h"
#include "kernels/runtime.h"
#include "kernels/upload.h"

namespace glia {
namespace {

class DelayingEngine : public rt::CopyEngine {
 public:
  enum class Policy { compute_first, copy_first };
  explicit DelayingEngine(Policy policy) : policy_(policy) {}
  ~DelayingEngine() override { EXPECT_TRUE(live_.empty()) << live_.size() << " buffers never freed"; }

  void* alloc_host(size_t bytes) override { return track(bytes); }
  void free_host(void* p, size_t) override { untrack(p); }
  void* alloc_device(size_t bytes) override { return track(bytes); }
  void free_device(void* p, size_t) override { untrack(p); }
  void* copy_stream() override { return &queues_[kCopy]; }
  void* compute_stream() override { return &queues_[kCompute]; }
  void copy_async(void* dst, const void* src, size_t bytes, void* stream) override {
    queue(stream).push_back({Op::copy, [=] { std::memcpy(dst, src, bytes); }, 0, 0});
  }
  void* create_event() override {
    events_.push_back({0, 0});
    return reinterpret_cast<void*>(static_cast<uintptr_t>(events_.size()));  // index + 1: never null
  }
  void destroy_event(void*) override {}
  void record(void* event, void* stream) override {
    const size_t e = index(event);
    queue(stream).push_back({Op::record, {}, e, ++events_[e].recorded});
  }
  // Waits for the event's latest record at the time of the call, as cudaStreamWaitEvent.
  void stream_wait(void* stream, void* event) override {
    const size_t e = index(event);
    queue(stream).push_back({Op::wait, {}, e, events_[e].recorded});
  }
  void host_wait(void* event) override {
    const size_t e = index(event);
    const uint64_t target = events_[e].recorded;
    while (events_[e].completed < target) ASSERT_TRUE(step()) << "deadlock: host waits for an event nothing can reach";
    ++host_waits_;
  }

  // A kernel on the compute stream (the consumer of an upload).
  void enqueue_compute(std::function<void()> fn) { queues_[kCompute].push_back({Op::run, std::move(fn), 0, 0}); }
  void drain() {
    while (step()) {
    }
    EXPECT_TRUE(queues_[kCopy].empty() && queues_[kCompute].empty()) << "work left that can never run";
  }
  int host_waits() const { return host_waits_; }

 private:
  struct Op {
    enum Kind { copy, record, wait, run } kind;
    std::function<void()> fn;
    size_t event;
    uint64_t generation;
  };
  struct Event {
    uint64_t recorded, completed;
  };
  static constexpr int kCopy = 0, kCompute = 1;

  std::deque<Op>& queue(void* stream) {
    EXPECT_TRUE(stream == &queues_[kCopy] || stream == &queues_[kCompute]) << "unknown stream";
    return *static_cast<std::deque<Op>*>(stream);
  }
  size_t index(void* event) const { return static_cast<size_t>(reinterpret_cast<uintptr_t>(event)) - 1; }
  bool runnable(const std::deque<Op>& q) const {
    if (q.empty()) return false;
    const Op& op = q.front();
    return op.kind != Op::wait || events_[op.event].completed >= op.generation;
  }
  // Runs one queued operation: the policy's preferred stream when it can run, else the other.
  bool step() {
    const int first = policy_ == Policy::compute_first ? kCompute : kCopy;
    for (int s : {first, 1 - first}) {
      std::deque<Op>& q = queues_[s];
      if (!runnable(q)) continue;
      Op op = std::move(q.front());
      q.pop_front();
      if (op.kind == Op::record) events_[op.event].completed = op.generation;
      if (op.fn) op.fn();
      return true;
    }
    return false;
  }
  void* track(size_t bytes) {
    storage_.push_back(std::make_unique<unsigned char[]>(bytes));
    live_.insert(storage_.back().get());
    std::memset(storage_.back().get(), 0xA5, bytes);
    return storage_.back().get();
  }
  void untrack(void* p) { EXPECT_EQ(live_.erase(p), 1u) << "freed a buffer it does not own"; }

  Policy policy_;
  std::deque<Op> queues_[2];
  std::vector<Event> events_;
  std::vector<std::unique_ptr<unsigned char[]>> storage_;  // kept until the end: a late copy reads garbage, not freed memory
  std::set<void*> live_;
  int host_waits_ = 0;
};

// Batches of changing size (the staging buffers grow once) uploaded from one host buffer
// that is overwritten right after each upload, into two destinations used in turn (as a
// caching allocator would hand them out); a compute-stream reader snapshots each
// destination after its upload. Every snapshot must be its batch.
void run_batches(DelayingEngine::Policy policy) {
  auto owned = std::make_unique<DelayingEngine>(policy);
  DelayingEngine* engine = owned.get();
  const std::vector<size_t> sizes = {1000, 1000, 300000, 1000, 300000, 7, 1000};
  std::vector<std::vector<float>> seen(sizes.size());
  std::vector<float> dst[2] = {std::vector<float>(300000), std::vector<float>(300000)};
  {
    rt::StagedUploader uploader(std::move(owned));
    std::vector<float> host;
    for (size_t b = 0; b < sizes.size(); ++b) {
      host.assign(sizes[b], 0.0f);
      for (size_t i = 0; i < host.size(); ++i) host[i] = float(b * 1000003 + i);
      float* d = dst[b % 2].data();
      uploader.upload(d, host.data(), sizes[b] * sizeof(float));
      std::fill(host.begin(), host.end(), -1.0f);  // the caller reuses its buffer at once
      engine->enqueue_compute([&seen, d, b, n = sizes[b]] { seen[b].assign(d, d + n); });
    }
    engine->drain();
  }  // the uploader's destructor waits for its copies and frees its buffers
  for (size_t b = 0; b < sizes.size(); ++b) {
    ASSERT_EQ(seen[b].size(), sizes[b]) << "batch " << b;
    for (size_t i = 0; i < sizes[b]; ++i)
      ASSERT_EQ(seen[b][i], float(b * 1000003 + i)) << "batch " << b << " element " << i;
  }
}

TEST(StagedUpload, EveryBatchArrivesWhenTheComputeStreamRunsFirst) {
  run_batches(DelayingEngine::Policy::compute_first);
}

TEST(StagedUpload, EveryBatchArrivesWhenTheCopyStreamRunsFirst) { run_batches(DelayingEngine::Policy::copy_first); }

// Two slots: the host waits only for the copy two uploads back, never for the one it
// just queued, so an upload does not wait for the GPU to finish the previous batch.
TEST(StagedUpload, TheHostWaitsOnlyForTheSlotItReuses) {
  auto owned = std::make_unique<DelayingEngine>(DelayingEngine::Policy::compute_first);
  DelayingEngine* engine = owned.get();
  rt::StagedUploader uploader(std::move(owned));
  std::vector<float> host(64, 1.0f), dst(64);
  uploader.upload(dst.data(), host.data(), 64 * sizeof(float));
  uploader.upload(dst.data(), host.data(), 64 * sizeof(float));
  EXPECT_EQ(engine->host_waits(), 0);
  uploader.upload(dst.data(), host.data(), 64 * sizeof(float));
  EXPECT_EQ(engine->host_waits(), 1);
  engine->drain();
}

TEST(StagedUpload, ReachesSimAndCpuMemory) {
  for (Device d : {Device::sim, Device::cpu}) {
    if (!rt::backend_built(d)) continue;
    std::vector<float> host(5000);
    for (size_t i = 0; i < host.size(); ++i) host[i] = float(i) * 0.5f;
    const size_t bytes = host.size() * sizeof(float);
    for (int round = 0; round < 3; ++round) {  // both slots, then the first again
      void* dev = rt::alloc(d, bytes);
      host[0] = float(round);
      rt::upload(dev, d, host.data(), bytes);
      std::vector<float> back(host.size());
      rt::copy(back.data(), Device::cpu, dev, d, bytes);
      EXPECT_EQ(back, host) << device_name(d) << " round " << round;
      rt::release(d, dev, bytes);
    }
  }
}

}  // namespace
}  // namespace glia
