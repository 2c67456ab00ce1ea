// One block of CUDA threads as fibers on one OS thread, and __syncthreads (see block.h).
#include "kernels/sim/block.h"

#include <cstring>
#include <sstream>

#include "kernels/sim/shared_memory.h"
#include "kernels/sim/thread_state.h"
#include "kernels/sim/trace_internal.h"

namespace glia::sim::detail {
namespace {

// initial-exec: a plain load from the thread pointer (glia_kernels is compiled -fPIC,
// whose default TLS model calls __tls_get_addr on every access).
GLIA_SIM_TLS thread_local BlockRunner t_runner;
GLIA_SIM_TLS thread_local BlockRunner* t_active = nullptr;

// Runs the kernel body; every exception stops here, on the fiber that threw it, so no
// unwinding ever crosses a fiber boundary.
__attribute__((noinline)) void run_body(BlockRunner& r, Fiber& f) {
  try {
    r.kernel->body(r.kernel->closure);
  } catch (const Fault&) {
    r.error = std::current_exception();
  } catch (const std::exception& e) {
    r.error = std::make_exception_ptr(Fault("sim: " + r.where(f) + ": the kernel threw: " + e.what()));
  } catch (...) {
    r.error = std::make_exception_ptr(Fault("sim: " + r.where(f) + ": the kernel threw a non-standard exception"));
  }
}

void fiber_main(void* arg) {
  auto& f = *static_cast<Fiber*>(arg);
  BlockRunner& r = runner();
  fiber_started(r.host);
  run_body(r, f);
  fiber_finished(r, f);
  exit_fiber(r.host, f.ctx);
}

// splitmix64: a small, well-mixed generator for the random schedule's permutations.
uint64_t next_random(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

const char* schedule_name(Schedule s) {
  switch (s) {
    case Schedule::forward: return "forward";
    case Schedule::reverse: return "reverse";
    case Schedule::random: return "random";
  }
  return "?";
}

BlockRunner& runner() { return t_runner; }
BlockRunner* active_runner() { return t_active; }

std::string format_index(uint3 v) {
  std::ostringstream s;
  s << "(" << v.x << "," << v.y << "," << v.z << ")";
  return s.str();
}

std::string BlockRunner::where(const Fiber& f) const {
  return std::string("kernel '") + kernel->name + "', block " + format_index(block_idx) + ", thread " +
         format_index(f.thread_idx);
}

std::string BlockRunner::where() const { return where(*current); }

void fiber_finished(BlockRunner& r, Fiber& f) {
  if (!r.error) finish_async_copies(f);
  f.state = FiberState::done;
  --r.live;
  ++r.exited;
  if (r.first_exited < 0) r.first_exited = static_cast<int>(f.linear);
  unsigned warp = f.linear / 32, lane = f.linear % 32;
  r.warp_exited[warp] |= 1u << lane;
  if (r.error) return;
  settle_activemask(r, warp);
  if (r.at_barrier > 0) {
    std::ostringstream m;
    m << "sim: " << r.where(f) << ": the thread finished while " << r.at_barrier << " other thread(s) of the block wait at "
      << "__syncthreads(): a barrier not reached by every thread of the block (a deadlock on a GPU)";
    r.error = std::make_exception_ptr(Fault(m.str()));
    return;
  }
  for (uint32_t waiting = r.warp_waiting[warp]; waiting != 0; waiting &= waiting - 1) {
    unsigned l = static_cast<unsigned>(__builtin_ctz(waiting));
    const Fiber& w = r.fiber(warp * 32 + l);
    if (w.warp_mask >> lane & 1u) {
      std::ostringstream m;
      m << "sim: " << r.where(f) << ": the thread finished while thread " << format_index(w.thread_idx) << " waits for it in "
        << w.waiting_op << " with mask 0x" << std::hex << w.warp_mask
        << ": every lane named by the mask must make the same call";
      r.error = std::make_exception_ptr(Fault(m.str()));
      return;
    }
  }
}

int block_barrier(const char* op, int predicate) {
  BlockRunner* r = active_runner();
  GLIA_CHECK(r != nullptr, "sim: " << op << " called outside a kernel");
  Fiber& f = *r->current;
  if (r->exited > 0) {
    throw Fault("sim: " + r->where() + ": reached " + op + " after thread " +
                format_index(r->fiber(static_cast<unsigned>(r->first_exited)).thread_idx) +
                " of the block had finished: a barrier not reached by every thread of the block (a deadlock on a GPU)");
  }
  f.state = FiberState::at_block_barrier;
  f.waiting_op = op;
  ++r->at_barrier;
  r->barrier_votes += predicate;
  if (r->at_barrier == r->num_threads) {
    // Last to arrive: release everyone, itself included, and start a new pass: after the
    // barrier every thread runs in the schedule's order (a releaser running on at once
    // would run first in every schedule, and races with it would go unseen).
    int votes = r->barrier_votes;
    for (unsigned i = 0; i < r->num_threads; ++i) {
      Fiber& w = r->fiber(i);
      if (w.state == FiberState::at_block_barrier) {
        w.state = FiberState::ready;
        w.barrier_result = votes;
      }
    }
    r->at_barrier = 0;
    r->barrier_votes = 0;
    r->restart_pass = true;
  } else {
    settle_activemask(*r, f.linear / 32);
  }
  suspend(r->host, f.ctx);
  return f.barrier_result;
}

std::exception_ptr BlockRunner::fail_deadlock() {
  // Nobody can run: some threads wait at __syncthreads while others wait in a warp
  // operation, or a warp operation's mask names lanes that wait elsewhere.
  std::ostringstream m;
  const Fiber* first_warp_waiter = nullptr;
  for (unsigned i = 0; i < num_threads; ++i) {
    if (fibers_[i].state == FiberState::at_warp_op) {
      first_warp_waiter = &fibers_[i];
      break;
    }
  }
  const Fiber& blame = first_warp_waiter ? *first_warp_waiter : fibers_[0];
  m << "sim: " << where(blame) << ": deadlock, no thread of the block can continue: " << at_barrier
    << " thread(s) wait at __syncthreads()";
  if (first_warp_waiter) {
    m << ", and this thread waits in " << first_warp_waiter->waiting_op << " with mask 0x" << std::hex
      << first_warp_waiter->warp_mask << std::dec << " for lanes that never make the same call";
  }
  return std::make_exception_ptr(Fault(m.str()));
}

std::exception_ptr BlockRunner::run(const Kernel& k, uint3 idx, Schedule schedule, uint64_t seed) {
  kernel = &k;
  block_idx = idx;
  num_threads = k.block.x * k.block.y * k.block.z;
  if (capacity_ < num_threads) {
    fibers_.reset(new Fiber[num_threads]);
    capacity_ = num_threads;
  }
  unsigned linear = 0;
  for (unsigned z = 0; z < k.block.z; ++z) {
    for (unsigned y = 0; y < k.block.y; ++y) {
      for (unsigned x = 0; x < k.block.x; ++x, ++linear) {
        Fiber& f = fibers_[linear];
        f.thread_idx = uint3{x, y, z};
        f.linear = linear;
        f.state = FiberState::not_started;
        f.abandoned = false;
        f.stack = Stack{};
        f.collective = nullptr;
        f.async_copies.clear();
        f.async_batch_ends.clear();
      }
    }
  }
  unsigned num_warps = (num_threads + 31) / 32;
  warp_waiting.assign(num_warps, 0);
  warp_exited.assign(num_warps, 0);
  warp_exists.assign(num_warps, 0xffffffffu);
  warp_activemask.assign(num_warps, 0);
  if (num_threads % 32 != 0) warp_exists.back() = (1u << (num_threads % 32)) - 1;
  live = num_threads;
  exited = 0;
  first_exited = -1;
  at_barrier = 0;
  barrier_votes = 0;
  error = nullptr;
  current = nullptr;
  restart_pass = false;
  order_.resize(num_threads);
  for (unsigned n = 0; n < num_threads; ++n) order_[n] = schedule == Schedule::reverse ? num_threads - 1 - n : n;
  uint64_t random_state = seed;

  // Shared memory starts poisoned, as if a previous block had left garbage there.
  uint32_t poison = kSharedPoison[static_cast<int>(schedule)];
  poison_static_shared(poison, k.entry);

  ThreadRegisters& regs = t_registers;
  regs.block_idx = idx;
  regs.block_dim = k.block;
  regs.grid_dim = k.grid;
  if (k.dynamic_shared_bytes > 0) {
    dynamic_shared_.resize((k.dynamic_shared_bytes + sizeof(float4) - 1) / sizeof(float4));
    poison_bytes(dynamic_shared_.data(), dynamic_shared_.size() * sizeof(float4), poison);
    regs.dynamic_shared = dynamic_shared_.data();
  } else {
    regs.dynamic_shared = nullptr;
  }

  BlockTrace* trace = claim_trace(k, idx, schedule);  // null unless GLIA_SIM_TRACE asks for this block
  t_active = this;
  while (live > 0 && !error) {
    if (schedule == Schedule::random) {
      for (unsigned n = num_threads; n > 1; --n) std::swap(order_[n - 1], order_[next_random(random_state) % n]);
    }
    restart_pass = false;
    bool progressed = false;
    for (unsigned n = 0; n < num_threads; ++n) {
      Fiber& f = fibers_[order_[n]];
      if (f.state == FiberState::not_started) {
        f.stack = acquire_stack();
        context_prepare(f.ctx, f.stack, &fiber_main, &f);
      } else if (f.state != FiberState::ready) {
        continue;
      }
      f.state = FiberState::running;
      current = &f;
      regs.thread_idx = f.thread_idx;
      if (trace != nullptr) trace->resumed(*this, f);
      resume(host, f.ctx, f.stack);
      if (trace != nullptr) trace->parked(*this, f);
      current = nullptr;
      ++switches;
      progressed = true;
      if (f.state == FiberState::done) {
        release_stack(f.stack, f.abandoned);
        f.stack = Stack{};
      }
      if (error || restart_pass) break;
    }
    if (!progressed && !error) error = fail_deadlock();
  }
  t_active = nullptr;
  // A failed block leaves fibers parked mid-kernel: their stacks go back to the pool.
  for (unsigned i = 0; i < num_threads; ++i) {
    Fiber& f = fibers_[i];
    if (f.stack.base != nullptr) {
      release_stack(f.stack, true);
      f.stack = Stack{};
    }
  }
  return error;
}

}  // namespace glia::sim::detail

namespace glia::sim {
// nullptr when the launch asked for no dynamic shared memory: declaring the buffer is
// fine, using it faults (named by checked mode), as reading past a 0-byte buffer would.
void* dynamic_shared_memory() { return detail::t_registers.dynamic_shared; }
}  // namespace glia::sim
