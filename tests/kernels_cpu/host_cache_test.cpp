// The caching allocators' shared BlockCache (kernels/block_cache.h) and the cpu host
// cache behind rt::alloc (kernels/runtime.cpp): reuse, alignment, the cap, emptying,
// the environment switches, several threads at once, and sim left uncached and poisoned.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kernels/block_cache.h"
#include "kernels/error.h"
#include "kernels/runtime.h"
#include "tests/support/scoped_env.h"

namespace glia::rt {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

// BlockCache over counted malloc/free, so a test sees every block given back.
std::multiset<void*>* g_freed = nullptr;
void record_free(void* p) {
  g_freed->insert(p);
  std::free(p);
}

class BlockCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { g_freed = &freed_; }
  void TearDown() override { g_freed = nullptr; }
  std::multiset<void*> freed_;  // multiset: malloc may hand an address out again
};

TEST(BlockCacheBuckets, CoverTheRequestAlignedAndShared) {
  EXPECT_EQ(BlockCache::bucket_size(0), 512u) << "an empty tensor still gets a real block";
  for (size_t bytes : {size_t{1}, size_t{63}, size_t{513}, size_t{777777}, kMiB - 1, kMiB, kMiB + 3,
                       size_t{44} * kMiB + 12345}) {
    size_t bucket = BlockCache::bucket_size(bytes);
    EXPECT_GE(bucket, bytes) << bytes;
    EXPECT_EQ(bucket % 64, 0u) << bytes;
    EXPECT_LT(bucket - bytes, bytes <= kMiB ? size_t{512} : 2 * kMiB) << bytes;
    EXPECT_EQ(BlockCache::bucket_size(bucket), bucket) << "a bucket size is its own bucket: " << bytes;
  }
  EXPECT_EQ(BlockCache::bucket_size(kMiB), kMiB);
  EXPECT_EQ(BlockCache::bucket_size(kMiB + 1), 2 * kMiB);
  EXPECT_EQ(BlockCache::bucket_size(1000), BlockCache::bucket_size(900));
  EXPECT_EQ(BlockCache::bucket_size(3 * kMiB + 1), BlockCache::bucket_size(4 * kMiB));
  EXPECT_NE(BlockCache::bucket_size(5 * kMiB), BlockCache::bucket_size(4 * kMiB));
}

TEST_F(BlockCacheTest, TakeReturnsTheNewestBlockOfExactlyThatBucket) {
  BlockCache cache(record_free, 100 * kMiB);
  void* a = std::malloc(1024);
  void* b = std::malloc(1024);
  void* c = std::malloc(2048);
  cache.give(a, 1024);
  cache.give(b, 1024);
  cache.give(c, 2048);
  EXPECT_EQ(cache.cached_bytes(), 4096u);
  EXPECT_EQ(cache.take(1536), nullptr) << "no block of that bucket";
  EXPECT_EQ(cache.take(1024), b);
  EXPECT_EQ(cache.take(1024), a);
  EXPECT_EQ(cache.take(1024), nullptr);
  EXPECT_EQ(cache.cached_bytes(), 2048u);
  EXPECT_EQ(cache.hits(), 2u);
  EXPECT_TRUE(freed_.empty());
  std::free(a);
  std::free(b);
}

TEST_F(BlockCacheTest, LimitEvictsLeastRecentlyReleasedFirst) {
  BlockCache cache(record_free, 3000);
  void* a = std::malloc(1024);
  void* b = std::malloc(512);
  void* c = std::malloc(1024);
  void* d = std::malloc(1024);
  cache.give(a, 1024);
  cache.give(b, 512);
  cache.give(c, 1024);
  EXPECT_EQ(cache.cached_bytes(), 2560u);
  cache.give(d, 1024);  // 3584 > 3000: the oldest (a) goes
  EXPECT_EQ(freed_, std::multiset<void*>{a});
  EXPECT_EQ(cache.cached_bytes(), 2560u);
  EXPECT_EQ(cache.take(1024), d);
  EXPECT_EQ(cache.take(1024), c);
  EXPECT_EQ(cache.take(1024), nullptr);
  std::free(c);
  std::free(d);

  void* big = std::malloc(4096);
  cache.give(big, 4096);  // larger than the whole limit: freed at once
  EXPECT_TRUE(freed_.count(big));
  EXPECT_EQ(cache.cached_bytes(), 512u);

  cache.set_limit(0);
  EXPECT_TRUE(freed_.count(b));
  EXPECT_EQ(cache.cached_bytes(), 0u);
}

// A GPU block may still be in use by work queued on the stream that freed it: it is
// handed out again only on that stream, and evicted like any other block.
TEST_F(BlockCacheTest, BlocksAreReusedOnlyOnTheirOwnStream) {
  int stream_a = 0, stream_b = 0;  // any distinct addresses serve as stream tags
  BlockCache cache(record_free, 2048);
  void* a = std::malloc(1024);
  void* b = std::malloc(1024);
  cache.give(a, 1024, &stream_a);
  EXPECT_EQ(cache.take(1024, &stream_b), nullptr) << "a block of stream a must not go to stream b";
  EXPECT_EQ(cache.take(1024), nullptr) << "nor to untagged (host) requests";
  cache.give(b, 1024, &stream_b);
  EXPECT_EQ(cache.take(1024, &stream_b), b);
  cache.give(b, 1024, &stream_b);
  void* c = std::malloc(1024);
  cache.give(c, 1024, &stream_b);  // 3072 > 2048: the oldest block (a, stream a) goes
  EXPECT_EQ(freed_, std::multiset<void*>{a});
  EXPECT_EQ(cache.take(1024, &stream_a), nullptr);
  EXPECT_EQ(cache.take(1024, &stream_b), c);
  EXPECT_EQ(cache.take(1024, &stream_b), b);
  std::free(b);
  std::free(c);
}

TEST_F(BlockCacheTest, EmptyAndDestructorFreeEverything) {
  std::vector<void*> blocks;
  {
    BlockCache cache(record_free, 100 * kMiB);
    for (size_t size : {512, 1024, 512, 2048}) {
      blocks.push_back(std::malloc(size));
      cache.give(blocks.back(), size);
    }
    cache.empty();
    EXPECT_EQ(cache.cached_bytes(), 0u);
    EXPECT_EQ(freed_, std::multiset<void*>(blocks.begin(), blocks.end()));
    EXPECT_EQ(cache.take(512), nullptr);
    void* last = std::malloc(512);
    cache.give(last, 512);
    blocks.push_back(last);
  }
  EXPECT_EQ(freed_.size(), blocks.size()) << "the destructor frees what is still cached";
}

// The process-wide cpu cache: tests change its limit and put it back. Tests of what
// the cache does skip in sanitizer builds (it is off there by design); alignment and
// the threaded test run everywhere, so ASan checks them too.
#define GLIA_REQUIRE_CPU_CACHE() \
  if (!cpu_cache_supported()) GTEST_SKIP() << "sanitizer build: the cpu cache is off by design"

class CpuCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_limit_ = cpu_cache_limit();
    set_cpu_cache_limit(256 * kMiB);
    empty_cache(Device::cpu);
  }
  void TearDown() override {
    empty_cache(Device::cpu);
    set_cpu_cache_limit(saved_limit_);
  }
  size_t saved_limit_ = 0;
};

TEST_F(CpuCacheTest, FreedBlockIsReusedForTheSameBucket) {
  GLIA_REQUIRE_CPU_CACHE();
  size_t in_use = bytes_in_use(Device::cpu);
  void* p = alloc(Device::cpu, 1000);
  EXPECT_EQ(bytes_in_use(Device::cpu), in_use + 1000) << "bytes_in_use counts the bytes asked for";
  std::memset(p, 0x5a, 1000);
  release(Device::cpu, p, 1000);
  EXPECT_EQ(bytes_in_use(Device::cpu), in_use);
  EXPECT_EQ(cached_bytes(Device::cpu), 1024u) << "cached_bytes counts the bucket";
  void* q = alloc(Device::cpu, 900);  // same 1024-byte bucket
  EXPECT_EQ(q, p);
  EXPECT_EQ(cached_bytes(Device::cpu), 0u);
  const char* poison = std::getenv("GLIA_CPU_POISON");
  if (poison == nullptr || std::string(poison) != "1") {
    EXPECT_EQ(static_cast<unsigned char*>(q)[899], 0x5a) << "reused blocks are handed out as they were";
  }
  void* r = alloc(Device::cpu, 2000);  // another bucket: a fresh block
  EXPECT_NE(r, p);
  release(Device::cpu, q, 900);
  release(Device::cpu, r, 2000);

  // Large blocks: the 44 MiB activations that motivated the cache.
  void* big = alloc(Device::cpu, 44 * kMiB + 4);
  release(Device::cpu, big, 44 * kMiB + 4);
  EXPECT_EQ(alloc(Device::cpu, 45 * kMiB), big);
  release(Device::cpu, big, 45 * kMiB);
}

TEST_F(CpuCacheTest, BlocksAre64ByteAlignedAndWholeFromFreshOrCache) {
  std::vector<size_t> sizes = {1, 3, 63, 65, 1000, 4097, kMiB - 7, kMiB + 3, 3 * kMiB + 1};
  for (int round = 0; round < 2; ++round) {  // fresh blocks, then the same ones from the cache
    std::vector<void*> blocks;
    for (size_t size : sizes) {
      void* p = alloc(Device::cpu, size);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << size << " bytes, round " << round;
      std::memset(p, 0xab, size);  // the whole request is usable (ASan/valgrind would see overruns)
      blocks.push_back(p);
    }
    for (size_t i = 0; i < sizes.size(); ++i) release(Device::cpu, blocks[i], sizes[i]);
  }
}

TEST_F(CpuCacheTest, CapIsRespected) {
  GLIA_REQUIRE_CPU_CACHE();
  set_cpu_cache_limit(5 * kMiB);
  std::vector<void*> blocks;
  for (int i = 0; i < 4; ++i) blocks.push_back(alloc(Device::cpu, 3 * kMiB / 2));  // 2 MiB buckets
  for (void* p : blocks) release(Device::cpu, p, 3 * kMiB / 2);
  EXPECT_EQ(cached_bytes(Device::cpu), 4 * kMiB) << "two 2 MiB blocks fit under 5 MiB, not three";
  EXPECT_EQ(cpu_cache_limit(), 5 * kMiB);
  void* huge = alloc(Device::cpu, 8 * kMiB);
  release(Device::cpu, huge, 8 * kMiB);
  EXPECT_LE(cached_bytes(Device::cpu), 5 * kMiB);
  set_cpu_cache_limit(2 * kMiB);
  EXPECT_LE(cached_bytes(Device::cpu), 2 * kMiB) << "lowering the cap evicts";
}

TEST_F(CpuCacheTest, EmptyCacheReleasesEverything) {
  GLIA_REQUIRE_CPU_CACHE();
  std::vector<std::pair<void*, size_t>> blocks;
  for (size_t size : {size_t{100}, size_t{5000}, 3 * kMiB}) blocks.emplace_back(alloc(Device::cpu, size), size);
  for (auto& [p, size] : blocks) release(Device::cpu, p, size);
  EXPECT_GT(cached_bytes(Device::cpu), 3 * kMiB);
  empty_cache(Device::cpu);
  EXPECT_EQ(cached_bytes(Device::cpu), 0u);
}

TEST_F(CpuCacheTest, LimitZeroTurnsItOff) {
  GLIA_REQUIRE_CPU_CACHE();
  set_cpu_cache_limit(0);
  void* p = alloc(Device::cpu, 4096);
  release(Device::cpu, p, 4096);
  EXPECT_EQ(cached_bytes(Device::cpu), 0u);
  set_cpu_cache_limit(kMiB);  // blocks allocated while off may enter the cache later
  void* q = alloc(Device::cpu, 4000);
  release(Device::cpu, q, 4000);
  EXPECT_EQ(cached_bytes(Device::cpu), 4096u);
  EXPECT_EQ(alloc(Device::cpu, 4096), q);
  release(Device::cpu, q, 4096);
}

using test::ScopedEnv;

TEST(CpuCacheEnv, SwitchAndCapComeFromTheEnvironment) {
  if (!cpu_cache_supported()) {
    ScopedEnv mb("GLIA_CPU_CACHE_MB", "64");
    EXPECT_EQ(cpu_cache_limit_from_env(), 0u) << "sanitizer builds never cache";
    return;
  }
  {
    ScopedEnv on("GLIA_CPU_CACHE", nullptr), mb("GLIA_CPU_CACHE_MB", nullptr);
    EXPECT_GE(cpu_cache_limit_from_env(), 256 * kMiB) << "a default that holds a training step's activations";
  }
  {
    ScopedEnv off("GLIA_CPU_CACHE", "0"), mb("GLIA_CPU_CACHE_MB", "64");
    EXPECT_EQ(cpu_cache_limit_from_env(), 0u);
  }
  {
    ScopedEnv on("GLIA_CPU_CACHE", "1"), mb("GLIA_CPU_CACHE_MB", "3");
    EXPECT_EQ(cpu_cache_limit_from_env(), 3 * kMiB);
  }
  {
    ScopedEnv mb("GLIA_CPU_CACHE_MB", "12x");
    EXPECT_THROW(cpu_cache_limit_from_env(), Error);
  }
}

TEST(CpuCacheSanitizer, SanitizerBuildsNeverCache) {
  if (cpu_cache_supported()) GTEST_SKIP() << "only meaningful in a sanitizer build";
  set_cpu_cache_limit(64 * kMiB);
  EXPECT_EQ(cpu_cache_limit(), 0u);
  void* p = alloc(Device::cpu, 3000);
  release(Device::cpu, p, 3000);
  EXPECT_EQ(cached_bytes(Device::cpu), 0u);
}

// Blocks allocated on one thread and freed on another (loader threads, OpenMP code),
// with writes checked so that a block handed to two owners at once shows.
TEST_F(CpuCacheTest, ManyThreadsAllocateAndFreeConcurrently) {
  set_cpu_cache_limit(8 * kMiB);  // small enough that eviction runs concurrently too
  constexpr int kThreads = 4, kBlocks = 64;
  const std::vector<size_t> sizes = {64, 500, 4096, 70000, kMiB + 5, 2 * kMiB + 64};
  size_t in_use = bytes_in_use(Device::cpu);
  std::vector<std::vector<std::pair<uint32_t*, size_t>>> owned(kThreads);
  std::vector<int> bad(kThreads, 0);
  auto fill = [](uint32_t* p, size_t bytes, uint32_t tag) {
    for (size_t i = 0; i < bytes / 4; i += 97) p[i] = tag;
  };
  auto intact = [](const uint32_t* p, size_t bytes, uint32_t tag) {
    for (size_t i = 0; i < bytes / 4; i += 97)
      if (p[i] != tag) return false;
    return true;
  };
  auto worker = [&](int t, bool free_neighbours) {
    std::mt19937 rng(1234 + t);
    if (free_neighbours) {  // phase 2: free what the next thread allocated
      int n = (t + 1) % kThreads;
      for (auto& [p, size] : owned[n]) {
        if (!intact(p, size, 1000u + n)) ++bad[t];
        release(Device::cpu, p, size);
      }
    }
    for (int i = 0; i < 200; ++i) {
      size_t size = sizes[rng() % sizes.size()];
      auto* p = static_cast<uint32_t*>(alloc(Device::cpu, size));
      uint32_t tag = 1u + t * 1000003u + i;
      fill(p, size, tag);
      std::this_thread::yield();
      if (!intact(p, size, tag)) ++bad[t];
      release(Device::cpu, p, size);
    }
    if (!free_neighbours) {
      for (int i = 0; i < kBlocks; ++i) {
        size_t size = sizes[rng() % sizes.size()];
        auto* p = static_cast<uint32_t*>(alloc(Device::cpu, size));
        fill(p, size, 1000u + t);
        owned[t].emplace_back(p, size);
      }
    }
  };
  for (bool phase2 : {false, true}) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t, phase2);
    for (auto& th : threads) th.join();
  }
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(bad[t], 0) << "thread " << t << " saw another owner's writes";
  EXPECT_EQ(bytes_in_use(Device::cpu), in_use);
  EXPECT_LE(cached_bytes(Device::cpu), 8 * kMiB);
}

TEST(SimAllocations, StayUncachedAndPoisoned) {
  if (!backend_built(Device::sim)) GTEST_SKIP() << "sim not built";
  size_t cpu_cached = cached_bytes(Device::cpu);
  constexpr size_t kFloats = 3 * 5 * 7 * 100;
  for (int round = 0; round < 3; ++round) {
    auto* p = static_cast<float*>(alloc(Device::sim, kFloats * sizeof(float)));
    for (size_t i = 0; i < kFloats; ++i) ASSERT_TRUE(std::isnan(p[i])) << "round " << round << ", element " << i;
    for (size_t i = 0; i < kFloats; ++i) p[i] = 1.0f;  // a reused block would show these
    release(Device::sim, p, kFloats * sizeof(float));
  }
  EXPECT_EQ(cached_bytes(Device::sim), 0u);
  EXPECT_EQ(cached_bytes(Device::cpu), cpu_cached) << "sim blocks never enter the cpu cache";
}

}  // namespace
}  // namespace glia::rt
