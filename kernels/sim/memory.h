// Guarded sim allocations for checked mode (used by glia::rt::alloc for Device::sim).
//
// A guarded buffer ends exactly at a page boundary followed by a PROT_NONE page, so the
// first byte past its end faults; the page before its first page is PROT_NONE too, and
// the bytes between that page and the buffer hold a canary checked after each launch.
// Live guarded buffers are also the memory checked mode snapshots to compare a block's
// two schedules.
#pragma once
#include <cstddef>

namespace glia::sim {

void* guarded_alloc(size_t bytes);
bool guarded_release(void* ptr);  // false when ptr is not a guarded allocation
size_t guarded_count();           // live guarded buffers

}  // namespace glia::sim
