#include "kernels/block_cache.h"

#include <iterator>

namespace glia::rt {

BlockCache::BlockCache(FreeFn free_block, size_t limit_bytes) : free_block_(free_block), limit_(limit_bytes) {}

BlockCache::~BlockCache() { empty(); }

size_t BlockCache::bucket_size(size_t bytes) {
  constexpr size_t small_step = 512, large_step = size_t{2} << 20;
  if (bytes == 0) bytes = 1;
  size_t step = bytes <= (size_t{1} << 20) ? small_step : large_step;
  return (bytes + step - 1) / step * step;
}

void* BlockCache::take(size_t bucket, const void* stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto range = by_size_.equal_range(Key{stream, bucket});
  if (range.first == range.second) return nullptr;
  auto newest = std::prev(range.second);
  void* ptr = newest->second->ptr;
  lru_.erase(newest->second);
  by_size_.erase(newest);
  bytes_ -= bucket;
  ++hits_;
  return ptr;
}

void BlockCache::give(void* ptr, size_t bucket, const void* stream) {
  if (ptr == nullptr) return;
  std::vector<void*> victims;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (bucket > limit_) {
      victims.push_back(ptr);
    } else {
      evict_locked(limit_ - bucket, victims);
      lru_.push_front(Block{ptr, bucket, stream});
      by_size_.emplace(Key{stream, bucket}, lru_.begin());
      bytes_ += bucket;
    }
  }
  free_all(victims);
}

void BlockCache::empty() {
  std::vector<void*> victims;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    evict_locked(0, victims);
  }
  free_all(victims);
}

void BlockCache::evict_locked(size_t limit, std::vector<void*>& out) {
  while (bytes_ > limit) {
    Block& oldest = lru_.back();
    // The oldest block of its size is the first of its equal range.
    auto range = by_size_.equal_range(Key{oldest.stream, oldest.bytes});
    auto it = range.first;
    while (it->second != std::prev(lru_.end())) ++it;
    by_size_.erase(it);
    bytes_ -= oldest.bytes;
    out.push_back(oldest.ptr);
    lru_.pop_back();
  }
}

void BlockCache::free_all(const std::vector<void*>& blocks) const {
  for (void* p : blocks) free_block_(p);
}

size_t BlockCache::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes_;
}

size_t BlockCache::limit() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return limit_;
}

void BlockCache::set_limit(size_t bytes) {
  std::vector<void*> victims;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    limit_ = bytes;
    evict_locked(limit_, victims);
  }
  free_all(victims);
}

size_t BlockCache::hits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return hits_;
}

}  // namespace glia::rt
