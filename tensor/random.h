// Random numbers: one seeded, counter-based generator over Philox-4x32-10
// (kernels/philox.h). A draw of n numbers reads counters (seed, offset, i) for i < n and
// then advances offset past them, so the values depend only on (seed, offset) and the
// element index: the same on every device and for any thread count. The state is two
// integers, saved with checkpoints so a resumed run draws what the original would have.
#pragma once
#include <cstdint>
#include <mutex>

namespace glia {

struct GeneratorState {
  uint64_t seed = 0;
  uint64_t offset = 0;  // Philox counter blocks consumed so far (4 numbers per block)
};

class Generator {
 public:
  explicit Generator(uint64_t seed = kDefaultSeed) { manual_seed(seed); }
  static constexpr uint64_t kDefaultSeed = 0x2545F4914F6CDD1DULL;

  void manual_seed(uint64_t seed);  // also resets the offset to 0
  GeneratorState state() const;
  void set_state(const GeneratorState& state);

  // Reserves `count` 32-bit numbers: returns the stream to read them from with
  // philox_bits(stream.seed, stream.offset, i), i < count, and advances the offset.
  // Kernels that draw on a device (e.g. dropout) use this too.
  GeneratorState reserve(uint64_t count);

 private:
  mutable std::mutex mutex_;
  GeneratorState state_;
};

// The process-wide generator used when a random factory gets no generator.
Generator& default_generator();
inline void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace glia
