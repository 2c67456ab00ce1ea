// The SIMT emulator: indexing, shared memory, barriers and reductions, launch limits.
#include "kernels/sim/cuda_dialect.h"
// (the dialect comes first, as in the generated wrappers of kernels/cuda/*.cu)
#include <gtest/gtest.h>

#include <random>

#include "kernels/cuda/launch.cuh"
#include "kernels/sim/fiber.h"
#include "tests/sim/sim_test_util.h"

namespace {

using glia::sim_test::expect_error;
using glia::sim_test::SimBuffer;

// ---- indexing ---------------------------------------------------------------------------
__global__ void write_indices(unsigned* out) {
  unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  unsigned* o = out + (block * blockDim.x * blockDim.y * blockDim.z + thread) * 9;
  o[0] = threadIdx.x, o[1] = threadIdx.y, o[2] = threadIdx.z;
  o[3] = blockIdx.x, o[4] = blockIdx.y, o[5] = blockIdx.z;
  o[6] = blockDim.x * 100 + blockDim.y * 10 + blockDim.z;
  o[7] = gridDim.x * 100 + gridDim.y * 10 + gridDim.z;
  o[8] = warpSize;
}

TEST(SimIndexing, EveryThreadOfA3dGridSeesItsOwnIndices) {
  dim3 grid(3, 2, 4), block(5, 3, 2);
  size_t threads = 3 * 2 * 4 * 5 * 3 * 2;
  SimBuffer<unsigned> out(threads * 9);
  out.fill(0xdeadbeef);
  GLIA_LAUNCH(write_indices, grid, block, 0, out.get());
  size_t i = 0;
  for (unsigned bz = 0; bz < 4; ++bz)
    for (unsigned by = 0; by < 2; ++by)
      for (unsigned bx = 0; bx < 3; ++bx)
        for (unsigned tz = 0; tz < 2; ++tz)
          for (unsigned ty = 0; ty < 3; ++ty)
            for (unsigned tx = 0; tx < 5; ++tx, ++i) {
              const unsigned* o = out.get() + i * 9;
              ASSERT_EQ(o[0], tx);
              ASSERT_EQ(o[1], ty);
              ASSERT_EQ(o[2], tz);
              ASSERT_EQ(o[3], bx);
              ASSERT_EQ(o[4], by);
              ASSERT_EQ(o[5], bz);
              ASSERT_EQ(o[6], 532u);
              ASSERT_EQ(o[7], 324u);
              ASSERT_EQ(o[8], 32u);
            }
}

// ---- shared memory ------------------------------------------------------------------------
// Each block fills its shared array with its own tag and reads a neighbour's slot after
// the barrier: another block's writes showing up would break the expected value.
__global__ void static_shared_tags(int* out) {
  __shared__ int tags[96];
  unsigned t = threadIdx.x;
  tags[t] = static_cast<int>(blockIdx.x * 1000 + t);
  __syncthreads();
  out[blockIdx.x * blockDim.x + t] = tags[(t + 1) % blockDim.x];
}

__global__ void dynamic_shared_tags(float* out) {
  GLIA_DYNAMIC_SHARED(float, tags);
  unsigned t = threadIdx.x;
  tags[t] = static_cast<float>(blockIdx.x) + 0.001f * static_cast<float>(t);
  __syncthreads();
  out[blockIdx.x * blockDim.x + t] = tags[(t + 7) % blockDim.x];
}

TEST(SimSharedMemory, StaticSharedIsPerBlockOnEveryWorkerCount) {
  for (int workers : {1, 2, 5}) {
    glia::sim::set_num_threads(workers);
    const unsigned blocks = 41, threads = 96;
    SimBuffer<int> out(blocks * threads);
    GLIA_LAUNCH(static_shared_tags, blocks, threads, 0, out.get());
    for (unsigned b = 0; b < blocks; ++b)
      for (unsigned t = 0; t < threads; ++t)
        ASSERT_EQ(out[b * threads + t], static_cast<int>(b * 1000 + (t + 1) % threads)) << "workers " << workers;
  }
}

TEST(SimSharedMemory, DynamicSharedIsPerBlockAndSizedByTheLaunch) {
  glia::sim::set_num_threads(3);
  const unsigned blocks = 23, threads = 70;
  SimBuffer<float> out(blocks * threads);
  GLIA_LAUNCH(dynamic_shared_tags, blocks, threads, threads * sizeof(float), out.get());
  for (unsigned b = 0; b < blocks; ++b)
    for (unsigned t = 0; t < threads; ++t)
      ASSERT_EQ(out[b * threads + t], static_cast<float>(b) + 0.001f * static_cast<float>((t + 7) % threads));
}

// Declares the dynamic buffer but uses it only when the launch provides one.
__global__ void optional_dynamic_shared(int use, float* out) {
  GLIA_DYNAMIC_SHARED(float, buf);
  if (use) {
    buf[threadIdx.x] = 2.0f;
    out[threadIdx.x] = buf[threadIdx.x];
  } else {
    out[threadIdx.x] = 1.0f;
  }
}

TEST(SimSharedMemory, DeclaringDynamicSharedWithoutBytesIsFine) {
  SimBuffer<float> out(8);
  GLIA_LAUNCH(optional_dynamic_shared, 1, 8, 0, 0, out.get());
  EXPECT_EQ(out[7], 1.0f);
  GLIA_LAUNCH(optional_dynamic_shared, 1, 8, 8 * sizeof(float), 1, out.get());
  EXPECT_EQ(out[7], 2.0f);
}

// ---- barriers and reductions -----------------------------------------------------------
// Shared-memory tree reduction: one partial sum per block.
__global__ void tree_sum(const float* in, int n, float* block_sums) {
  __shared__ float partial[256];
  unsigned t = threadIdx.x;
  int i = static_cast<int>(blockIdx.x * blockDim.x + t);
  partial[t] = i < n ? in[i] : 0.0f;
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (t < stride) partial[t] += partial[t + stride];
    __syncthreads();
  }
  if (t == 0) block_sums[blockIdx.x] = partial[0];
}

// Two levels: warp shuffles, then one warp over the per-warp sums in shared memory.
__global__ void warp_then_block_sum(const float* in, int n, float* block_sums) {
  __shared__ float warp_sums[32];
  unsigned t = threadIdx.x;
  int i = static_cast<int>(blockIdx.x * blockDim.x + t);
  float v = i < n ? in[i] : 0.0f;
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  if (t % 32 == 0) warp_sums[t / 32] = v;
  __syncthreads();
  if (t < 32) {
    v = t < blockDim.x / 32 ? warp_sums[t] : 0.0f;
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
    if (t == 0) block_sums[blockIdx.x] = v;
  }
}

void check_block_sums(const std::vector<float>& data, unsigned threads, const SimBuffer<float>& sums) {
  for (size_t b = 0; b < sums.size(); ++b) {
    double ref = 0;
    for (size_t i = b * threads; i < std::min(data.size(), (b + 1) * threads); ++i) ref += data[i];
    EXPECT_NEAR(sums.get()[b], ref, 1e-5 * threads) << "block " << b;
  }
}

class SimReduction : public ::testing::TestWithParam<bool> {  // parameter: ucontext fibers
 protected:
  void SetUp() override {
    if (!glia::sim::detail::set_use_ucontext(GetParam())) GTEST_SKIP() << "only ucontext fibers on this CPU";
  }
  void TearDown() override { glia::sim::detail::set_use_ucontext(false); }
};

TEST_P(SimReduction, SharedTreeAndWarpShuffleSumsMatchADoubleReference) {
  const int n = 3 * 5 * 7 * 11;  // odd: the last block is partly padding
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  SimBuffer<float> in(n);
  std::vector<float> data(n);
  for (int i = 0; i < n; ++i) in[i] = data[i] = dist(rng);
  const unsigned threads = 256, blocks = (n + threads - 1) / threads;
  SimBuffer<float> tree(blocks), warp(blocks);
  GLIA_LAUNCH(tree_sum, blocks, threads, 0, in.get(), n, tree.get());
  GLIA_LAUNCH(warp_then_block_sum, blocks, threads, 0, in.get(), n, warp.get());
  check_block_sums(data, threads, tree);
  check_block_sums(data, threads, warp);
}

INSTANTIATE_TEST_SUITE_P(Fibers, SimReduction, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "ucontext" : "native"; });

__global__ void barrier_votes(int* out) {
  unsigned t = threadIdx.x;
  int count = __syncthreads_count(t % 3 == 0);
  int all_small = __syncthreads_and(t < 1000);
  int any_last = __syncthreads_or(t == blockDim.x - 1);
  int none = __syncthreads_or(0);
  if (t == 0) out[0] = count, out[1] = all_small, out[2] = any_last, out[3] = none;
}

TEST(SimBarriers, SyncthreadsCountAndOrCountEveryThreadsPredicate) {
  SimBuffer<int> out(4);
  GLIA_LAUNCH(barrier_votes, 1, 100, 0, out.get());
  EXPECT_EQ(out[0], 34);  // 0, 3, ..., 99
  EXPECT_EQ(out[1], 1);
  EXPECT_EQ(out[2], 1);
  EXPECT_EQ(out[3], 0);
}

// ---- launch limits ---------------------------------------------------------------------------
__global__ void nothing() {}

TEST(SimLaunch, RefusesBlocksOver1024ThreadsNamingTheKernel) {
  expect_error([] { GLIA_LAUNCH(nothing, 1, 1025, 0); }, {"kernel 'nothing'", "1025x1x1", "1024"});
  expect_error([] { GLIA_LAUNCH(nothing, 1, dim3(32, 32, 2), 0); }, {"kernel 'nothing'", "32x32x2"});
}

TEST(SimLaunch, RefusesDynamicSharedMemoryOverTheLimitNamingTheKernel) {
  expect_error([] { GLIA_LAUNCH(nothing, 1, 32, 48 * 1024 + 4); }, {"kernel 'nothing'", "49156", "49152"});
  glia::sim::set_shared_memory_limit(100 * 1024);
  GLIA_LAUNCH(nothing, 1, 32, 48 * 1024 + 4);
  glia::sim::set_shared_memory_limit(48 * 1024);
}

TEST(SimLaunch, RefusesAnEmptyGrid) {
  expect_error([] { GLIA_LAUNCH(nothing, dim3(4, 0, 1), 32, 0); }, {"kernel 'nothing'", "4x0x1"});
}

__global__ void throws_inside(int bad_block) {
  if (static_cast<int>(blockIdx.x) == bad_block && threadIdx.x == 3) GLIA_FAIL("value out of range");
}

TEST(SimLaunch, AnExceptionInsideAKernelComesOutOfTheLaunchWithItsLocation) {
  expect_error([] { GLIA_LAUNCH(throws_inside, 8, 32, 0, 5); },
               {"kernel 'throws_inside'", "block (5,0,0)", "thread (3,0,0)", "value out of range"});
  GLIA_LAUNCH(throws_inside, 8, 32, 0, -1);  // the emulator is usable after a failed launch
}

}  // namespace
