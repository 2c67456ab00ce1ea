// Shared by every benchmark binary (linked in as an object library, so its start-up code
// always runs): describes the machine in the JSON context (CPU model, cores, threads,
// GPU and driver when present, glia commit) and measures the machine's ceilings once at
// start-up, so each benchmark can say how far it is from them:
//   peak_gflops  a vectorised FMA loop (AVX-512 / AVX2 / SSE, what the CPU has) on all
//                OpenMP threads: the compute ceiling of float32 code on this machine
//   stream_gbs   STREAM triad a[i] = b[i] + s * c[i] over arrays far larger than the
//                caches, all threads, 12 bytes per element: the memory ceiling
// On a GPU the card's own numbers are used (SMs x FP32 lanes x 2 x clock; bus width x
// memory clock x 2), since a host loop says nothing about it.
#pragma once
#include <benchmark/benchmark.h>

#include <cstdint>
#include <functional>
#include <string>

#include "kernels/ceilings.h"
#include "kernels/device.h"

namespace glia::bench {

using kernels::Ceilings;  // kernels/ceilings.h: measured once, shared with `glia profile`
const Ceilings& ceilings(Device device = Device::cpu);

// Counters from counted work per iteration: "GFLOP/s" (when flops > 0), "GB/s" (when
// bytes > 0; the least bytes the op must move: inputs read once, outputs written once)
// and the fraction of the device's ceiling each reaches ("flop_frac", "bw_frac").
void set_throughput(benchmark::State& state, double flops_per_iteration, double bytes_per_iteration,
                    Device device = Device::cpu);
// "images/s" counter: items processed per iteration.
void set_images_per_second(benchmark::State& state, double images_per_iteration);

// Threads the CPU kernels use (OpenMP's maximum), for the context and for PyTorch.
int cpu_threads();

// True (and the case is marked skipped with an error naming the device) when `device`
// cannot run here, e.g. cuda cases on a machine without a GPU.
bool skip_if_unavailable(benchmark::State& state, Device device);

// Times `step` (one step per iteration, the device synchronised after each) after one
// untimed warm-up step (allocator caches, first touch), then sets images/s for `batch`
// and GFLOP/s for flops_per_step.
void run_steps(benchmark::State& state, Device device, int64_t batch, double flops_per_step,
               const std::function<void()>& step);

}  // namespace glia::bench
