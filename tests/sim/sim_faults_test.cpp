// The SIMT emulator refuses what is undefined on a GPU: each test plants one bug in a
// small kernel and checks the error names the kernel, the block and the thread.
#include "kernels/sim/cuda_dialect.h"
// (the dialect comes first, as in the generated wrappers of kernels/cuda/*.cu)
#include <gtest/gtest.h>

#include <random>

#include "kernels/cuda/launch.cuh"
#include "kernels/sim/memory.h"
#include "tests/sim/sim_test_util.h"

namespace {

using glia::sim_test::CheckedScope;
using glia::sim_test::expect_error;
using glia::sim_test::SimBuffer;

// ---- __syncthreads not reached by every thread ------------------------------------------
__global__ void early_return_before_barrier(int* out) {
  if (blockIdx.x == 2 && threadIdx.x == 5) return;
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = 1;
}

__global__ void barrier_in_branch(int* out) {
  if (threadIdx.x < 16) __syncthreads();
  out[threadIdx.x] = 1;
}

TEST(SimFaults, DivergentSyncthreadsIsAnErrorNamingKernelBlockAndThread) {
  SimBuffer<int> out(4 * 32);
  expect_error([&] { GLIA_LAUNCH(early_return_before_barrier, 4, 32, 0, out.get()); },
               {"kernel 'early_return_before_barrier'", "block (2,0,0)", "thread (5,0,0)", "__syncthreads()",
                "not reached by every thread"});
  expect_error([&] { GLIA_LAUNCH(barrier_in_branch, 1, 32, 0, out.get()); },
               {"kernel 'barrier_in_branch'", "block (0,0,0)", "thread (16,0,0)", "__syncthreads()"});
}

__global__ void first_thread_leaves(int* out) {
  if (threadIdx.x == 0) return;
  __syncthreads();
  out[threadIdx.x] = 1;
}

TEST(SimFaults, ReachingABarrierAfterAThreadFinishedIsAnError) {
  SimBuffer<int> out(64);
  expect_error([&] { GLIA_LAUNCH(first_thread_leaves, 1, 32, 0, out.get()); },
               {"kernel 'first_thread_leaves'", "thread (1,0,0)", "after thread (0,0,0)", "__syncthreads()"});
  GLIA_LAUNCH(early_return_before_barrier, 2, 32, 0, out.get());  // still usable afterwards
}

// ---- out-of-bounds global accesses (checked mode) ------------------------------------------
__global__ void copy_n(const float* in, float* out, int n) {
  int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) out[i] = in[i];
}

__global__ void write_shifted(float* out, int n, int shift) {
  int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) out[i + shift] = 1.0f;
}

class SimOutOfBounds : public ::testing::TestWithParam<bool> {};  // parameter: race checks (serial)

// Buffers start 256-byte aligned (as cudaMalloc's); a size that is a multiple of 256 bytes
// ends exactly at the guard page, so the first access past the end faults at its thread.
TEST_P(SimOutOfBounds, AReadPastTheEndOfABufferNamesKernelBlockThreadAndBuffer) {
  CheckedScope checked(GetParam());
  glia::sim::set_num_threads(3);
  SimBuffer<float> in(128), out(192);
  in.fill(1.0f);
  // Thread 128 = block 2, thread 0 reads in[128].
  expect_error([&] { GLIA_LAUNCH(copy_n, 3, 64, 0, in.get(), out.get(), 129); },
               {"kernel 'copy_n'", "block (2,0,0)", "thread (0,0,0)", "byte 512 of a 512-byte sim buffer",
                "past its end"});
  GLIA_LAUNCH(copy_n, 3, 64, 0, in.get(), out.get(), 128);  // in bounds: fine
  EXPECT_EQ(out[127], 1.0f);
}

TEST_P(SimOutOfBounds, AWritePastTheEndIsCaughtAtTheFaultingThread) {
  CheckedScope checked(GetParam());
  SimBuffer<float> out(128);
  // i = 125 (block 3, thread 29) is the first to write out[128].
  expect_error([&] { GLIA_LAUNCH(write_shifted, 4, 32, 0, out.get(), 128, 3); },
               {"kernel 'write_shifted'", "block (3,0,0)", "thread (29,0,0)", "byte 512 of a 512-byte sim buffer"});
}

// 400 bytes: the buffer starts aligned, so 112 bytes of canary lie between its end and
// the guard page; a write there is found after the launch.
TEST_P(SimOutOfBounds, AWriteIntoTheCanaryAfterAnUnevenSizeIsCaughtAfterTheLaunch) {
  CheckedScope checked(GetParam());
  SimBuffer<float> out(100);
  expect_error([&] { GLIA_LAUNCH(write_shifted, 4, 32, 0, out.get(), 100, 3); },
               {"kernel 'write_shifted'", "wrote byte 400 of a 400-byte sim buffer (past its end)", "after the launch"});
  GLIA_LAUNCH(write_shifted, 4, 32, 0, out.get(), 100, 0);  // the canary was restored
}

TEST_P(SimOutOfBounds, AWriteBeforeTheStartIsCaughtAfterTheLaunch) {
  CheckedScope checked(GetParam());
  SimBuffer<float> out(100);
  expect_error([&] { GLIA_LAUNCH(write_shifted, 4, 32, 0, out.get(), 100, -1); },
               {"kernel 'write_shifted'", "wrote 4 bytes before the start of a 400-byte sim buffer"});
  GLIA_LAUNCH(write_shifted, 4, 32, 0, out.get(), 100, 0);  // the canary was restored
}

INSTANTIATE_TEST_SUITE_P(Schedules, SimOutOfBounds, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "race_checked" : "parallel"; });

__global__ void wild_write(float* p) { p[threadIdx.x] = 1.0f; }

TEST(SimFaults, AWildPointerInCheckedModeIsAnErrorNotACrash) {
  CheckedScope checked;
  expect_error([] { GLIA_LAUNCH(wild_write, 1, 8, 0, reinterpret_cast<float*>(64)); },
               {"kernel 'wild_write'", "block (0,0,0)", "thread (0,0,0)", "invalid memory access at 0x40"});
}

// Deep recursion with a big frame: overflows the thread's fiber stack into its guard page.
__device__ __noinline__ float deep(int depth, float* sink) {
  volatile float frame[512];
  frame[depth % 512] = static_cast<float>(depth);
  float below = depth > 0 ? deep(depth - 1, sink) : 0.0f;
  return below + frame[(depth * 7) % 512];
}
__global__ void overflow_stack(float* out, int depth) { out[threadIdx.x] = deep(depth, out); }

TEST(SimFaults, AStackOverflowInCheckedModeNamesTheThreadAndTheStackSize) {
  CheckedScope checked;
  SimBuffer<float> out(4);
  // 100000 frames of 2 KiB: far beyond any fiber stack size.
  expect_error([&] { GLIA_LAUNCH(overflow_stack, 1, 4, 0, out.get(), 100000); },
               {"kernel 'overflow_stack'", "block (0,0,0)", "thread (0,0,0)", "fiber stack", "GLIA_SIM_STACK_KB"});
  GLIA_LAUNCH(overflow_stack, 1, 4, 0, out.get(), 3);  // small recursion still runs
}

TEST(SimFaults, GuardedBuffersAreReleasedThroughTheRuntime) {
  size_t before = glia::sim::guarded_count();
  {
    CheckedScope checked;
    SimBuffer<float> a(10), b(5000);
    EXPECT_EQ(glia::sim::guarded_count(), before + 2);
  }
  EXPECT_EQ(glia::sim::guarded_count(), before);
}

// ---- shared-memory races (checked mode) ----------------------------------------------------
// Every thread writes its slot, then reads its neighbour's: without the barrier the read
// races with the neighbour's write.
__global__ void racy_neighbour(const float* in, float* out) {
  __shared__ float slots[64];
  unsigned t = threadIdx.x;
  slots[t] = 2.0f * in[blockIdx.x * blockDim.x + t];
  out[blockIdx.x * blockDim.x + t] = slots[(t + 1) % blockDim.x];
}

__global__ void synced_neighbour(const float* in, float* out) {
  __shared__ float slots[64];
  unsigned t = threadIdx.x;
  slots[t] = 2.0f * in[blockIdx.x * blockDim.x + t];
  __syncthreads();
  out[blockIdx.x * blockDim.x + t] = slots[(t + 1) % blockDim.x];
}

TEST(SimFaults, ASharedMemoryRaceBetweenBarriersIsReportedInCheckedMode) {
  CheckedScope checked;
  SimBuffer<float> in(3 * 64), out(3 * 64);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i + 1);
  expect_error([&] { GLIA_LAUNCH(racy_neighbour, 3, 64, 0, in.get(), out.get()); },
               {"kernel 'racy_neighbour'", "block (0,0,0)", "race"});
  GLIA_LAUNCH(synced_neighbour, 3, 64, 0, in.get(), out.get());  // no false alarm
  for (unsigned b = 0; b < 3; ++b)
    for (unsigned t = 0; t < 64; ++t) EXPECT_EQ(out[b * 64 + t], 2.0f * static_cast<float>(b * 64 + (t + 1) % 64 + 1));
}

__global__ void atomic_block_sum(const float* in, float* sum) { atomicAdd(sum, in[blockIdx.x * blockDim.x + threadIdx.x]); }

TEST(SimFaults, FloatAtomicsSummedInAnotherOrderAreNotARace) {
  CheckedScope checked;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  SimBuffer<float> in(4 * 96), sum(1);
  double ref = 0;
  for (size_t i = 0; i < in.size(); ++i) ref += in[i] = dist(rng);
  sum[0] = 0.0f;
  GLIA_LAUNCH(atomic_block_sum, 4, 96, 0, in.get(), sum.get());
  EXPECT_NEAR(sum[0], ref, 1e-4);
}

// ---- NaN-poisoned fresh memory --------------------------------------------------------------
__global__ void write_even(float* out, int n) {
  int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n && i % 2 == 0) out[i] = static_cast<float>(i);
}

__global__ void read_dynamic_shared_first(float* out) {
  GLIA_DYNAMIC_SHARED(float, buf);
  out[threadIdx.x] = buf[threadIdx.x];  // nobody wrote it
}

TEST(SimFaults, FreshDeviceAndSharedMemoryIsNaNSoUnwrittenReadsShow) {
  SimBuffer<float> out(45);
  for (size_t i = 0; i < out.size(); ++i) EXPECT_TRUE(std::isnan(out[i])) << i;
  GLIA_LAUNCH(write_even, 2, 32, 0, out.get(), 45);
  for (int i = 0; i < 45; ++i) {
    if (i % 2 == 0) EXPECT_EQ(out[i], static_cast<float>(i));
    else EXPECT_TRUE(std::isnan(out[i])) << "element " << i << " was never written";
  }
  SimBuffer<float> shared_out(16);
  GLIA_LAUNCH(read_dynamic_shared_first, 1, 16, 16 * sizeof(float), shared_out.get());
  for (int i = 0; i < 16; ++i) EXPECT_TRUE(std::isnan(shared_out[i])) << i;
}

}  // namespace
