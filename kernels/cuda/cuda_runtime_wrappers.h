// glia's thin layer over the CUDA runtime (real-CUDA builds). Plain C++ header: the rest
// of glia includes it without the CUDA toolkit's headers, so streams travel as void*.
// Every call checks its cudaError_t and throws glia::Error naming the call.
#pragma once
#include <cstddef>

namespace glia::cuda_rt {

int device_count();  // 0 when no GPU or no driver; never throws
void* alloc(size_t bytes);  // caching allocator; out of memory names the size and free memory
void release(void* ptr, size_t bytes);
void copy(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t bytes);
void synchronize();
void* current_stream();
void check_launch(const char* kernel_name);  // after every launch (GLIA_LAUNCH)

}  // namespace glia::cuda_rt
