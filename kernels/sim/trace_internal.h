// Internal to the emulator: the recorder behind kernels/sim/trace.h, called by the block
// runner around every fiber switch while it runs the traced block.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/sim/block.h"
#include "kernels/sim/trace.h"

namespace glia::sim::detail {

class BlockTrace {
 public:
  void begin(const Kernel& k, uint3 block, unsigned num_threads, size_t max_events);
  void resumed(BlockRunner& r, const Fiber& f);  // before the fiber runs
  void parked(BlockRunner& r, const Fiber& f);    // after it parked or finished
  bool overflowed() const { return overflowed_; }
  // Error when over the bound; else writes the file (Error naming it on failure).
  void write(const std::string& path) const;

 private:
  struct Event {
    char ph;        // 'X' run, 'i' instant, 'C' counter
    unsigned warp, lane;
    uint64_t ts, dur;
    std::string name;
    unsigned value;  // counter: active lanes
  };
  void add(Event e);
  void count_active(BlockRunner& r, unsigned warp);

  std::string kernel_;
  uint3 block_{0, 0, 0};
  unsigned num_threads_ = 0;
  size_t max_events_ = 0;
  bool overflowed_ = false;
  uint64_t tick_ = 0;
  std::vector<Event> events_;
  std::vector<uint64_t> run_start_;       // per thread: tick the current run began
  std::vector<const char*> parked_at_;    // per thread: the op it last parked in, or null
  std::vector<int> last_active_;          // per warp: the last active-lane count written
  std::vector<uint3> thread_idx_;
};

// The trace recording block `block` of `k` (schedule forward), claimed by the caller; null
// when none is armed or this is not the block (the common case: one atomic load).
BlockTrace* claim_trace(const Kernel& k, uint3 block, Schedule schedule);
// After the launch: writes the trace if this launch recorded it (Error when over the bound).
void finish_trace(const Kernel& k);
// Reads GLIA_SIM_TRACE* once (at the first launch).
void init_trace_from_env();

}  // namespace glia::sim::detail
