// cp.async for the emulator: the pipeline primitives of cuda_pipeline_primitives.h
// (__pipeline_memcpy_async, __pipeline_commit, __pipeline_wait_prior), included by
// cuda_dialect.h.
//
// A GPU copies asynchronously: the destination holds the data only once a wait covering
// the copy's batch returns. The emulator makes that visible: a copy is only recorded
// when issued; __pipeline_commit closes the thread's current batch; and
// __pipeline_wait_prior(n) performs the copies of every committed batch but the newest n,
// at that moment, reading the source then. A kernel that reads the destination before
// waiting (or waits without committing) reads what was there before: shared memory's
// poison, which checked mode reports. Copies still pending when a thread finishes are
// performed then (a GPU completes them too). Errors, naming kernel, block and thread: a
// size other than 4, 8 or 16 bytes, a pointer not aligned to the size, zfill larger than
// the size.
#pragma once
#include <cstddef>

namespace glia::sim::detail {
void pipeline_memcpy_async(void* dst, const void* src, size_t size, size_t zfill);
void pipeline_commit();
void pipeline_wait_prior(size_t n);
}  // namespace glia::sim::detail

inline void __pipeline_memcpy_async(void* dst, const void* src, size_t size_and_align, size_t zfill = 0) {
  ::glia::sim::detail::pipeline_memcpy_async(dst, src, size_and_align, zfill);
}
inline void __pipeline_commit() { ::glia::sim::detail::pipeline_commit(); }
inline void __pipeline_wait_prior(size_t n) { ::glia::sim::detail::pipeline_wait_prior(n); }
