// How fast the SIMT emulator runs kernels: a 256^3 SGEMM with 16x16 shared-memory tiles
// (2 barriers per tile step: barrier-heavy), an elementwise saxpy (one fiber per element,
// no barrier) and a warp-shuffle sum (warp operations). Counters: FLOP/s of the kernel's
// arithmetic, and fiber context switches per second.
//
//   build-<dir>/bench/bench_sim_launch [--benchmark_filter=Sgemm]   (GLIA_SIM_THREADS=n)
#include "kernels/sim/cuda_dialect.h"
// (the dialect comes first, as in the generated wrappers of kernels/cuda/*.cu)
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cuda/launch.cuh"
#include "kernels/runtime.h"

namespace {

constexpr int kTile = 16;

__global__ void sgemm_tiled(int n, const float* a, const float* b, float* c) {
  __shared__ float tile_a[kTile][kTile];
  __shared__ float tile_b[kTile][kTile];
  int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  int row = static_cast<int>(blockIdx.y) * kTile + ty, col = static_cast<int>(blockIdx.x) * kTile + tx;
  float acc = 0.0f;
  for (int k0 = 0; k0 < n; k0 += kTile) {
    tile_a[ty][tx] = row < n && k0 + tx < n ? a[row * n + k0 + tx] : 0.0f;
    tile_b[ty][tx] = k0 + ty < n && col < n ? b[(k0 + ty) * n + col] : 0.0f;
    __syncthreads();
    for (int k = 0; k < kTile; ++k) acc = fmaf(tile_a[ty][k], tile_b[k][tx], acc);
    __syncthreads();
  }
  if (row < n && col < n) c[row * n + col] = acc;
}

__global__ void saxpy(int n, float alpha, const float* x, float* y) {
  int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) y[i] = alpha * x[i] + y[i];
}

__global__ void warp_sum(int n, const float* x, float* warp_sums) {
  int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  float v = i < n ? x[i] : 0.0f;
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  if (threadIdx.x % 32 == 0) warp_sums[i / 32] = v;
}

struct SimArray {
  explicit SimArray(size_t n) : size(n), data(static_cast<float*>(glia::rt::alloc(glia::Device::sim, n * sizeof(float)))) {}
  ~SimArray() { glia::rt::release(glia::Device::sim, data, size * sizeof(float)); }
  SimArray(const SimArray&) = delete;
  SimArray& operator=(const SimArray&) = delete;
  size_t size;
  float* data;
};

void fill_random(SimArray& a, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (size_t i = 0; i < a.size; ++i) a.data[i] = dist(rng);
}

void count_switches(benchmark::State& state, size_t switches_before) {
  state.counters["switches/s"] = benchmark::Counter(
      static_cast<double>(glia::sim::stats().context_switches - switches_before), benchmark::Counter::kIsRate);
}

void BM_SimSgemmTiled(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  SimArray a(size_t(n) * n), b(size_t(n) * n), c(size_t(n) * n);
  fill_random(a, 1);
  fill_random(b, 2);
  dim3 grid((n + kTile - 1) / kTile, (n + kTile - 1) / kTile), block(kTile, kTile);
  GLIA_LAUNCH(sgemm_tiled, grid, block, 0, n, a.data, b.data, c.data);
  // Spot-check a few entries against a double-precision dot product.
  for (int probe = 0; probe < 5; ++probe) {
    int i = (probe * 97) % n, j = (probe * 61 + 13) % n;
    double ref = 0;
    for (int k = 0; k < n; ++k) ref += double(a.data[i * n + k]) * b.data[k * n + j];
    if (std::fabs(ref - c.data[i * n + j]) > 1e-3) state.SkipWithError("sgemm_tiled gave a wrong result");
  }
  size_t before = glia::sim::stats().context_switches;
  for (auto _ : state) GLIA_LAUNCH(sgemm_tiled, grid, block, 0, n, a.data, b.data, c.data);
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * n * n * n, benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
  count_switches(state, before);
}
BENCHMARK(BM_SimSgemmTiled)->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SimSaxpy(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  SimArray x(n), y(n);
  fill_random(x, 3);
  fill_random(y, 4);
  size_t before = glia::sim::stats().context_switches;
  for (auto _ : state) GLIA_LAUNCH(saxpy, (n + 255) / 256, 256, 0, n, 0.5f, x.data, y.data);
  state.counters["elements/s"] = benchmark::Counter(n, benchmark::Counter::kIsIterationInvariantRate);
  count_switches(state, before);
}
BENCHMARK(BM_SimSaxpy)->Arg(1 << 20)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SimWarpShuffleSum(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  SimArray x(n), sums(n / 32 + 1);
  fill_random(x, 5);
  size_t before = glia::sim::stats().context_switches;
  for (auto _ : state) GLIA_LAUNCH(warp_sum, (n + 255) / 256, 256, 0, n, x.data, sums.data);
  state.counters["elements/s"] = benchmark::Counter(n, benchmark::Counter::kIsIterationInvariantRate);
  count_switches(state, before);
}
BENCHMARK(BM_SimWarpShuffleSum)->Arg(1 << 18)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
