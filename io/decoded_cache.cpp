#include "io/decoded_cache.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "io/sources.h"
#include "kernels/error.h"

namespace glia::io {

namespace {

size_t mat_bytes(const cv::Mat& m) { return m.empty() ? 0 : m.total() * m.elemSize(); }

std::string mib(size_t bytes) {
  std::ostringstream s;
  s << (bytes + (1u << 20) - 1) / (1u << 20) << " MiB";
  return s.str();
}

}  // namespace

size_t DecodedExample::bytes() const { return mat_bytes(image) + mat_bytes(mask); }

DecodedExample DecodedCache::get(const std::string& key, const std::function<DecodedExample()>& decode) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      ++stats_.hits;
      return it->second;  // shares the pixels (cv::Mat reference counting)
    }
    ++stats_.misses;
  }
  DecodedExample made = decode();
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(key);
  if (it != entries_.end()) return it->second;  // another worker stored it meanwhile
  const size_t bytes = made.bytes();
  if (bytes > capacity_ - std::min(capacity_, stats_.bytes)) {
    ++stats_.not_stored;
    return made;
  }
  // The stored copy owns its pixels alone (made's may be a view into a larger buffer).
  DecodedExample kept{made.image.isContinuous() ? made.image : made.image.clone(),
                      made.mask.isContinuous() ? made.mask : made.mask.clone()};
  entries_.emplace(key, kept);
  stats_.bytes += bytes;
  stats_.entries = entries_.size();
  return kept;
}

CacheStats DecodedCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

std::string cache_key(const std::string& path, const ImagePipeline& p) {
  std::ostringstream s;
  s << p.height << 'x' << p.width << 'x' << p.channels << '/' << static_cast<int>(p.interpolation) << ':' << path;
  return s.str();
}

CacheMode parse_cache_mode(const std::string& text) {
  if (text == "off") return CacheMode::off;
  if (text == "ram") return CacheMode::ram;
  if (text == "auto") return CacheMode::automatic;
  GLIA_FAIL("cache mode '" << text << "': expected auto, ram or off");
}

const char* cache_mode_name(CacheMode mode) {
  switch (mode) {
    case CacheMode::off: return "off";
    case CacheMode::ram: return "ram";
    case CacheMode::automatic: return "auto";
  }
  return "?";
}

size_t estimated_cache_bytes(size_t images, const ImagePipeline& p, bool masks) {
  const size_t pixels = static_cast<size_t>(p.height) * static_cast<size_t>(p.width);
  return images * pixels * (static_cast<size_t>(p.channels) + (masks ? 1 : 0));
}

CacheBudget cache_budget_from(const char* glia_cache_mb, const std::string& meminfo_text) {
  CacheBudget b;
  if (glia_cache_mb != nullptr && *glia_cache_mb != '\0') {
    errno = 0;
    char* end = nullptr;
    const unsigned long long mb = std::strtoull(glia_cache_mb, &end, 10);
    GLIA_CHECK(end != glia_cache_mb && *end == '\0' && errno == 0 && glia_cache_mb[0] != '-' &&
                   mb <= (SIZE_MAX >> 20),
               "GLIA_CACHE_MB='" << glia_cache_mb << "': expected a whole number of MiB (0 turns the cache off)");
    b.bytes = static_cast<size_t>(mb) << 20;
    b.from = std::string("GLIA_CACHE_MB=") + glia_cache_mb;
    return b;
  }
  std::istringstream lines(meminfo_text);
  std::string line;
  while (std::getline(lines, line)) {
    unsigned long long kb = 0;
    if (std::sscanf(line.c_str(), "MemAvailable: %llu kB", &kb) == 1) {
      b.bytes = static_cast<size_t>(kb) * 1024 / 2;
      b.from = "half of MemAvailable, " + mib(static_cast<size_t>(kb) * 1024);
      return b;
    }
  }
  b.from = "MemAvailable unknown (no /proc/meminfo); set GLIA_CACHE_MB";
  return b;
}

CacheBudget cache_budget() {
  std::ifstream f("/proc/meminfo");
  std::stringstream text;
  text << f.rdbuf();
  return cache_budget_from(std::getenv("GLIA_CACHE_MB"), text.str());
}

CachePlan plan_cache(CacheMode mode, size_t estimated, const CacheBudget& budget) {
  CachePlan plan;
  std::ostringstream m;
  switch (mode) {
    case CacheMode::off:
      m << "cache: off (--cache off): images are decoded every epoch";
      break;
    case CacheMode::ram:
      plan.cache = std::make_shared<DecodedCache>();
      m << "cache: ram (--cache ram): decoded images kept in memory, about " << mib(estimated);
      break;
    case CacheMode::automatic:
      if (estimated <= budget.bytes && budget.bytes > 0) {
        // The budget also caps the cache while it fills, in case the files are 16-bit.
        plan.cache = std::make_shared<DecodedCache>(budget.bytes);
        m << "cache: on (--cache auto): decoded images kept in memory, about " << mib(estimated) << " of a "
          << mib(budget.bytes) << " budget (" << budget.from << ")";
      } else {
        m << "cache: off (--cache auto): the decoded images would take about " << mib(estimated)
          << ", more than the budget of " << mib(budget.bytes) << " (" << budget.from
          << "), so images are decoded every epoch; GLIA_CACHE_MB=<MiB> sets the budget, --cache ram caches "
             "regardless";
      }
      break;
  }
  plan.message = m.str();
  return plan;
}

}  // namespace glia::io
