// Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11).
// Counter-based: the numbers depend only on (seed, counter), so every device and every
// thread count draws the same values. Usable on host, in CUDA kernels and under sim.
#pragma once
#include <cstdint>

#include "kernels/hd.h"

namespace glia {

struct Philox4 {
  uint32_t v[4];
};

GLIA_HD inline Philox4 philox4x32(uint64_t seed, uint64_t counter_hi, uint64_t counter_lo) {
  uint32_t c0 = static_cast<uint32_t>(counter_lo), c1 = static_cast<uint32_t>(counter_lo >> 32);
  uint32_t c2 = static_cast<uint32_t>(counter_hi), c3 = static_cast<uint32_t>(counter_hi >> 32);
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
    uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
    uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
    uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
    c1 = static_cast<uint32_t>(p1);
    c3 = static_cast<uint32_t>(p0);
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// Uniform float in [0, 1) from the top 24 bits (exactly representable).
GLIA_HD inline float philox_uniform(uint32_t bits) {
  return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
}

// Element i of stream (seed, offset): one Philox call gives 4 numbers, so element i uses
// word i%4 of counter offset + i/4. Any device computes element i the same way.
GLIA_HD inline uint32_t philox_bits(uint64_t seed, uint64_t offset, uint64_t i) {
  Philox4 r = philox4x32(seed, offset, i >> 2);
  return r.v[i & 3];
}

}  // namespace glia
