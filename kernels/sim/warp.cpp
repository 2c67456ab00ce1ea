// Warp operations: shuffles, votes and __syncwarp as a barrier of the lanes named by the
// mask, exchanging one 64-bit value per lane.
//
// Each lane parks with its mask, value and source lane. The last lane of the mask to
// arrive computes every participant's result (the source lane's value, the ballot of
// the predicates) into that participant's own fiber, then releases them: a lane that
// runs ahead into its next shuffle cannot overwrite a value someone has yet to read.
#include <cstring>
#include <sstream>

#include "kernels/sim/block.h"
#include "kernels/sim/cuda_dialect.h"

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
        // Reading a lane outside the mask is undefined on a GPU; give the lane its own value.
        unsigned src = w.warp_src < 32 && (members >> w.warp_src & 1u) ? w.warp_src : l;
        w.warp_result = r.fiber(warp * 32 + src).warp_value;
        w.warp_ballot = ballot;
        w.state = FiberState::ready;
      }
      r.warp_waiting[warp] &= ~members;
      f.state = FiberState::running;
      return {f.warp_result, ballot};
    }
  }
  suspend(r.host, f.ctx);
  return {f.warp_result, f.warp_ballot};
}

}  // namespace

uint64_t warp_shuffle(const char* op, unsigned mask, uint64_t value, unsigned src_lane) {
  return warp_exchange(op, mask, value, src_lane).value;
}

unsigned warp_ballot(const char* op, unsigned mask, bool predicate) {
  return warp_exchange(op, mask, predicate ? 1u : 0u, 0).ballot;
}

unsigned active_lanes() {
  BlockRunner& r = in_kernel("__activemask()");
  unsigned warp = r.current->linear / 32;
  return r.warp_exists[warp] & ~r.warp_exited[warp];
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
