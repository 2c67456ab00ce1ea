// The one way to launch a kernel, and the one way to get dynamic shared memory.
//
//   GLIA_LAUNCH(kernel, grid, block, shared_bytes, args...);
//   GLIA_DYNAMIC_SHARED(float, buffer);   // inside a kernel
//
// Under nvcc GLIA_LAUNCH launches on glia's current stream and checks the launch error
// (and, in debug builds, synchronises and checks the execution error). Under the SIMT
// emulator it runs the grid on the CPU: every CUDA thread a fiber executing the kernel
// body with its own threadIdx/blockIdx (kernels/sim/README.md). A templated kernel with several template
// arguments is passed in parentheses-free form through an alias or a wrapper.
#pragma once
#include <cstddef>

#if defined(__CUDACC__)
#include <cuda_runtime.h>

#include "kernels/cuda/cuda_runtime_wrappers.h"

#define GLIA_LAUNCH(kernel, grid, block, shared_bytes, ...)                                  \
  do {                                                                                         \
    kernel<<<(grid), (block), (shared_bytes),                                                  \
             static_cast<cudaStream_t>(::glia::cuda_rt::current_stream())>>>(__VA_ARGS__);     \
    ::glia::cuda_rt::check_launch(#kernel);                                                    \
  } while (0)

#define GLIA_DYNAMIC_SHARED(type, name)            \
  extern __shared__ unsigned char glia_dynamic_smem_[]; \
  type* name = reinterpret_cast<type*>(glia_dynamic_smem_)

#else  // the SIMT emulator
#include "kernels/sim/launch.h"

// The arguments are evaluated and converted to the kernel's parameter types once, on the
// calling thread, as a CUDA launch does.
#define GLIA_LAUNCH(kernel, grid, block, shared_bytes, ...) \
  ::glia::sim::launch(#kernel, dim3(grid), dim3(block), (shared_bytes), kernel, ##__VA_ARGS__)

#define GLIA_DYNAMIC_SHARED(type, name) \
  type* name = reinterpret_cast<type*>(::glia::sim::dynamic_shared_memory())

#endif
