// Device memory and synchronisation, the only place glia talks to a device runtime.
// cpu and sim use host memory (sim fills fresh allocations with NaN so a kernel that
// reads memory nobody wrote shows it); cuda uses a caching allocator over cudaMalloc.
#pragma once
#include <cstddef>

#include "kernels/device.h"

namespace glia::rt {

bool backend_built(Device d);   // compiled into this build?
int cuda_device_count();        // 0 when CUDA is not built or no GPU is present

void* alloc(Device d, size_t bytes);
void release(Device d, void* ptr, size_t bytes);
// Copies between any two devices (host<->device, device<->device).
void copy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);
void synchronize(Device d);

// Bytes currently allocated and the peak since start, per device (for memory reports).
size_t bytes_in_use(Device d);
size_t peak_bytes(Device d);

}  // namespace glia::rt
