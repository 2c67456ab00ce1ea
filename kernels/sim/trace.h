// The emulator's trace of one block (a teaching view no GPU tool gives): every thread's
// timeline through one launch of one block -- its start, each run between two parks, each
// arrival at and release from __syncthreads, a warp collective (shuffle, vote,
// __syncwarp) or __activemask, its end -- and per warp the number of lanes active (not
// parked, not finished) at each point, so divergence and barriers show.
//
// Written as a Chrome trace-event file (chrome://tracing, ui.perfetto.dev): one process
// per warp, one thread track per lane, a counter "active lanes" per warp. The time axis is
// the emulator's step counter (one tick per fiber switch), not wall time: the emulator
// runs one thread at a time, so the trace shows the order it ran them in (forward: thread
// 0 first after every barrier).
//
// Turned on by the environment, read at the first launch:
//   GLIA_SIM_TRACE=FILE.json        where to write the trace
//   GLIA_SIM_TRACE_KERNEL=NAME      the first launch whose kernel name contains NAME
//                                   (default: the first launch)
//   GLIA_SIM_TRACE_BLOCK=X,Y,Z      the block (default 0,0,0; "X" alone means X,0,0)
//   GLIA_SIM_TRACE_MAX_EVENTS=N     the bound (default 200000); a block needing more is
//                                   refused: the launch fails with an error saying so
// or by set_trace() (tests). Only the first matching launch is traced; in checked mode,
// its forward schedule.
#pragma once
#include <cstddef>
#include <string>

#include "kernels/sim/vector_types.h"

namespace glia::sim {

struct TraceRequest {
  std::string path;
  std::string kernel;  // substring of the kernel's name; empty: any
  uint3 block{0, 0, 0};
  size_t max_events = 200000;
};
// Arms a trace (replacing any armed one); the next matching launch writes it.
void set_trace(const TraceRequest& request);
void clear_trace();
// True once the armed trace has been written.
bool trace_written();

}  // namespace glia::sim
