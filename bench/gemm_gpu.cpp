// SGEMM on the GPU: glia's hand-written tiled kernel (kernels/cuda/gemm.cu, Backend::cuda)
// against cuBLAS (kernels/cudnn/gemm_cublas.cpp, Backend::cudnn) on square matrices, in
// GFLOP/s (2*n^3 FLOPs per call). Without a GPU these report an error and are skipped.
// Also the same hand-written kernel run by the SIMT emulator (Backend::sim) at 256^3,
// the emulator's speed on a real kernel, with OpenBLAS on the CPU beside it for scale.
//
//   build/bench/bench_gemm_gpu --benchmark_format=json
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/device.h"
#include "kernels/gemm.h"
#include "kernels/runtime.h"
#ifdef GLIA_HAVE_CUDA
#include "kernels/cuda/cuda_runtime_wrappers.h"
#endif

namespace {

using glia::Backend;
using glia::Device;

Device device_of(Backend b) {
  return b == Backend::cpu ? Device::cpu : b == Backend::sim ? Device::sim : Device::cuda;
}

// C = A * B for n x n float32 matrices on backend b, timed per call (synchronised).
void square_sgemm(benchmark::State& state, Backend b) {
  const Device d = device_of(b);
  if (!glia::device_available(d)) {
    state.SkipWithError((std::string("device '") + glia::device_name(d) + "' is not available here").c_str());
    return;
  }
  if (!glia::kernels::gemm_kernel.has(b)) {
    state.SkipWithError((std::string("no gemm kernel on backend '") + glia::backend_name(b) + "'").c_str());
    return;
  }
  const int64_t n = state.range(0);
  const size_t bytes = static_cast<size_t>(n * n) * sizeof(float);
  std::vector<float> host(static_cast<size_t>(n * n));
  for (size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>((i * 7919) % 1000) / 1000.0f - 0.5f;
  void* a = glia::rt::alloc(d, bytes);
  void* bm = glia::rt::alloc(d, bytes);
  void* c = glia::rt::alloc(d, bytes);
  glia::rt::copy(a, d, host.data(), Device::cpu, bytes);
  glia::rt::copy(bm, d, host.data(), Device::cpu, bytes);

  glia::kernels::GemmParams p;
  p.m = p.n = p.k = n;
  p.a = a;
  p.b = bm;
  p.c = c;
  p.lda = p.ldb = p.ldc = n;
  auto& gemm = glia::kernels::gemm_kernel.get(b);
  gemm(p);  // warm-up: cuBLAS handle, first-launch costs
  glia::rt::synchronize(d);
  for (auto _ : state) {
#ifdef GLIA_HAVE_CUDA
    if (d == Device::cuda) {  // GPU time between two events, not host time around it
      glia::cuda_rt::GpuTimer timer;
      gemm(p);
      state.SetIterationTime(timer.stop_ms() * 1e-3);
      continue;
    }
#endif
    gemm(p);
    glia::rt::synchronize(d);
  }
  state.counters["GFLOP"] =
      benchmark::Counter(2.0 * static_cast<double>(n) * n * n * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  glia::rt::release(d, a, bytes);
  glia::rt::release(d, bm, bytes);
  glia::rt::release(d, c, bytes);
}

void BM_SgemmHandCuda(benchmark::State& state) { square_sgemm(state, Backend::cuda); }
void BM_SgemmCublas(benchmark::State& state) { square_sgemm(state, Backend::cudnn); }
void BM_SgemmHandSim(benchmark::State& state) { square_sgemm(state, Backend::sim); }
void BM_SgemmCpuOpenBlas(benchmark::State& state) { square_sgemm(state, Backend::cpu); }

BENCHMARK(BM_SgemmHandCuda)->Arg(512)->Arg(1024)->Arg(2048)->Arg(4096)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SgemmCublas)->Arg(512)->Arg(1024)->Arg(2048)->Arg(4096)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SgemmHandSim)->Arg(256)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SgemmCpuOpenBlas)->Arg(256)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
