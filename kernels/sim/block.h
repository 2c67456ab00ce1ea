// Internal to the emulator: one block of CUDA threads run as fibers on one OS thread.
//
// A worker's BlockRunner runs a block to completion in passes: each pass resumes every
// runnable fiber in the schedule's order (forward, reverse or a seeded random
// permutation), each running until it finishes or parks at a barrier (__syncthreads, a
// warp operation, __activemask). Barriers count arrivals; the last thread to arrive
// releases the others and parks too, and a released __syncthreads starts a new pass, so
// the code between two barriers runs in the schedule's order for every thread. When no
// fiber can run and some have not finished, the block is deadlocked (a divergent
// barrier) and fails instead of hanging.
#pragma once
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "kernels/error.h"
#include "kernels/sim/fiber.h"
#include "kernels/sim/launch.h"

namespace glia::sim::detail {

struct WarpCollective;  // wmma.h

// One cp.async copy issued and not yet performed (pipeline.h).
struct AsyncCopy {
  void* dst;
  const void* src;
  size_t size, zfill;
};

// Errors the emulator raises inside a kernel; the message already names the kernel,
// block and thread.
class Fault : public glia::Error {
 public:
  using glia::Error::Error;
};

enum class FiberState : uint8_t { not_started, ready, running, at_block_barrier, at_warp_op, at_activemask, done };

// The order a block's threads run in after every barrier. Checked mode runs each block in
// all three and compares; unchecked mode runs forward.
enum class Schedule : uint8_t { forward, reverse, random };
const char* schedule_name(Schedule s);

struct Fiber {
  Context ctx;
  Stack stack;
  uint3 thread_idx{0, 0, 0};
  unsigned linear = 0;  // x + blockDim.x * (y + blockDim.y * z)
  FiberState state = FiberState::not_started;
  bool abandoned = false;  // left by a fault with its frames still on the stack
  const char* waiting_op = nullptr;
  int barrier_result = 0;
  // Warp operation in progress: the caller's effective mask, its value and source lane,
  // and what the last lane to arrive computed for it.
  unsigned warp_mask = 0;
  uint64_t warp_value = 0;
  unsigned warp_src = 0;
  uint64_t warp_result = 0;
  unsigned warp_ballot = 0;
  // A wmma collective in progress: the lane's arguments (on its own stack).
  const WarpCollective* collective = nullptr;
  // cp.async: copies issued and not yet performed, and where each committed batch ends.
  std::vector<AsyncCopy> async_copies;
  std::vector<size_t> async_batch_ends;
  // __activemask() in progress: the call's source location.
  const char* site_file = nullptr;
  int site_line = 0;
};

struct Kernel {
  const char* name;
  dim3 grid;
  dim3 block;
  size_t dynamic_shared_bytes;
  Body body;
  const void* closure;
  const void* entry;  // the kernel function
  // Seeds the wmma fragment layout (which element sits in which lane), per launch.
  uint64_t layout_seed = 0;
};

class BlockRunner {
 public:
  // Runs block `block_idx` of `kernel`; returns the fault that stopped it, if any. A
  // random schedule draws a fresh permutation for every pass from `seed`.
  std::exception_ptr run(const Kernel& kernel, uint3 block_idx, Schedule schedule, uint64_t seed = 0);

  // "kernel 'k', block (x,y,z), thread (x,y,z)"
  std::string where(const Fiber& f) const;
  std::string where() const;  // of the current fiber
  Fiber& fiber(unsigned linear) { return fibers_[linear]; }

  // State visible to barriers and warp operations (block.cpp, warp.cpp, checked.cpp).
  const Kernel* kernel = nullptr;
  uint3 block_idx{0, 0, 0};
  unsigned num_threads = 0;
  unsigned live = 0;     // fibers not finished
  unsigned exited = 0;   // fibers finished
  int first_exited = -1;
  unsigned at_barrier = 0;
  int barrier_votes = 0;
  std::vector<uint32_t> warp_waiting;  // per warp: lanes parked in a warp operation
  std::vector<uint32_t> warp_exited;   // per warp: lanes finished
  std::vector<uint32_t> warp_exists;   // per warp: lanes that exist (the last may be partial)
  std::vector<uint32_t> warp_activemask;  // per warp: lanes parked in __activemask()
  bool restart_pass = false;  // a __syncthreads released the block: the next pass starts over
  Fiber* current = nullptr;
  HostContext host;
  std::exception_ptr error;
  size_t switches = 0;

 private:
  std::exception_ptr fail_deadlock();
  std::unique_ptr<Fiber[]> fibers_;
  unsigned capacity_ = 0;
  std::vector<float4> dynamic_shared_;
  std::vector<unsigned> order_;  // this pass's order of fiber indices
};

// The calling OS thread's runner; `active_runner()` is non-null only while it runs a block.
BlockRunner& runner();
BlockRunner* active_runner();

// Called by a fiber's entry when the kernel body has returned or thrown.
void fiber_finished(BlockRunner& r, Fiber& f);
// Releases the lanes of `warp` parked in __activemask() once no lane of the warp can run.
void settle_activemask(BlockRunner& r, unsigned warp);
// Performs a finishing thread's cp.async copies still pending (pipeline.cpp).
void finish_async_copies(Fiber& f);
// Ends the current fiber after a memory fault (checked.cpp's signal path).
[[noreturn]] void fail_current_fiber_after_fault();

std::string format_index(uint3 v);

}  // namespace glia::sim::detail
