// The SIMT emulator's warp operations: every shuffle variant with widths and types,
// votes and __syncwarp with full and partial masks, and what CUDA forbids.
#include "kernels/sim/cuda_dialect.h"
// (the dialect comes first, as in the generated wrappers of kernels/cuda/*.cu)
#include <gtest/gtest.h>

#include "kernels/cuda/launch.cuh"
#include "tests/sim/sim_test_util.h"

namespace {

using glia::sim_test::expect_error;
using glia::sim_test::SimBuffer;

constexpr unsigned kFull = 0xffffffffu;

// Each lane's value is 100 + lane (distinguishable from a lane index). Results per
// thread: 4 variants x 4 types, written as doubles.
__global__ void shuffles(int width, double* out) {
  unsigned t = threadIdx.x, lane = t % 32;
  double* o = out + t * 16;
  float f = 100.0f + static_cast<float>(lane);
  int i = 100 + static_cast<int>(lane);
  unsigned u = 100u + lane;
  double d = 100.0 + lane + 0.25;
  o[0] = __shfl_sync(kFull, f, 3, width);
  o[1] = __shfl_sync(kFull, i, 3, width);
  o[2] = __shfl_sync(kFull, u, 3, width);
  o[3] = __shfl_sync(kFull, d, 3, width);
  o[4] = __shfl_up_sync(kFull, f, 2, width);
  o[5] = __shfl_up_sync(kFull, i, 2, width);
  o[6] = __shfl_up_sync(kFull, u, 2, width);
  o[7] = __shfl_up_sync(kFull, d, 2, width);
  o[8] = __shfl_down_sync(kFull, f, 2, width);
  o[9] = __shfl_down_sync(kFull, i, 2, width);
  o[10] = __shfl_down_sync(kFull, u, 2, width);
  o[11] = __shfl_down_sync(kFull, d, 2, width);
  o[12] = __shfl_xor_sync(kFull, f, 5, width);
  o[13] = __shfl_xor_sync(kFull, i, 5, width);
  o[14] = __shfl_xor_sync(kFull, u, 5, width);
  o[15] = __shfl_xor_sync(kFull, d, 5, width);
}

TEST(SimWarp, ShuffleVariantsMoveEveryTypeBetweenTheRightLanes) {
  const unsigned threads = 64;  // two warps: a second warp must not see the first
  for (int width : {32, 16, 8}) {
    SimBuffer<double> out(threads * 16);
    GLIA_LAUNCH(shuffles, 1, threads, 0, width, out.get());
    for (unsigned t = 0; t < threads; ++t) {
      unsigned lane = t % 32, group = lane / width * width, in_group = lane % width;
      // Expected source lanes, from the CUDA programming guide's definitions.
      unsigned idx = group + 3;
      unsigned up = in_group >= 2 ? lane - 2 : lane;           // no lane below: own value
      unsigned down = in_group + 2 < unsigned(width) ? lane + 2 : lane;  // none above: own
      unsigned x = lane ^ 5u;  // 5 < 8 <= width: stays in the group
      unsigned src[4] = {idx, up, down, x};
      for (int v = 0; v < 4; ++v) {
        const double* o = out.get() + t * 16 + v * 4;
        EXPECT_EQ(o[0], 100.0 + src[v]) << "width " << width << " thread " << t << " variant " << v;
        EXPECT_EQ(o[1], 100.0 + src[v]);
        EXPECT_EQ(o[2], 100.0 + src[v]);
        EXPECT_EQ(o[3], 100.25 + src[v]);
      }
    }
  }
}

// The two half-warps work independently with their own masks, and a quarter of the warp
// votes on its own.
__global__ void partial_masks(unsigned* out) {
  unsigned lane = threadIdx.x % 32;
  unsigned* o = out + threadIdx.x * 6;
  unsigned half = lane < 16 ? 0x0000ffffu : 0xffff0000u;
  o[0] = __shfl_sync(half, lane * 10, lane < 16 ? 15 : 16);
  o[1] = __ballot_sync(half, lane % 3 == 0);
  o[2] = __any_sync(half, lane == 20);
  o[3] = __all_sync(half, lane < 16);
  if (lane % 4 == 1) {
    o[4] = __ballot_sync(0x22222222u, lane > 12);
    __syncwarp(0x22222222u);
  } else {
    o[4] = 7;
  }
  __syncwarp();
  o[5] = __ballot_sync(kFull, 1);
}

TEST(SimWarp, VotesAndShufflesHonourPartialMasks) {
  SimBuffer<unsigned> out(32 * 6);
  GLIA_LAUNCH(partial_masks, 1, 32, 0, out.get());
  unsigned thirds_low = 0, thirds_high = 0;
  for (unsigned l = 0; l < 32; l += 3) (l < 16 ? thirds_low : thirds_high) |= 1u << l;
  for (unsigned lane = 0; lane < 32; ++lane) {
    const unsigned* o = out.get() + lane * 6;
    bool low = lane < 16;
    EXPECT_EQ(o[0], low ? 150u : 160u) << lane;
    EXPECT_EQ(o[1], low ? thirds_low : thirds_high) << lane;
    EXPECT_EQ(o[2], low ? 0u : 1u) << lane;
    EXPECT_EQ(o[3], low ? 1u : 0u) << lane;
    // Lanes 1,5,9,13,17,21,25,29 vote lane > 12: 13,17,21,25,29.
    EXPECT_EQ(o[4], lane % 4 == 1 ? 0x22220000u | (1u << 13) : 7u) << lane;
    EXPECT_EQ(o[5], kFull);
  }
}

// A block of 40 threads: the second warp has 8 lanes; full-mask operations involve
// only the lanes that exist.
__global__ void partial_warp(unsigned* out) {
  unsigned lane = threadIdx.x % 32;
  out[threadIdx.x * 3] = __ballot_sync(kFull, 1);
  out[threadIdx.x * 3 + 1] = __all_sync(kFull, 1);
  out[threadIdx.x * 3 + 2] = __shfl_xor_sync(kFull, lane, 1);
}

TEST(SimWarp, AShortLastWarpHasOnlyItsExistingLanes) {
  SimBuffer<unsigned> out(40 * 3);
  GLIA_LAUNCH(partial_warp, 1, 40, 0, out.get());
  for (unsigned t = 0; t < 40; ++t) {
    EXPECT_EQ(out[t * 3], t < 32 ? kFull : 0xffu) << t;
    EXPECT_EQ(out[t * 3 + 1], 1u) << t;
    EXPECT_EQ(out[t * 3 + 2], (t % 32) ^ 1u) << t;
  }
}

// ---- what CUDA forbids ----------------------------------------------------------------
__global__ void caller_outside_mask(int* out) { out[threadIdx.x] = __shfl_sync(0x1u, 5, 0); }

TEST(SimWarp, ACallerOutsideItsMaskIsAnError) {
  SimBuffer<int> out(32);
  expect_error([&] { GLIA_LAUNCH(caller_outside_mask, 1, 32, 0, out.get()); },
               {"kernel 'caller_outside_mask'", "block (0,0,0)", "thread (1,0,0)", "__shfl_sync", "mask 0x1"});
}

__global__ void lane_skips_shuffle(int* out) {
  int v = static_cast<int>(threadIdx.x);
  if (threadIdx.x != 7) v = __shfl_down_sync(kFull, v, 1);
  out[threadIdx.x] = v;
}

TEST(SimWarp, ALaneOfTheMaskThatNeverArrivesIsAnErrorNotAHang) {
  SimBuffer<int> out(32);
  expect_error([&] { GLIA_LAUNCH(lane_skips_shuffle, 1, 32, 0, out.get()); },
               {"kernel 'lane_skips_shuffle'", "block (0,0,0)", "thread (7,0,0)", "__shfl_down_sync"});
}

__global__ void shuffle_against_barrier(int* out) {
  int v = 1;
  if (threadIdx.x < 16) {
    v = __shfl_sync(kFull, v, 0);
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = v;
}

TEST(SimWarp, AWarpOperationWaitingForLanesAtABarrierIsAReportedDeadlock) {
  SimBuffer<int> out(32);
  expect_error([&] { GLIA_LAUNCH(shuffle_against_barrier, 1, 32, 0, out.get()); },
               {"kernel 'shuffle_against_barrier'", "block (0,0,0)", "deadlock", "__shfl_sync"});
}

__global__ void bad_width(int* out) { out[threadIdx.x] = __shfl_sync(kFull, 1, 0, 12); }

TEST(SimWarp, AWidthThatIsNotAPowerOfTwoIsAnError) {
  SimBuffer<int> out(32);
  expect_error([&] { GLIA_LAUNCH(bad_width, 1, 32, 0, out.get()); }, {"kernel 'bad_width'", "width 12"});
}

}  // namespace
