// The machine's ceilings, against which achieved rates are read (roofline fractions):
//   peak_gflops  a vectorised FMA loop (AVX-512 / AVX2 / SSE, what the CPU has) on all
//                OpenMP threads: the compute ceiling of float32 code on this machine
//   stream_gbs   STREAM triad a[i] = b[i] + s * c[i] over arrays far larger than the
//                caches, all threads, 12 bytes per element: the memory ceiling
// On a GPU the card's own numbers (SMs x FP32 lanes x 2 x clock; bus width x memory
// clock x 2), since a host loop says nothing about it. Measured (cpu, sim: the host's)
// or looked up (cuda) on first use, about a second, then cached. Used by the benchmarks
// (bench/bench_common.h) and `glia profile`.
#pragma once
#include "kernels/device.h"

namespace glia::kernels {

struct Ceilings {
  double peak_gflops = 0;  // float32 FLOP/s / 1e9 (an FMA counts 2)
  double stream_gbs = 0;   // bytes/s / 1e9
};
const Ceilings& ceilings(Device device = Device::cpu);

// The FMA loop's instruction set: "avx512f", "avx2+fma" or "sse".
const char* fma_isa();

}  // namespace glia::kernels
