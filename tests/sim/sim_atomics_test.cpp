// The SIMT emulator's atomics under contention: every thread of many blocks, spread over
// several worker threads, updates the same few words.
#include "kernels/sim/cuda_dialect.h"
// (the dialect comes first, as in the generated wrappers of kernels/cuda/*.cu)
#include <gtest/gtest.h>

#include "kernels/cuda/launch.cuh"
#include "tests/sim/sim_test_util.h"

namespace {

using glia::sim_test::SimBuffer;

struct Counters {
  int add_int;
  unsigned add_unsigned;
  float add_float;
  double add_double;
  unsigned long long add_ull;
  int max_int;
  int min_int;
  int cas_counter;
  int exch_seen;  // every old value returned by atomicExch is a real previous value
  unsigned inc_wrap;
  int sub_int;
  unsigned or_bits;
};

__global__ void contend(Counters* c, int* exch_slot, int* claimed) {
  int id = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  atomicAdd(&c->add_int, 3);
  atomicAdd(&c->add_unsigned, 1u);
  atomicAdd(&c->add_float, 0.5f);  // exact in float up to 2^24
  atomicAdd(&c->add_double, 0.25);
  atomicAdd(&c->add_ull, 1ull << 33);
  atomicMax(&c->max_int, (id * 7919) % 10007);
  atomicMin(&c->min_int, -((id * 7919) % 10007));
  atomicSub(&c->sub_int, 2);
  atomicOr(&c->or_bits, 1u << (id % 32));
  atomicInc(&c->inc_wrap, 9u);  // counts 0..9 then wraps
  // A lock-free increment through atomicCAS: every retry must eventually succeed.
  int old = atomicAdd(&c->cas_counter, 0), seen;
  do {
    seen = old;
    old = atomicCAS(&c->cas_counter, seen, seen + 1);
  } while (old != seen);
  // Each exchange returns the id written by exactly one earlier thread (or -1, once).
  int previous = atomicExch(exch_slot, id);
  if (previous >= 0) atomicAdd(&claimed[previous], 1);
  else atomicAdd(&c->exch_seen, 1);
}

TEST(SimAtomics, EveryAtomicIsExactUnderContentionAcrossWorkers) {
  glia::sim::set_num_threads(4);
  // Which thread's id atomicExch hands to whom depends on the thread order by design:
  // opt out of checked mode's race half (GLIA_SIM_CHECK=1) for this kernel.
  glia::sim::set_check_races(false);
  const unsigned blocks = 37, threads = 128;
  const int n = static_cast<int>(blocks * threads);
  SimBuffer<Counters> c(1);
  Counters init{};
  init.max_int = -1;
  init.min_int = 1;
  *c.get() = init;
  SimBuffer<int> slot(1), claimed(n + 1);
  slot[0] = -1;
  claimed.fill(0);
  GLIA_LAUNCH(contend, blocks, threads, 0, c.get(), slot.get(), claimed.get());
  const Counters& r = *c.get();
  EXPECT_EQ(r.add_int, 3 * n);
  EXPECT_EQ(r.add_unsigned, static_cast<unsigned>(n));
  EXPECT_EQ(r.add_float, 0.5f * n);
  EXPECT_EQ(r.add_double, 0.25 * n);
  EXPECT_EQ(r.add_ull, static_cast<unsigned long long>(n) << 33);
  int expected_max = 0;
  for (int id = 0; id < n; ++id) expected_max = std::max(expected_max, (id * 7919) % 10007);
  EXPECT_EQ(r.max_int, expected_max);
  EXPECT_EQ(r.min_int, -expected_max);
  EXPECT_EQ(r.sub_int, -2 * n);
  EXPECT_EQ(r.or_bits, 0xffffffffu);
  EXPECT_EQ(r.inc_wrap, static_cast<unsigned>(n % 10));
  EXPECT_EQ(r.cas_counter, n);
  // Exactly one thread saw the initial -1; every other old value was claimed once, and
  // the id still in the slot was never returned.
  EXPECT_EQ(r.exch_seen, 1);
  int claims = 0;
  for (int id = 0; id < n; ++id) {
    EXPECT_LE(claimed[id], 1) << id;
    claims += claimed[id];
  }
  EXPECT_EQ(claims, n - 1);
  EXPECT_EQ(claimed[slot[0]], 0);
  glia::sim::set_check_races(true);
}

}  // namespace
