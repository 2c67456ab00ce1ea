// Machine ceilings for roofline fractions, shared by the benchmarks (bench/bench_common.h)
// and `glia profile`: see ceilings.h.
#include "kernels/ceilings.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <memory>
#ifdef GLIA_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace glia::kernels {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
int cpu_threads() { return omp_get_max_threads(); }

// ---- peak FMA: 12 independent accumulator chains (enough to cover the FMA latency on
// two ports), one function per ISA so each compiles to that width. ----------------------
constexpr int kChains = 12;

__attribute__((target("avx512f"))) float fma_loop_avx512(int64_t iterations) {
  __m512 acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = _mm512_set1_ps(1.0f + 0.001f * static_cast<float>(j));
  const __m512 a = _mm512_set1_ps(0.9999999f), b = _mm512_set1_ps(1e-7f);
  for (int64_t i = 0; i < iterations; ++i)
    for (int j = 0; j < kChains; ++j) acc[j] = _mm512_fmadd_ps(acc[j], a, b);
  alignas(64) float lanes[16];  // stored, not _mm512_reduce_add_ps (GCC 12 -Wuninitialized in it)
  float sum = 0;
  for (int j = 0; j < kChains; ++j) {
    _mm512_store_ps(lanes, acc[j]);
    for (float v : lanes) sum += v;
  }
  return sum;
}

__attribute__((target("avx2,fma"))) float fma_loop_avx2(int64_t iterations) {
  __m256 acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = _mm256_set1_ps(1.0f + 0.001f * static_cast<float>(j));
  const __m256 a = _mm256_set1_ps(0.9999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < iterations; ++i)
    for (int j = 0; j < kChains; ++j) acc[j] = _mm256_fmadd_ps(acc[j], a, b);
  alignas(32) float lanes[8];
  float sum = 0;
  for (int j = 0; j < kChains; ++j) {
    _mm256_store_ps(lanes, acc[j]);
    for (float v : lanes) sum += v;
  }
  return sum;
}

// No FMA: a multiply and an add per lane (counted as 2 FLOPs, like an FMA).
float fma_loop_sse(int64_t iterations) {
  __m128 acc[kChains];
  for (int j = 0; j < kChains; ++j) acc[j] = _mm_set1_ps(1.0f + 0.001f * static_cast<float>(j));
  const __m128 a = _mm_set1_ps(0.9999999f), b = _mm_set1_ps(1e-7f);
  for (int64_t i = 0; i < iterations; ++i)
    for (int j = 0; j < kChains; ++j) acc[j] = _mm_add_ps(_mm_mul_ps(acc[j], a), b);
  alignas(16) float lanes[4];
  float sum = 0;
  for (int j = 0; j < kChains; ++j) {
    _mm_store_ps(lanes, acc[j]);
    for (float v : lanes) sum += v;
  }
  return sum;
}

struct FmaIsa {
  const char* name;
  int lanes;
  float (*loop)(int64_t);
};
FmaIsa fma_isa_impl() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return {"avx512f", 16, fma_loop_avx512};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return {"avx2+fma", 8, fma_loop_avx2};
  return {"sse", 4, fma_loop_sse};
}

volatile float g_sink = 0;  // keeps the loops' results alive

double measure_peak_gflops() {
  const FmaIsa isa = fma_isa_impl();
  const int threads = cpu_threads();
  const int64_t iterations = 20'000'000;  // ~0.05-0.2 s per thread
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    double start = 0;
    float sum = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sum)
    {
#pragma omp barrier
#pragma omp master
      start = now_seconds();
      sum += isa.loop(iterations);
    }
    const double seconds = now_seconds() - start;
    g_sink = sum;
    best = std::max(best, 2.0 * kChains * isa.lanes * double(iterations) * threads / seconds * 1e-9);
  }
  return best;
}

double measure_stream_gbs() {
  const int64_t n = int64_t{1} << 24;  // 64 MiB per array, far above any L3 here
  std::unique_ptr<float[]> a(new float[n]), b(new float[n]), c(new float[n]);
  const int threads = cpu_threads();
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; ++i) a[i] = 0, b[i] = 1, c[i] = 2;  // first touch by the same threads
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const double start = now_seconds();
    const float s = 0.5f + 0.1f * static_cast<float>(rep);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
    const double seconds = now_seconds() - start;
    best = std::max(best, 3.0 * sizeof(float) * double(n) / seconds * 1e-9);
  }
  g_sink = a[n / 2];
  return best;
}

#ifdef GLIA_HAVE_CUDA
// The card's own peak numbers (no GPU: zeros). FP32 lanes per SM by architecture.
Ceilings gpu_ceilings() {
  Ceilings c;
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) return c;
  cudaDeviceProp prop{};
  int clock_khz = 0, mem_khz = 0, bus_bits = 0;
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return c;
  cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, 0);
  cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, 0);
  cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0);
  const bool sm80 = prop.major == 8 && prop.minor == 0;
  const int lanes = prop.major < 8 || sm80 ? 64 : 128;
  c.peak_gflops = double(prop.multiProcessorCount) * lanes * 2.0 * clock_khz * 1e3 * 1e-9;
  c.stream_gbs = 2.0 * mem_khz * 1e3 * (bus_bits / 8.0) * 1e-9;
  return c;
}

#endif

}  // namespace

const char* fma_isa() { return fma_isa_impl().name; }

const Ceilings& ceilings(Device device) {
  static const Ceilings cpu = [] {
    Ceilings c;
    c.peak_gflops = measure_peak_gflops();
    c.stream_gbs = measure_stream_gbs();
    return c;
  }();
#ifdef GLIA_HAVE_CUDA
  static const Ceilings gpu = gpu_ceilings();
  if (device == Device::cuda) return gpu;
#else
  (void)device;
#endif
  return cpu;  // sim runs on the host: the host's ceilings
}

}  // namespace glia::kernels
