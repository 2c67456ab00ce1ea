// A size-bucketed cache of freed memory blocks, shared by the host (cpu) allocator in
// kernels/runtime.cpp and the CUDA one in kernels/cuda/cuda_runtime_wrappers.cu.
//
// Why: glia frees and re-allocates the same activation sizes every training step. On a
// GPU cudaMalloc/cudaFree synchronise the device; on the host, blocks above glibc's mmap
// threshold are mmapped and unmapped each time, so the kernel zeroes fresh pages on
// every step (~15% of an EfficientNet-B1 training step). Keeping freed blocks per
// rounded size and handing them out again avoids both.
//
// Blocks come back as they were left (never zeroed, never poisoned). The cache is
// bounded: a release that would take it over its limit first frees the least recently
// released blocks. Thread-safe: one mutex, held only for list/map updates (blocks are
// returned to the system outside it).
//
// Streams: a GPU block freed by the host may still be read or written by work queued on
// the stream that used it. Handing it to work on another stream could let that work run
// first, so every block carries a stream tag (the stream it was allocated on), and take()
// returns only blocks of the caller's stream: work on one stream runs in order, so reuse
// there is safe without synchronising (PyTorch's caching allocator does the same). The
// host cache passes no tag.
#pragma once
#include <cstddef>
#include <list>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace glia::rt {

class BlockCache {
 public:
  using FreeFn = void (*)(void*);

  // `free_block` returns one block to the system (free, cudaFree).
  BlockCache(FreeFn free_block, size_t limit_bytes);
  ~BlockCache();  // frees every cached block
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // The size a block of `bytes` is allocated with, so that a freed block serves any
  // later request of the same bucket. Up to 1 MiB: 512-byte steps (glia's tensors
  // repeat exact shapes step after step, so fine steps hit as well as powers of two
  // would while wasting at most 511 bytes a block). Above 1 MiB: 2 MiB steps, so the
  // few large activations of nearby sizes share buckets, at most 2 MiB extra per
  // block, and host blocks are whole transparent-huge-page multiples. A multiple of
  // 512, so also of glia's 64-byte host alignment.
  static size_t bucket_size(size_t bytes);

  // A cached block of exactly `bucket` bytes last used on `stream` (the most recently
  // released one, still warm in the CPU caches), or nullptr.
  void* take(size_t bucket, const void* stream = nullptr);
  // Keeps `ptr` (a block of `bucket` bytes, last used on `stream`) for reuse, evicting
  // the least recently released blocks while over the limit; a block larger than the
  // limit is freed.
  void give(void* ptr, size_t bucket, const void* stream = nullptr);
  void empty();  // frees every cached block

  size_t cached_bytes() const;
  size_t limit() const;
  void set_limit(size_t bytes);  // evicts down to the new limit; 0 keeps nothing
  size_t hits() const;           // take() calls that returned a block

 private:
  struct Block {
    void* ptr;
    size_t bytes;
    const void* stream;
  };
  using Key = std::pair<const void*, size_t>;  // (stream, bucket)
  using Lru = std::list<Block>;  // front: most recently released

  // Unlinks the oldest blocks until `bytes_` <= `limit`; caller frees `out`.
  void evict_locked(size_t limit, std::vector<void*>& out);
  void free_all(const std::vector<void*>& blocks) const;

  FreeFn free_block_;
  mutable std::mutex mutex_;
  Lru lru_;
  std::multimap<Key, Lru::iterator> by_size_;  // equal keys in release order
  size_t bytes_ = 0;
  size_t limit_;
  size_t hits_ = 0;
};

}  // namespace glia::rt
