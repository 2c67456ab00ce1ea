// Device memory and synchronisation, the only place glia talks to a device runtime.
// cpu uses a caching allocator over aligned_alloc (64-byte aligned blocks, handed out
// again unzeroed: tensors that need zeros fill them); sim uses fresh host memory every
// time, filled with NaN so a kernel that reads memory nobody wrote shows it (and ending
// at a guard page in checked mode); cuda uses a caching allocator over cudaMalloc. Both
// caches are kernels/block_cache.h.
#pragma once
#include <cstddef>
#include <string>

#include "kernels/device.h"

namespace glia::rt {

bool backend_built(Device d);   // compiled into this build?
int cuda_device_count();        // 0 when CUDA is not built or no GPU is present
// Why device cuda cannot be used here, with the CUDA runtime's own error when it gave
// one (say "cudaGetDeviceCount: cudaErrorInsufficientDriver (CUDA driver version is
// insufficient for CUDA runtime version)"); "" when it can.
std::string cuda_unavailable_reason();

// GLIA_CUDA_SYNC=1: every kernel launch on cuda is followed by a synchronisation and an
// error check, so a kernel that faults is named at its own launch instead of at some
// later call (debug builds always do this). Slow; for debugging. Read from the
// environment at first use; "0", "1" or unset, anything else is an Error.
bool sync_after_launch_from_env();  // reads the environment now
bool sync_after_launch();
void set_sync_after_launch(bool on);

void* alloc(Device d, size_t bytes);
void release(Device d, void* ptr, size_t bytes);
// Copies between any two devices (host<->device, device<->device).
void copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);
void synchronize(Device d);

// Bytes currently allocated and the peak since start, per device (for memory reports).
size_t bytes_in_use(Device d);
size_t peak_bytes(Device d);

// Caching allocators (cpu, cuda; sim never caches). Freed blocks are kept for reuse and
// are not counted in bytes_in_use; cached_bytes is what the cache holds besides.
void empty_cache(Device d);     // returns every cached block to the system
size_t cached_bytes(Device d);  // 0 for sim

// The cpu cache's cap on cached bytes. From the environment at first use:
// GLIA_CPU_CACHE=0 turns it off, GLIA_CPU_CACHE_MB sets the cap (default 4096 MiB).
// Sanitizer builds never cache (ASan must see every free to catch use-after-free).
// GLIA_CPU_POISON=1 fills every cpu allocation with NaN, as sim does, to find code that
// reads a tensor before writing it.
bool cpu_cache_supported();        // false in sanitizer builds
size_t cpu_cache_limit_from_env();  // reads the environment now; 0: off
size_t cpu_cache_limit();
void set_cpu_cache_limit(size_t bytes);  // 0 turns the cache off (and empties it)

}  // namespace glia::rt
