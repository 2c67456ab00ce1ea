// What every per-family kernel benchmark (bench/<family>.cpp) shares: the backends a case
// is registered for, device buffers, the timing loop (GPU events on cuda/cudnn, wall
// clock on cpu/sim), case names, and the shape tables of the two networks.
//
// One benchmark body serves every backend: it asks the family's registry slot
// (kernels/registry.h) for the backend's function, so cpu, sim (the hand-written CUDA
// kernels on the SIMT emulator), cuda (the same kernels on a GPU) and cudnn (the
// cuDNN/cuBLAS variant, where a family has one) run the same parameters.
//
// Case names: <family>/<op>/<backend>/<shape>/n:<batch>, e.g.
//   conv2d/forward/cuda/b1_s2_dw3x3s1_144/n:32
// tools/bench_torch_kernels.py runs the cpu cases (and, on a GPU, the cuda/cudnn ones)
// in PyTorch under the same names, so tools/bench_table.py can join the two.
//
// Batches: cpu runs batch 1 at the real shapes (plus the small batch-4/8 shapes of the
// older CPU suite) and batch 32 only where a call is estimated under ~1 s; cuda/cudnn run
// batch 1 and 32; sim runs one tiny shape per op: emulator time is meaningless, the sim
// cases prove the path works and count the work.
#pragma once
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "bench/bench_common.h"
#include "kernels/device.h"
#include "kernels/registry.h"
#include "kernels/runtime.h"
#ifdef GLIA_HAVE_CUDA
#include "kernels/cuda/cuda_runtime_wrappers.h"
#endif

namespace glia::bench {

// The GEMM-based CPU kernels depend on OpenBLAS picking the right kernel set for the CPU
// (a virtualised AVX-512 Xeon can be taken for "Prescott", 3-4x slower;
// OPENBLAS_CORETYPE=SkylakeX overrides): the context says which it chose.
inline const bool openblas_context_added = [] {
  benchmark::AddCustomContext("openblas_core", openblas_get_corename());
  return true;
}();

inline Device device_of(Backend b) {
  return b == Backend::cpu ? Device::cpu : b == Backend::sim ? Device::sim : Device::cuda;
}
inline bool on_gpu(Backend b) { return b == Backend::cuda || b == Backend::cudnn; }

// The backends a family is registered for in this build: cpu and sim always; in CUDA
// builds cuda, and cudnn when the family has a cuDNN/cuBLAS variant (library_variant).
// The slots are not asked here (registration runs before main, in no fixed order with
// the slots' own initialisation); each case checks its slot when it runs.
inline std::vector<Backend> backends(bool library_variant) {
  std::vector<Backend> out{Backend::cpu, Backend::sim};
#ifdef GLIA_HAVE_CUDA
  out.push_back(Backend::cuda);
#ifdef GLIA_HAVE_CUDNN
  if (library_variant) out.push_back(Backend::cudnn);
#endif
#endif
  (void)library_variant;
  return out;
}

// Batches a real shape is run at on backend b (sim: none, it runs its own tiny shapes).
// cpu_call_flops / cpu_call_bytes: the work of one batch-1 call, to keep batch-32 CPU
// calls under ~1 s (estimated at 10 GFLOP/s and 5 GB/s, a loaded core here).
inline std::vector<int64_t> batches(Backend b, double cpu_call_flops, double cpu_call_bytes) {
  if (b == Backend::sim) return {};
  if (on_gpu(b)) return {1, 32};
  const double seconds_at_32 = 32 * (cpu_call_flops / 10e9 + cpu_call_bytes / 5e9);
  if (seconds_at_32 < 1.0) return {1, 32};
  return {1};
}

// "<family>/<op>/<backend>/<shape>/n:<batch>"
inline std::string case_name(const std::string& family, const std::string& op, Backend b, const std::string& shape,
                             int64_t n) {
  return family + "/" + op + "/" + backend_name(b) + "/" + shape + "/n:" + std::to_string(n);
}

// Registers one case: GPU cases report GPU time (manual time from events), host ones real
// time (OpenMP and OpenBLAS run several threads).
inline benchmark::internal::Benchmark* add_case(const std::string& name, Backend b,
                                                std::function<void(benchmark::State&)> body) {
  auto* bm = benchmark::RegisterBenchmark(name.c_str(), [body](benchmark::State& state) { body(state); });
  bm->Unit(benchmark::kMillisecond);
  if (on_gpu(b)) {
    bm->UseManualTime();
  } else {
    bm->UseRealTime();
  }
  return bm;
}

// Runs registrations once before main (a family file's static `const bool x = register_...()`).
#define GLIA_BENCH_REGISTER(fn) \
  const bool fn##_registered = [] { fn(); return true; }()

// Skips (with an error naming what is missing) unless backend b runs here and the slot
// has a kernel for it.
template <class Fn>
bool runnable(benchmark::State& state, Backend b, const kernels::KernelSlot<Fn>& slot) {
  const Device d = device_of(b);
  if (!device_available(d)) {
    state.SkipWithError((std::string("device '") + device_name(d) + "' is not available here").c_str());
    return false;
  }
  if (!slot.has(b)) {
    state.SkipWithError(
        (std::string("op '") + slot.name() + "' has no kernel on backend '" + backend_name(b) + "'").c_str());
    return false;
  }
  return true;
}

// Deterministic values in [lo, hi), no zeros in a row (a kernel must not get to skip work).
inline std::vector<float> ramp_values(int64_t count, float lo = -0.5f, float hi = 0.5f) {
  std::vector<float> v(static_cast<size_t>(count));
  for (size_t i = 0; i < v.size(); ++i) v[i] = lo + (hi - lo) * static_cast<float>((i * 7919) % 1000 + 1) / 1001.0f;
  return v;
}

// A buffer on a backend's device; released on destruction.
class Buffer {
 public:
  Buffer(Device d, size_t bytes) : device_(d), bytes_(bytes == 0 ? 4 : bytes), ptr_(rt::alloc(device_, bytes_)) {}
  // float32 values from ramp_values(count, lo, hi)
  static Buffer floats(Device d, int64_t count, float lo = -0.5f, float hi = 0.5f) {
    Buffer buf(d, static_cast<size_t>(count) * sizeof(float));
    buf.upload(ramp_values(count, lo, hi));
    return buf;
  }
  // int64 values i % modulo (class indices, pooling argmax positions)
  static Buffer int64s(Device d, int64_t count, int64_t modulo) {
    std::vector<int64_t> v(static_cast<size_t>(count));
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<int64_t>(i) % modulo;
    Buffer buf(d, v.size() * sizeof(int64_t));
    buf.upload(v);
    return buf;
  }
  Buffer(Buffer&& o) noexcept : device_(o.device_), bytes_(o.bytes_), ptr_(std::exchange(o.ptr_, nullptr)) {}
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer& operator=(Buffer&&) = delete;
  ~Buffer() {
    if (ptr_ != nullptr) rt::release(device_, ptr_, bytes_);
  }
  void* get() const { return ptr_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  template <class T>
  void upload(const std::vector<T>& host) {
    rt::copy(ptr_, device_, host.data(), Device::cpu, std::min(bytes_, host.size() * sizeof(T)));
  }

 private:
  Device device_;
  size_t bytes_;
  void* ptr_;
};

// Calls `call` once untimed (cuDNN handles and algorithm choice, first touch, caches),
// then once per iteration: on cuda/cudnn timed between two GPU events on the current
// stream (the iteration time Google Benchmark reports), elsewhere by its own real-time
// clock (sim synchronises after each call).
template <class Call>
void time_calls(benchmark::State& state, Backend b, Call&& call) {
  const Device d = device_of(b);
  call();
  rt::synchronize(d);
  for (auto _ : state) {
#ifdef GLIA_HAVE_CUDA
    if (on_gpu(b)) {
      cuda_rt::GpuTimer timer;
      call();
      state.SetIterationTime(timer.stop_ms() * 1e-3);
      continue;
    }
#endif
    call();
    if (d != Device::cpu) rt::synchronize(d);
    benchmark::ClobberMemory();
  }
}

// time_calls on fn(p), then the throughput counters from the family's cost(p)
// (kernels/<family>.h): the count `glia profile` uses too, so the two cannot disagree.
template <class Fn, class P>
void time_counted(benchmark::State& state, Backend b, Fn& fn, const P& p) {
  time_calls(state, b, [&] { fn(p); });
  const kernels::OpCost c = cost(p);
  set_throughput(state, c.flops, c.bytes, device_of(b));
}

// ---- shapes of the two networks ------------------------------------------------------------
// An NCHW activation (per image): channels x hw x hw.
struct Activation {
  const char* name;
  int64_t c, hw;
  int64_t numel() const { return c * hw * hw; }
};

// EfficientNet-B1 at 240x240: the widest activation of each stage (the expanded MBConv
// tensor, C x HW), stem to head: 120, 60, 30, 15, 8 pixels.
inline const std::vector<Activation>& b1_stage_activations() {
  static const std::vector<Activation> v = {
      {"b1_s1_32x120", 32, 120},  {"b1_s2_144x60", 144, 60}, {"b1_s3_240x30", 240, 30},
      {"b1_s4_480x15", 480, 15},  {"b1_s5_672x15", 672, 15}, {"b1_s6_1152x8", 1152, 8},
      {"b1_head_1280x8", 1280, 8},
  };
  return v;
}

// Residual U-Net at 256x256, width 64: the output of each level (encoder 1-4, bottleneck).
inline const std::vector<Activation>& unet_level_activations() {
  static const std::vector<Activation> v = {
      {"unet_l1_64x256", 64, 256}, {"unet_l2_128x128", 128, 128}, {"unet_l3_256x64", 256, 64},
      {"unet_l4_512x32", 512, 32}, {"unet_l5_1024x16", 1024, 16},
  };
  return v;
}

// Both networks' activations, B1 first.
inline std::vector<Activation> network_activations() {
  std::vector<Activation> v = b1_stage_activations();
  const auto& u = unet_level_activations();
  v.insert(v.end(), u.begin(), u.end());
  return v;
}

}  // namespace glia::bench
