// The SIMT emulator's public interface: launching a grid and the emulator's settings.
// Kernels do not call this directly; GLIA_LAUNCH (kernels/cuda/launch.cuh) does.
//
//   sim::launch("name", grid, block, dynamic_shared_bytes, kernel, args...);
//
// converts the arguments to the kernel's parameter types once, as a CUDA launch does,
// then runs the kernel once per CUDA thread, each thread a fiber with its own stack and its own
// threadIdx/blockIdx, blocks spread over a pool of worker threads. It returns when the
// whole grid has finished; a fault in any thread (a divergent __syncthreads, a deadlock
// in a warp operation, an out-of-bounds access or a race in checked mode, an exception
// thrown by the body) stops the grid and is rethrown here as glia::Error naming the
// kernel, the block and the thread.
#pragma once
#include <cstddef>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>

#include "kernels/sim/vector_types.h"

namespace glia::sim {

namespace detail {
using Body = void (*)(const void* closure);
// `entry` is the kernel function itself (which __shared__ variables are its own).
void launch_grid(const char* kernel_name, dim3 grid, dim3 block, size_t dynamic_shared_bytes,
                 Body body, const void* closure, const void* entry);
template <class... Params>
struct BoundKernel {
  void (*kernel)(Params...);
  std::tuple<std::decay_t<Params>...> args;
};
template <class... Params>
void run_bound(const void* closure) {
  const auto& bound = *static_cast<const BoundKernel<Params...>*>(closure);
  std::apply(bound.kernel, bound.args);  // each CUDA thread gets its own copy of the parameters
}
}  // namespace detail

template <class... Params, class... Args>
void launch(const char* kernel_name, dim3 grid, dim3 block, size_t dynamic_shared_bytes, void (*kernel)(Params...),
            Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "sim::launch: wrong number of kernel arguments");
  detail::BoundKernel<Params...> bound{kernel, std::tuple<std::decay_t<Params>...>(std::forward<Args>(args)...)};
  detail::launch_grid(kernel_name, grid, block, dynamic_shared_bytes, &detail::run_bound<Params...>, &bound,
                      reinterpret_cast<const void*>(kernel));
}

// The running block's dynamic shared memory (GLIA_DYNAMIC_SHARED); 16-byte aligned and
// poisoned when the block starts, like static __shared__ arrays (0x7fffffff words: NaN as
// float or double, INT_MAX as int; shared_memory.h); nullptr for a 0-byte launch.
void* dynamic_shared_memory();

// ---- settings -------------------------------------------------------------------------
// Checked mode (default: environment GLIA_SIM_CHECK=1). While on:
//  * sim allocations (glia::rt::alloc(Device::sim)) start 256-byte aligned, as
//    cudaMalloc's, and end as close to a PROT_NONE guard page as that allows: exactly at
//    it when the size is a multiple of 256 bytes. Touching the guard page inside a kernel
//    becomes glia::Error naming the kernel, block, thread and the buffer overrun. The
//    bytes between the buffer and the guard pages (before it, and the up to 255 after it)
//    are a canary checked after every launch: a write there is reported naming the kernel
//    (not the thread); a read there is not caught (it reads NaN);
//  * every block runs three times on the same starting memory, its threads scheduled
//    forward, in reverse, and in a random order (a new permutation after every
//    __syncthreads, drawn from schedule_seed() and the block's index); a result differing
//    from the forward one means the block's threads race on shared or global memory
//    between two barriers (or read shared memory nobody wrote: each schedule poisons it
//    with its own word), reported naming kernel, block, the schedule and the first
//    differing word. Blocks then run one at a time. Float atomics are compared with a
//    relative tolerance; kernels whose output legitimately depends on thread order
//    (atomic counters used as indices) need set_check_races(false).
// Only allocations made while checked mode is on are guarded, compared and restored
// between the two runs: turn checked mode on before allocating. A kernel that updates in
// place (y += x) a buffer allocated outside checked mode sees that update applied twice.
void set_checked(bool on);
bool checked();
void set_check_races(bool on);  // the race half of checked mode (default on)
bool check_races();
// Seed of the random schedule: environment GLIA_SIM_SEED (an unsigned integer, decimal or
// 0x hex) or 1, so runs repeat; a race report names the seed that found it.
void set_schedule_seed(uint64_t seed);
uint64_t schedule_seed();

// Launch limits, as on a GPU: at most 1024 threads per block and this many bytes of
// dynamic shared memory (default 48 KiB, CUDA's limit without opt-in).
void set_shared_memory_limit(size_t bytes);
size_t shared_memory_limit();

// Worker threads running blocks (default: GLIA_SIM_THREADS or hardware concurrency).
void set_num_threads(int n);
int num_threads();

// Statistics for benchmarks and tests.
struct Stats {
  size_t launches = 0;
  size_t blocks = 0;
  size_t threads = 0;
  size_t context_switches = 0;
};
Stats stats();

}  // namespace glia::sim
