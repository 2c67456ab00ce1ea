// cp.async in the emulator (kernels/sim/pipeline.h): copies land when a wait covering
// their committed batch returns, not before, so a kernel that reads too early reads
// shared memory's poison and checked mode reports it; bad sizes and alignment are errors.
#include "kernels/sim/cuda_dialect.h"
// (the dialect comes first, as in the generated wrappers of kernels/cuda/*.cu)
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/cuda/launch.cuh"
#include "tests/sim/sim_test_util.h"

namespace {

using glia::sim_test::CheckedScope;
using glia::sim_test::expect_error;
using glia::sim_test::SimBuffer;

constexpr int kThreads = 64;

// Shared arrays 16-byte aligned, as cp.async's 16-byte copies need.
template <int N>
struct __align__(16) Floats {
  float v[N];
};

// Each thread copies 4 floats into shared memory, then every thread reads a neighbour's.
// wait: how many batches to leave pending before the barrier (0 = all landed).
__global__ void staged_copy(const float* in, float* out, int wait, bool commit) {
  __shared__ Floats<kThreads * 4> staged;
  float* stage = staged.v;
  __pipeline_memcpy_async(&stage[threadIdx.x * 4], &in[threadIdx.x * 4], 16);
  if (commit) __pipeline_commit();
  if (wait >= 0) __pipeline_wait_prior(static_cast<size_t>(wait));
  __syncthreads();
  int from = (threadIdx.x + 1) % kThreads;
  for (int j = 0; j < 4; ++j) out[threadIdx.x * 4 + j] = stage[from * 4 + j];
}

// Two batches: the first into `a`, the second into `b`; waits for all but the newest one.
__global__ void two_batches(const float* in, float* out) {
  __shared__ Floats<kThreads * 4> first, second;
  float *a = first.v, *b = second.v;
  __pipeline_memcpy_async(&a[threadIdx.x * 4], &in[threadIdx.x * 4], 16);
  __pipeline_commit();
  __pipeline_memcpy_async(&b[threadIdx.x * 4], &in[threadIdx.x * 4], 16);
  __pipeline_commit();
  __pipeline_wait_prior(1);
  for (int j = 0; j < 4; ++j) {
    out[threadIdx.x * 4 + j] = a[threadIdx.x * 4 + j];
    out[kThreads * 4 + threadIdx.x * 4 + j] = b[threadIdx.x * 4 + j];
  }
}

__global__ void zero_filled(const float* in, float* out) {
  __shared__ Floats<4> tile;
  float* s = tile.v;
  if (threadIdx.x == 0) {
    __pipeline_memcpy_async(s, in, 16, 8);  // 8 bytes copied, 8 zeroed
    __pipeline_commit();
    __pipeline_wait_prior(0);
    for (int j = 0; j < 4; ++j) out[j] = s[j];
  }
}

__global__ void copy_of_size(const float* in, float* out, size_t bytes, int offset) {
  __shared__ Floats<8> tile;
  float* s = tile.v;
  __pipeline_memcpy_async(s, in + offset, bytes);
  __pipeline_commit();
  __pipeline_wait_prior(0);
  out[0] = s[0];
}

std::vector<float> iota_floats(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i) + 0.5f;
  return v;
}

TEST(SimPipeline, CopiesLandAtTheWaitAndPassCheckedMode) {
  CheckedScope checked;
  SimBuffer<float> in(kThreads * 4), out(kThreads * 4);
  std::vector<float> v = iota_floats(kThreads * 4);
  for (size_t i = 0; i < v.size(); ++i) in[i] = v[i];
  GLIA_LAUNCH(staged_copy, 1, kThreads, 0, in.get(), out.get(), 0, true);
  for (int t = 0; t < kThreads; ++t)
    for (int j = 0; j < 4; ++j) EXPECT_EQ(out[size_t(t * 4 + j)], v[size_t(((t + 1) % kThreads) * 4 + j)]);
}

TEST(SimPipeline, ReadingBeforeTheWaitIsCaughtByCheckedMode) {
  CheckedScope checked;
  SimBuffer<float> in(kThreads * 4), out(kThreads * 4);
  for (size_t i = 0; i < in.size(); ++i) in[i] = 1.0f;
  // No wait at all, and a wait that leaves the only batch pending: both read poison.
  expect_error([&] { GLIA_LAUNCH(staged_copy, 1, kThreads, 0, in.get(), out.get(), -1, true); }, {"kernel 'staged_copy'"});
  expect_error([&] { GLIA_LAUNCH(staged_copy, 1, kThreads, 0, in.get(), out.get(), 1, true); }, {"kernel 'staged_copy'"});
  // A wait with nothing committed waits for nothing.
  expect_error([&] { GLIA_LAUNCH(staged_copy, 1, kThreads, 0, in.get(), out.get(), 0, false); }, {"kernel 'staged_copy'"});
}

TEST(SimPipeline, WaitPriorLeavesTheNewestBatchesPending) {
  std::vector<float> in = iota_floats(kThreads * 4), out(2 * kThreads * 4, 0.0f);
  GLIA_LAUNCH(two_batches, 1, kThreads, 0, in.data(), out.data());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i], in[i]);                             // the first batch landed
    EXPECT_TRUE(std::isnan(out[in.size() + i])) << i;     // the second had not: poison
  }
}

TEST(SimPipeline, ZfillZeroesTheTail) {
  std::vector<float> out(4, -1.0f);
  alignas(16) float src[4] = {1, 2, 3, 4};
  GLIA_LAUNCH(zero_filled, 1, 32, 0, src, out.data());
  EXPECT_EQ(out, (std::vector<float>{1, 2, 0, 0}));
}

TEST(SimPipeline, SizeAndAlignmentRules) {
  alignas(16) float src[8] = {};
  float out[1];
  expect_error([&] { GLIA_LAUNCH(copy_of_size, 1, 32, 0, src, out, size_t{12}, 0); },
               {"kernel 'copy_of_size'", "block (0,0,0)", "12 bytes", "4, 8 or 16"});
  expect_error([&] { GLIA_LAUNCH(copy_of_size, 1, 32, 0, src, out, size_t{16}, 1); },
               {"kernel 'copy_of_size'", "aligned to the size"});
}

}  // namespace
