// The registers a CUDA thread reads (threadIdx, blockIdx, blockDim, gridDim, the
// dynamic shared memory pointer), kept per OS thread: the worker running a block sets
// the block's values once and threadIdx at every switch into a fiber. Fibers never move
// between OS threads, so a thread_local is exactly per-fiber state here.
#pragma once
#include "kernels/sim/vector_types.h"

// initial-exec TLS: one load from the thread pointer, no __tls_get_addr call per access.
// Left out under the sanitizers: GCC 12's UBSan null check computes the address of an
// initial-exec thread_local without the thread pointer and reports a false "member access
// within null pointer" on every access.
#if defined(__SANITIZE_ADDRESS__) || defined(GLIA_SANITIZE)
#define GLIA_SIM_TLS
#else
#define GLIA_SIM_TLS __attribute__((tls_model("initial-exec")))
#endif

namespace glia::sim::detail {

struct ThreadRegisters {
  uint3 thread_idx{0, 0, 0};
  uint3 block_idx{0, 0, 0};
  dim3 block_dim{};
  dim3 grid_dim{};
  void* dynamic_shared = nullptr;
};

inline thread_local ThreadRegisters t_registers GLIA_SIM_TLS;
// Set by every atomic: checked mode compares a block's two schedules with a tolerance
// when it used atomics (float sums in another order round differently).
inline thread_local bool t_atomics_used GLIA_SIM_TLS = false;

}  // namespace glia::sim::detail
