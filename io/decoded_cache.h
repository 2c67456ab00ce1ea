// Decoded, resized images kept in memory across epochs. Decoding a JPEG and resizing it
// costs more than augmenting it, and gives the same pixels every epoch; so a source with
// a cache decodes each file once and augments the kept copy each time (augmentation,
// normalisation and the float conversion stay per epoch, after the cache). Entries are
// what decode_resized / decode_mask_u8 return: uint8 for 8-bit files (gray stays one
// channel), native depth for 16-bit and float files, so a cached batch is bit-identical
// to an uncached one.
//
// Thread safety: get() may be called from every loader worker at once. The decode runs
// outside the lock; two workers that miss the same key at once (an oversampled slice)
// both decode it and the first to finish stores it. Stored entries are never modified,
// and cv::Mat's reference count is atomic, so readers share them without copying.
//
// The cache is keyed by file path and geometry, so the training, validation and final
// evaluation loaders of one run can share it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <opencv2/core.hpp>

namespace glia::io {

struct ImagePipeline;

struct DecodedExample {
  cv::Mat image;  // decode_resized: native depth, gray or BGR, at the pipeline's size
  cv::Mat mask;   // decode_mask_u8 resized (nearest); empty without masks
  size_t bytes() const;
};

struct CacheStats {
  size_t hits = 0, misses = 0;
  size_t entries = 0, bytes = 0;
  size_t not_stored = 0;  // misses left out because the capacity was reached
};

class DecodedCache {
 public:
  // Entries that would take the total beyond capacity_bytes are not stored: those
  // samples are decoded every time they are used, as without a cache.
  explicit DecodedCache(size_t capacity_bytes = SIZE_MAX) : capacity_(capacity_bytes) {}
  DecodedCache(const DecodedCache&) = delete;
  DecodedCache& operator=(const DecodedCache&) = delete;

  // The entry for `key`, from memory or from `decode` (whose glia::Error passes through
  // and is not remembered: a bad file fails again each time, as without a cache).
  DecodedExample get(const std::string& key, const std::function<DecodedExample()>& decode);
  CacheStats stats() const;
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, DecodedExample> entries_;
  CacheStats stats_;
};

// The key of `path` decoded for `pipeline` (size, channels, interpolation).
std::string cache_key(const std::string& path, const ImagePipeline& pipeline);

// --cache: off (decode every epoch), ram (keep every image), auto (ram when the estimate
// fits the budget, else off, saying why).
enum class CacheMode { off, ram, automatic };
CacheMode parse_cache_mode(const std::string& text);  // glia::Error naming the value
const char* cache_mode_name(CacheMode mode);

// Memory for `images` entries at the pipeline's size, counted at one byte per channel
// value (8-bit files; gray files take a third of that, 16-bit files twice), plus one
// byte per pixel for masks.
size_t estimated_cache_bytes(size_t images, const ImagePipeline& pipeline, bool masks);

// The budget of --cache auto: GLIA_CACHE_MB when set (an integer number of MiB, 0 turns
// the cache off), else half of MemAvailable from /proc/meminfo (0 when unreadable).
struct CacheBudget {
  size_t bytes = 0;
  std::string from;  // e.g. "GLIA_CACHE_MB=512" or "half of MemAvailable, 7985 MiB"
};
CacheBudget cache_budget();
// Parsing of the two sources, separated for the tests.
CacheBudget cache_budget_from(const char* glia_cache_mb, const std::string& meminfo_text);

// The decision for a run that would cache `estimated_bytes`: the cache to give the
// sources (null: off) and a line saying what was chosen and why (for the user).
struct CachePlan {
  std::shared_ptr<DecodedCache> cache;
  std::string message;
};
CachePlan plan_cache(CacheMode mode, size_t estimated_bytes, const CacheBudget& budget);

}  // namespace glia::io
