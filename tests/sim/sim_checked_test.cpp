// What checked mode must catch that a quick test of the emulator can miss: each test
// plants one bug, written the way kernels are usually written, and checks the report
// names the kernel. Also the schedules themselves, shared-memory poison, buffer
// alignment, and __activemask().
#include "kernels/sim/cuda_dialect.h"
// (the dialect comes first, as in the generated wrappers of kernels/cuda/*.cu)
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <set>
#include <vector>

#include "kernels/cuda/launch.cuh"
#include "kernels/sim/block.h"
#include "kernels/sim/shared_memory.h"
#include "tests/sim/sim_test_util.h"

namespace {

using glia::sim_test::CheckedScope;
using glia::sim_test::expect_error;
using glia::sim_test::SimBuffer;
namespace detail = glia::sim::detail;

constexpr unsigned kFull = 0xffffffffu;

// ---- schedules ----------------------------------------------------------------------------
// Every thread records when it ran before and after a barrier.
__global__ void record_order(unsigned* counter, unsigned* order) {
  order[atomicAdd(counter, 1u)] = threadIdx.x;
  __syncthreads();
  order[atomicAdd(counter, 1u)] = threadIdx.x;
}

// Runs one block of record_order directly in `schedule` and returns the order of the
// threads after the barrier.
std::vector<unsigned> order_after_barrier(detail::Schedule schedule, uint64_t seed, unsigned threads) {
  std::vector<unsigned> order(2 * threads, ~0u);
  unsigned counter = 0;
  detail::BoundKernel<unsigned*, unsigned*> bound{&record_order, {&counter, order.data()}};
  detail::Kernel kernel{"record_order", dim3(1), dim3(threads), 0, &detail::run_bound<unsigned*, unsigned*>, &bound,
                        reinterpret_cast<const void*>(&record_order)};
  std::exception_ptr e = detail::runner().run(kernel, uint3{0, 0, 0}, schedule, seed);
  EXPECT_FALSE(e);
  EXPECT_EQ(counter, 2 * threads);
  return std::vector<unsigned>(order.begin() + threads, order.end());
}

TEST(SimSchedules, AfterABarrierEveryThreadRunsInTheScheduleOrderTheReleasingOneIncluded) {
  const unsigned n = 64;
  std::vector<unsigned> forward(n), reverse(n);
  std::iota(forward.begin(), forward.end(), 0u);
  std::iota(reverse.rbegin(), reverse.rend(), 0u);
  // The last thread to arrive (63 forward, 0 in reverse) parks like the others.
  EXPECT_EQ(order_after_barrier(detail::Schedule::forward, 0, n), forward);
  EXPECT_EQ(order_after_barrier(detail::Schedule::reverse, 0, n), reverse);
  std::vector<unsigned> random = order_after_barrier(detail::Schedule::random, 5, n);
  EXPECT_TRUE(std::is_permutation(random.begin(), random.end(), forward.begin()));
  EXPECT_NE(random, forward);
  EXPECT_NE(random, reverse);
  EXPECT_EQ(order_after_barrier(detail::Schedule::random, 5, n), random) << "a seed repeats its permutation";
  EXPECT_NE(order_after_barrier(detail::Schedule::random, 6, n), random) << "another seed, another permutation";
}

// The block reduction as it is usually written, with the barrier inside the loop
// forgotten; thread 0 writes the result, so in the old schedules (releasing thread first)
// thread 0 ran before every worker in both orders and the race went unseen.
__global__ void block_sum_missing_barrier(const float* in, float* out) {
  __shared__ float partial[128];
  unsigned t = threadIdx.x;
  partial[t] = in[blockIdx.x * blockDim.x + t];
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (t < stride) partial[t] += partial[t + stride];
    // missing: __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = partial[0];
}

__global__ void block_sum(const float* in, float* out) {
  __shared__ float partial[128];
  unsigned t = threadIdx.x;
  partial[t] = in[blockIdx.x * blockDim.x + t];
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (t < stride) partial[t] += partial[t + stride];
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = partial[0];
}

TEST(SimSchedules, ABlockReductionMissingItsLoopBarrierIsReportedWhenThread0WritesTheResult) {
  CheckedScope checked;
  SimBuffer<float> in(2 * 128), out(2);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i % 7) - 3.0f;
  expect_error([&] { GLIA_LAUNCH(block_sum_missing_barrier, 2, 128, 0, in.get(), out.get()); },
               {"kernel 'block_sum_missing_barrier'", "block (0,0,0)", "race between threads",
                "in reverse order instead of forward order"});  // not left to the random order
  GLIA_LAUNCH(block_sum, 2, 128, 0, in.get(), out.get());  // with the barrier: no report
  for (unsigned b = 0; b < 2; ++b) {
    float ref = 0;
    for (unsigned i = 0; i < 128; ++i) ref += in[b * 128 + i];
    EXPECT_EQ(out[b], ref);
  }
}

// Which thread writes the shared word last decides the result. Forward and reverse order
// both end with a thread writing 0; only an order ending with thread 1 gives 1, which the
// random schedule finds for some seeds.
__global__ void last_writer_wins(int* out) {
  __shared__ int winner;
  winner = threadIdx.x == 1 ? 1 : 0;
  __syncthreads();
  if (threadIdx.x == 0) out[blockIdx.x] = winner;
}

TEST(SimSchedules, TheRandomScheduleFindsARaceTheOtherTwoMissAndNamesItsSeed) {
  CheckedScope checked;
  SimBuffer<int> out(1);
  uint64_t was = glia::sim::schedule_seed();
  int reported = 0;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    glia::sim::set_schedule_seed(seed);
    try {
      GLIA_LAUNCH(last_writer_wins, 1, 3, 0, out.get());
    } catch (const glia::Error& e) {
      std::string m = e.what();
      EXPECT_NE(m.find("kernel 'last_writer_wins'"), std::string::npos) << m;
      EXPECT_NE(m.find("random order (GLIA_SIM_SEED=" + std::to_string(seed) + ")"), std::string::npos) << m;
      ++reported;
    }
  }
  glia::sim::set_schedule_seed(was);
  EXPECT_GT(reported, 0) << "no seed put thread 1 last";
  EXPECT_LT(reported, 12) << "forward-like permutations should not be reported";
}

// ---- shared memory poison -------------------------------------------------------------------
// 32 threads fill the lower half of a 64-word array and read the upper half too.
template <class T>
__global__ void reads_unwritten_shared(const T* in, T* out) {
  __shared__ T values[64];
  unsigned t = threadIdx.x;
  values[t] = in[t];
  __syncthreads();
  out[t] = values[t + 32];
}

__global__ void sum_with_unwritten_shared(const float* in, float* out) {
  __shared__ float values[64];
  unsigned t = threadIdx.x;
  values[t] = in[t];
  __syncthreads();
  out[t] = values[t] + values[t + 32];
}

TEST(SimSharedPoison, StaticSharedStartsPoisonedNaNForFloatsAndHugeForInts) {
  ASSERT_GT(detail::static_shared_bytes(), 0u) << "no static __shared__ variable found in the symbol table";
  SimBuffer<float> fin(32), fout(32);
  SimBuffer<int> iin(32), iout(32);
  fin.fill(1.0f);
  iin.fill(1);
  GLIA_LAUNCH(reads_unwritten_shared<float>, 1, 32, 0, fin.get(), fout.get());
  GLIA_LAUNCH(reads_unwritten_shared<int>, 1, 32, 0, iin.get(), iout.get());
  for (unsigned t = 0; t < 32; ++t) {
    EXPECT_TRUE(std::isnan(fout[t])) << t;
    EXPECT_EQ(iout[t], 0x7fffffff) << t;
  }
}

// Block 0 fills the array; every other block only reads it. On one worker, a later block
// must not see what block 0 left behind.
__global__ void first_block_writes_shared(float* out) {
  __shared__ float left_over[32];
  if (blockIdx.x == 0) left_over[threadIdx.x] = 5.0f;
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = left_over[threadIdx.x];
}

// The same with the array in a device function of its own (not inlined).
__device__ __noinline__ float helper_left_over(bool write) {
  __shared__ float left_over[32];
  if (write) left_over[threadIdx.x] = 6.0f;
  __syncthreads();
  return left_over[threadIdx.x];
}
__global__ void first_block_writes_helper_shared(float* out) {
  out[blockIdx.x * blockDim.x + threadIdx.x] = helper_left_over(blockIdx.x == 0);
}

TEST(SimSharedPoison, EveryBlockStartsWithFreshPoison) {
  glia::sim::set_num_threads(1);
  SimBuffer<float> out(3 * 32), other(32), in(32);
  in.fill(1.0f);
  for (int round = 0; round < 2; ++round) {  // the second time after other kernels ran
    GLIA_LAUNCH(first_block_writes_shared, 3, 32, 0, out.get());
    for (unsigned i = 0; i < 3 * 32; ++i) {
      if (i < 32) EXPECT_EQ(out[i], 5.0f);
      else EXPECT_TRUE(std::isnan(out[i])) << "block " << i / 32 << " saw block 0's shared memory";
    }
    GLIA_LAUNCH(first_block_writes_helper_shared, 3, 32, 0, out.get());
    for (unsigned i = 0; i < 3 * 32; ++i) {
      if (i < 32) EXPECT_EQ(out[i], 6.0f);
      else EXPECT_TRUE(std::isnan(out[i])) << "block " << i / 32 << " saw block 0's shared memory (helper)";
    }
    GLIA_LAUNCH(reads_unwritten_shared<float>, 1, 32, 0, in.get(), other.get());
  }
}

TEST(SimSharedPoison, AReadOfUnwrittenStaticSharedIsReportedInCheckedMode) {
  CheckedScope checked;
  SimBuffer<float> in(32), out(32);
  in.fill(2.0f);
  expect_error([&] { GLIA_LAUNCH(sum_with_unwritten_shared, 1, 32, 0, in.get(), out.get()); },
               {"kernel 'sum_with_unwritten_shared'", "block (0,0,0)", "__shared__ memory that no thread of the block wrote"});
  SimBuffer<int> iin(32), iout(32);
  iin.fill(3);
  expect_error([&] { GLIA_LAUNCH(reads_unwritten_shared<int>, 1, 32, 0, iin.get(), iout.get()); },
               {"kernel 'reads_unwritten_shared<int>'", "no thread of the block wrote"});
}

__global__ void reads_unwritten_dynamic_shared(float* out) {
  GLIA_DYNAMIC_SHARED(float, values);
  values[threadIdx.x] = 1.0f;
  __syncthreads();
  out[threadIdx.x] = values[threadIdx.x + 32];
}

TEST(SimSharedPoison, AReadOfUnwrittenDynamicSharedIsReportedInCheckedMode) {
  CheckedScope checked;
  SimBuffer<float> out(32);
  expect_error([&] { GLIA_LAUNCH(reads_unwritten_dynamic_shared, 1, 32, 64 * sizeof(float), out.get()); },
               {"kernel 'reads_unwritten_dynamic_shared'", "no thread of the block wrote"});
}

// ---- alignment of checked-mode buffers ------------------------------------------------------
TEST(SimCheckedBuffers, StartOn256ByteBoundariesAsCudaMallocsDo) {
  CheckedScope checked;
  for (size_t floats : {1, 3, 64, 100, 1001, 1024, 5000}) {
    SimBuffer<float> b(floats);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.get()) % 256, 0u) << floats * 4 << " bytes";
  }
}

// ---- shuffles reading outside their mask -----------------------------------------------------
// Each half of the second warp shuffles down within its own half-warp mask; lane 15 (thread
// 47) reads lane 16, outside the mask.
__global__ void shuffle_down_past_half_mask(int* out) {
  unsigned lane = threadIdx.x % 32;
  unsigned half = lane < 16 ? 0x0000ffffu : 0xffff0000u;
  int v = static_cast<int>(threadIdx.x);
  if (threadIdx.x >= 32) v = __shfl_down_sync(half, v, 1);
  out[threadIdx.x] = v;
}

TEST(SimWarpMasks, AShuffleReadingALaneOutsideItsMaskIsAnErrorNamingKernelBlockAndLane) {
  SimBuffer<int> out(64);
  expect_error([&] { GLIA_LAUNCH(shuffle_down_past_half_mask, 1, 64, 0, out.get()); },
               {"kernel 'shuffle_down_past_half_mask'", "block (0,0,0)", "thread (47,0,0) (lane 15)", "__shfl_down_sync",
                "mask 0xffff", "reads lane 16", "outside the mask"});
}

// A block of 40 threads: the second warp has 8 lanes, and lane 0 reads lane 8.
__global__ void shuffle_from_missing_lane(int* out) {
  out[threadIdx.x] = __shfl_down_sync(kFull, static_cast<int>(threadIdx.x), 8);
}

TEST(SimWarpMasks, AShuffleReadingALanePastTheBlocksLastThreadIsAnError) {
  SimBuffer<int> out(40);
  expect_error([&] { GLIA_LAUNCH(shuffle_from_missing_lane, 1, 40, 0, out.get()); },
               {"kernel 'shuffle_from_missing_lane'", "thread (32,0,0) (lane 0)", "reads lane 8", "does not exist"});
}

// ---- __activemask() -------------------------------------------------------------------------
__global__ void branch_masks(unsigned* out) {
  unsigned lane = threadIdx.x % 32;
  if (lane < 10) {
    out[threadIdx.x] = __activemask();
  } else if (lane % 2 == 0) {
    out[threadIdx.x] = __activemask();
  } else {
    out[threadIdx.x] = 0;
    return;
  }
  __syncwarp(__activemask());
}

TEST(SimActiveMask, ReturnsTheLanesInTheCallersBranch) {
  for (bool checked : {false, true}) {
    CheckedScope scope(checked);
    SimBuffer<unsigned> out(72);  // two full warps and one of 8 lanes
    GLIA_LAUNCH(branch_masks, 1, 72, 0, out.get());
    for (unsigned t = 0; t < 72; ++t) {
      unsigned lane = t % 32, exists = t < 64 ? kFull : 0xffu;
      unsigned expected = lane < 10 ? 0x3ffu & exists : lane % 2 == 0 ? 0x55555400u & exists : 0u;
      EXPECT_EQ(out[t], expected) << "thread " << t << (checked ? " (checked)" : "");
    }
  }
}

// The common mistake: the mask of the threads still in bounds, then a shuffle that reads
// the first thread past the bound.
__global__ void shuffle_with_active_mask(const float* in, float* out, int n) {
  int i = static_cast<int>(threadIdx.x);
  if (i < n) {
    float v = in[i];
    v += __shfl_down_sync(__activemask(), v, 1);
    out[i] = v;
  }
}

TEST(SimActiveMask, AShuffleWithTheActiveMaskReadingAnExitedLaneIsAnError) {
  SimBuffer<float> in(32), out(32);
  in.fill(1.0f);
  expect_error([&] { GLIA_LAUNCH(shuffle_with_active_mask, 1, 32, 0, in.get(), out.get(), 20); },
               {"kernel 'shuffle_with_active_mask'", "thread (19,0,0) (lane 19)", "reads lane 20", "outside the mask"});
  GLIA_LAUNCH(shuffle_with_active_mask, 1, 32, 0, in.get(), out.get(), 32);  // every lane in: fine
  for (unsigned i = 0; i < 32; ++i) EXPECT_EQ(out[i], 2.0f) << i;  // lane 31 adds its own value
}

}  // namespace
