// Warp operations: shuffles, votes and __syncwarp as a barrier of the lanes named by the
// mask, exchanging one 64-bit value per lane.
//
// Each lane parks with its mask, value and source lane. The last lane of the mask to
// arrive computes every participant's result (the source lane's value, the ballot of
// the predicates) into that participant's own fiber, then releases them and parks too
// (the schedule decides who runs first): a lane that runs ahead into its next shuffle
// cannot overwrite a value someone has yet to read. A shuffle naming a source lane
// outside its mask (or past the block's last thread) is an error: on a GPU the value
// read is undefined.
//
// __activemask() parks the lane until no lane of its warp can run; it then returns the
// lanes parked at the same __activemask() call (source file and line): the lanes that
// took the caller's branch, not those that finished, diverged elsewhere or wait at a
// barrier.
#include <cstring>
#include <sstream>

#include "kernels/sim/block.h"
#include "kernels/sim/cuda_dialect.h"
#include "kernels/sim/wmma.h"

namespace glia::sim::detail {
namespace {

struct WarpResult {
  uint64_t value;
  unsigned ballot;
};

std::string hex(unsigned v) {
  std::ostringstream s;
  s << "0x" << std::hex << v;
  return s.str();
}

BlockRunner& in_kernel(const char* op) {
  BlockRunner* r = active_runner();
  GLIA_CHECK(r != nullptr && r->current != nullptr, "sim: " << op << " called outside a kernel");
  return *r;
}

constexpr unsigned kNoSource = ~0u;  // votes and __syncwarp read no other lane's value

WarpResult warp_exchange(const char* op, unsigned mask, uint64_t value, unsigned src_lane) {
  BlockRunner& r = in_kernel(op);
  Fiber& f = *r.current;
  unsigned warp = f.linear / 32, lane = f.linear % 32;
  if (!(mask >> lane & 1u)) {
    throw Fault("sim: " + r.where() + ": " + op + " with mask " + hex(mask) + " that does not name the calling lane " +
                std::to_string(lane) + " (CUDA requires the caller to be in the mask)");
  }
  unsigned members = mask & r.warp_exists[warp];
  if (members & r.warp_exited[warp]) {
    throw Fault("sim: " + r.where() + ": " + op + " with mask " + hex(mask) + " waits for lane(s) " +
                hex(members & r.warp_exited[warp]) + " that already finished: every lane named by the mask must make the same call");
  }
  if (src_lane != kNoSource && !(src_lane < 32 && (members >> src_lane & 1u))) {
    bool exists = src_lane < 32 && (r.warp_exists[warp] >> src_lane & 1u);
    throw Fault("sim: " + r.where() + " (lane " + std::to_string(lane) + "): " + op + " with mask " + hex(mask) +
                " reads lane " + std::to_string(src_lane) +
                (exists ? ", which is outside the mask" : ", which does not exist (the block's last warp is partial)") +
                ": the value read is undefined on a GPU");
  }
  f.state = FiberState::at_warp_op;
  f.waiting_op = op;
  f.warp_mask = members;
  f.warp_value = value;
  f.warp_src = src_lane;
  r.warp_waiting[warp] |= 1u << lane;

  if ((r.warp_waiting[warp] & members) == members) {
    bool same_group = true;
    unsigned ballot = 0;
    for (unsigned l = 0; l < 32; ++l) {
      if (!(members >> l & 1u)) continue;
      const Fiber& w = r.fiber(warp * 32 + l);
      if (w.warp_mask != members) same_group = false;
      if (std::strcmp(w.waiting_op, op) != 0) {
        throw Fault("sim: " + r.where() + ": " + op + " with mask " + hex(mask) + " met lane " + std::to_string(l) +
                    " waiting in " + w.waiting_op + ": the lanes of a mask must make the same warp call");
      }
      if (w.warp_value != 0) ballot |= 1u << l;
    }
    if (same_group) {
      for (unsigned l = 0; l < 32; ++l) {
        if (!(members >> l & 1u)) continue;
        Fiber& w = r.fiber(warp * 32 + l);
        w.warp_result = w.warp_src == kNoSource ? 0 : r.fiber(warp * 32 + w.warp_src).warp_value;
        w.warp_ballot = ballot;
        w.state = FiberState::ready;
      }
      r.warp_waiting[warp] &= ~members;
      suspend(r.host, f.ctx);
      return {f.warp_result, f.warp_ballot};
    }
  }
  settle_activemask(r, warp);
  suspend(r.host, f.ctx);
  return {f.warp_result, f.warp_ballot};
}

const char* layout_name(int layout) { return layout == 0 ? "row-major" : "column-major"; }

// What lane `l`'s call differs in from lane `first`'s, or "" when they are the same call.
std::string collective_difference(const WarpCollective& a, const WarpCollective& b) {
  std::ostringstream s;
  if (a.compute != b.compute) {
    s << "other fragment types or operation";
  } else if (a.ptr != b.ptr) {
    s << "pointer " << b.ptr << " where lane 0 passed " << a.ptr;
  } else if (a.ldm != b.ldm) {
    s << "ldm " << b.ldm << " where lane 0 passed " << a.ldm;
  } else if (a.layout != b.layout) {
    s << "layout " << layout_name(b.layout) << " where lane 0 passed " << layout_name(a.layout);
  }
  return s.str();
}

}  // namespace

void warp_collective(const WarpCollective& call) {
  const char* op = call.op;
  BlockRunner& r = in_kernel(op);
  Fiber& f = *r.current;
  unsigned warp = f.linear / 32, lane = f.linear % 32;
  // Built only when throwing: a string held in this lane's frame across the suspend below
  // would leak when another lane's fault abandons the suspended fibers (LeakSanitizer).
  auto who = [&] { return r.where() + " (lane " + std::to_string(lane) + ")"; };
  if (r.warp_exists[warp] != 0xffffffffu) {
    throw Fault("sim: " + who() + ": " + op + " in a warp of " + std::to_string(__builtin_popcount(r.warp_exists[warp])) +
                " threads: wmma operations need all 32 lanes of the warp (make the block a multiple of 32 threads)");
  }
  if (call.ptr != nullptr || call.layout >= 0) {  // a load or a store
    if (reinterpret_cast<uintptr_t>(call.ptr) % 32 != 0) {
      std::ostringstream s;
      s << "sim: " << who() << ": " << op << " with pointer " << call.ptr
        << ", which is not 256-bit (32-byte) aligned, as CUDA requires";
      throw Fault(s.str());
    }
    if (call.ldm % call.ldm_multiple != 0 || call.ldm < 16) {
      throw Fault("sim: " + who() + ": " + op + " with ldm " + std::to_string(call.ldm) + ": ldm must be a multiple of " +
                  std::to_string(call.ldm_multiple) + " elements (16 bytes) and at least 16");
    }
    if (call.layout != 0 && call.layout != 1) {
      throw Fault("sim: " + who() + ": " + op + " with layout " + std::to_string(call.layout) +
                  ": expected mem_row_major or mem_col_major");
    }
  }
  if (r.warp_exited[warp] != 0) {
    throw Fault("sim: " + who() + ": " + op + " waits for lane(s) " + hex(r.warp_exited[warp]) +
                " that already finished: every lane of the warp must make the same wmma call");
  }
  f.state = FiberState::at_warp_op;
  f.waiting_op = op;
  f.warp_mask = 0xffffffffu;
  f.collective = &call;
  r.warp_waiting[warp] |= 1u << lane;

  if (r.warp_waiting[warp] == 0xffffffffu) {
    const WarpCollective* lanes[32];
    for (unsigned l = 0; l < 32; ++l) {
      const Fiber& w = r.fiber(warp * 32 + l);
      auto lane_who = [&] { return r.where(w) + " (lane " + std::to_string(l) + ")"; };
      if (std::strcmp(w.waiting_op, op) != 0 || w.collective == nullptr) {
        throw Fault("sim: " + lane_who() + ": waits in " + w.waiting_op + " while lane " + std::to_string(lane) +
                    " calls " + op + ": every lane of the warp must make the same wmma call");
      }
      lanes[l] = w.collective;
      std::string diff = collective_difference(*lanes[0], *lanes[l]);
      if (!diff.empty()) {
        throw Fault("sim: " + lane_who() + ": " + op + " with " + diff +
                    ": every lane of the warp must make the same wmma call (same pointer, ldm and layout)");
      }
    }
    call.compute(lanes, r.kernel->layout_seed);
    for (unsigned l = 0; l < 32; ++l) {
      Fiber& w = r.fiber(warp * 32 + l);
      w.collective = nullptr;
      w.state = FiberState::ready;
    }
    r.warp_waiting[warp] = 0;
  } else {
    settle_activemask(r, warp);
  }
  suspend(r.host, f.ctx);
}

const uint16_t* fragment_layout(int kind, int elements_per_lane, uint64_t layout_seed) {
  // Cached per worker thread: a launch's blocks draw the same mapping many times.
  struct Cached {
    uint64_t seed = 0;
    bool valid = false;
    uint16_t map[512];
  };
  static thread_local Cached cache[8];
  GLIA_CHECK(kind >= 0 && kind < 8 && (elements_per_lane == 8 || elements_per_lane == 16),
             "sim: bad wmma fragment kind " << kind);
  Cached& c = cache[kind];
  if (!c.valid || c.seed != layout_seed) {
    int slots = 32 * elements_per_lane;
    for (int s = 0; s < slots; ++s) c.map[s] = static_cast<uint16_t>(s);
    uint64_t state = layout_seed ^ (0xd1b54a32d192ed03ull * static_cast<uint64_t>(kind + 1));
    for (int n = slots; n > 1; --n) {
      uint64_t z = (state += 0x9e3779b97f4a7c15ull);  // splitmix64
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      z ^= z >> 31;
      std::swap(c.map[n - 1], c.map[z % static_cast<uint64_t>(n)]);
    }
    c.seed = layout_seed;
    c.valid = true;
  }
  return c.map;
}

uint64_t warp_shuffle(const char* op, unsigned mask, uint64_t value, unsigned src_lane) {
  return warp_exchange(op, mask, value, src_lane).value;
}

unsigned warp_ballot(const char* op, unsigned mask, bool predicate) {
  return warp_exchange(op, mask, predicate ? 1u : 0u, kNoSource).ballot;
}

void settle_activemask(BlockRunner& r, unsigned warp) {
  uint32_t pending = r.warp_activemask[warp];
  if (pending == 0) return;
  for (uint32_t lanes = r.warp_exists[warp] & ~r.warp_exited[warp]; lanes != 0; lanes &= lanes - 1) {
    FiberState s = r.fiber(warp * 32 + static_cast<unsigned>(__builtin_ctz(lanes))).state;
    if (s == FiberState::not_started || s == FiberState::ready || s == FiberState::running) return;
  }
  // No lane of the warp can run: group the parked callers by call site.
  for (uint32_t lanes = pending; lanes != 0; lanes &= lanes - 1) {
    Fiber& w = r.fiber(warp * 32 + static_cast<unsigned>(__builtin_ctz(lanes)));
    unsigned same_site = 0;
    for (uint32_t others = pending; others != 0; others &= others - 1) {
      unsigned l = static_cast<unsigned>(__builtin_ctz(others));
      const Fiber& o = r.fiber(warp * 32 + l);
      if (o.site_line == w.site_line && std::strcmp(o.site_file, w.site_file) == 0) same_site |= 1u << l;
    }
    w.warp_ballot = same_site;
    w.state = FiberState::ready;
  }
  r.warp_activemask[warp] = 0;
}

unsigned active_lanes(const char* file, int line) {
  BlockRunner& r = in_kernel("__activemask()");
  Fiber& f = *r.current;
  unsigned warp = f.linear / 32;
  f.state = FiberState::at_activemask;
  f.waiting_op = "__activemask()";
  f.site_file = file;
  f.site_line = line;
  r.warp_activemask[warp] |= 1u << (f.linear % 32);
  settle_activemask(r, warp);
  suspend(r.host, f.ctx);
  return f.warp_ballot;
}

unsigned warp_members(unsigned mask) {
  BlockRunner& r = in_kernel("__all_sync");
  return mask & r.warp_exists[r.current->linear / 32];
}

void bad_width(const char* op, int width) {
  BlockRunner& r = in_kernel(op);
  throw Fault("sim: " + r.where() + ": " + op + " with width " + std::to_string(width) +
              ": the width must be a power of two from 1 to 32");
}

}  // namespace glia::sim::detail
