// Internal to the emulator: checked mode (see launch.h and memory.h).
#pragma once
#include <cstddef>
#include <exception>

#include "kernels/sim/block.h"

namespace glia::sim::detail {

// Installs the SIGSEGV/SIGBUS handler (once) and this thread's signal stack (once per
// thread), so a fault inside a fiber becomes a Fault naming kernel, block and thread.
void prepare_thread_for_faults();

// Runs every block twice (forward, then reverse thread order) on the same starting
// memory, one block at a time on the calling thread; a difference is a race.
std::exception_ptr run_blocks_race_checked(const Kernel& kernel, size_t num_blocks);

// Throws a Fault naming the kernel when a canary before/after a guarded buffer changed.
void check_canaries(const char* kernel_name);

uint3 block_index(const Kernel& kernel, size_t linear);

}  // namespace glia::sim::detail
