// cp.async as deferred copies per thread (see pipeline.h).
#include "kernels/sim/pipeline.h"

#include <cstdint>
#include <cstring>
#include <sstream>

#include "kernels/sim/block.h"

namespace glia::sim::detail {
namespace {

Fiber& calling_fiber(const char* op) {
  BlockRunner* r = active_runner();
  GLIA_CHECK(r != nullptr && r->current != nullptr, "sim: " << op << " called outside a kernel");
  return *r->current;
}

void perform(const AsyncCopy& c) {
  std::memcpy(c.dst, c.src, c.size - c.zfill);
  std::memset(static_cast<char*>(c.dst) + (c.size - c.zfill), 0, c.zfill);
}

}  // namespace

void pipeline_memcpy_async(void* dst, const void* src, size_t size, size_t zfill) {
  const char* op = "__pipeline_memcpy_async";
  Fiber& f = calling_fiber(op);
  BlockRunner& r = *active_runner();
  if (size != 4 && size != 8 && size != 16) {
    throw Fault("sim: " + r.where() + ": " + op + " of " + std::to_string(size) + " bytes: cp.async copies 4, 8 or 16");
  }
  if (reinterpret_cast<uintptr_t>(dst) % size != 0 || reinterpret_cast<uintptr_t>(src) % size != 0) {
    std::ostringstream m;
    m << "sim: " << r.where() << ": " << op << " of " << size << " bytes from " << src << " to " << dst
      << ": both pointers must be aligned to the size";
    throw Fault(m.str());
  }
  if (zfill > size) {
    throw Fault("sim: " + r.where() + ": " + op + " with zfill " + std::to_string(zfill) + " larger than its " +
                std::to_string(size) + " bytes");
  }
  f.async_copies.push_back(AsyncCopy{dst, src, size, zfill});
}

void pipeline_commit() {
  Fiber& f = calling_fiber("__pipeline_commit");
  f.async_batch_ends.push_back(f.async_copies.size());
}

void pipeline_wait_prior(size_t n) {
  Fiber& f = calling_fiber("__pipeline_wait_prior");
  if (f.async_batch_ends.size() <= n) return;
  // Batches [0, done) complete now; copies after the last committed batch stay pending.
  size_t done = f.async_batch_ends.size() - n, copies = f.async_batch_ends[done - 1];
  for (size_t i = 0; i < copies; ++i) perform(f.async_copies[i]);
  f.async_copies.erase(f.async_copies.begin(), f.async_copies.begin() + static_cast<std::ptrdiff_t>(copies));
  f.async_batch_ends.erase(f.async_batch_ends.begin(), f.async_batch_ends.begin() + static_cast<std::ptrdiff_t>(done));
  for (size_t& end : f.async_batch_ends) end -= copies;
}

void finish_async_copies(Fiber& f) {
  for (const AsyncCopy& c : f.async_copies) perform(c);
  f.async_copies.clear();
  f.async_batch_ends.clear();
}

}  // namespace glia::sim::detail
