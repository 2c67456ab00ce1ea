// Seeded random draws for the data pipeline, on glia's counter-based Philox.
// A stream is named by (seed, domain, epoch, index): the numbers of sample `index` in
// epoch `epoch` depend on nothing else, so augmentation and shuffling are the same
// whatever the number of loader workers or the order they run in.
#pragma once
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "kernels/error.h"
#include "kernels/philox.h"

namespace glia::io {

// Separate domains so that e.g. the shuffle of epoch 3 never reuses the draws of the
// augmentation of sample 3.
enum class RngDomain : uint64_t {
  shuffle = 1,
  split = 2,
  augment = 3,
  phantom = 4,
  phantom_noise = 5,
};

class Rng {
 public:
  // epoch < 2^24 and index < 2^32: they are packed with the domain into Philox's
  // 64-bit stream counter (domain 8 bits | epoch 24 bits | index 32 bits).
  Rng(uint64_t seed, RngDomain domain, uint64_t epoch, uint64_t index) : seed_(seed) {
    GLIA_CHECK(epoch < (1ull << 24), "io::Rng: epoch " << epoch << " is >= 2^24");
    GLIA_CHECK(index < (1ull << 32), "io::Rng: index " << index << " is >= 2^32");
    stream_ = (static_cast<uint64_t>(domain) << 56) | (epoch << 32) | index;
  }

  uint32_t bits() { return philox_bits(seed_, stream_, next_++); }
  // Uniform in [0, 1).
  float uniform() { return philox_uniform(bits()); }
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  bool bernoulli(float p) { return uniform() < p; }
  // Uniform integer in [0, n) without modulo bias worth mentioning (64-bit multiply-high).
  uint64_t below(uint64_t n) {
    uint64_t r = (static_cast<uint64_t>(bits()) << 32) | bits();
    return static_cast<uint64_t>((static_cast<unsigned __int128>(r) * n) >> 64);
  }
  // Standard normal (Box-Muller; uses two draws).
  float normal() {
    float u1 = uniform(), u2 = uniform();
    float r = std::sqrt(-2.0f * std::log(1.0f - u1));  // 1-u1 in (0,1]
    return r * std::cos(6.28318530718f * u2);
  }

 private:
  uint64_t seed_;
  uint64_t stream_;
  uint64_t next_ = 0;
};

// Fisher-Yates shuffle drawing from `rng`.
template <typename T>
void shuffle_in_place(std::vector<T>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) {
    size_t j = static_cast<size_t>(rng.below(i));
    std::swap(v[i - 1], v[j]);
  }
}

}  // namespace glia::io
