// libFuzzer target for the safetensors reader (tensor/safetensors.cpp): any bytes must
// give a validated reader or a glia::Error, never a crash, a read outside the mapping,
// an overflow or a hang. Built and run by scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>

#include "kernels/error.h"
#include "tensor/finite.h"
#include "tensor/safetensors.h"
#include "tools/fuzz/memory_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static glia::fuzz::MemoryFile file;
  const std::string& path = file.hold(data, size);
  try {
    glia::SafetensorsReader reader(path);
    // What the reader promises: every entry's bytes lie inside the data section and
    // match dtype x shape. Touch them all (ASan catches a read past the mapping).
    uint64_t sum = 0;
    for (const glia::SafetensorsEntry& e : reader.entries()) {
      if (e.end - e.begin != static_cast<uint64_t>(e.numel()) * glia::dtype_size(e.dtype)) __builtin_trap();
      const uint8_t* p = reader.data(e);
      for (uint64_t i = e.begin; i < e.end; ++i) sum += p[i - e.begin];
      if (reader.entry(e.name).begin != e.begin) __builtin_trap();
    }
    glia::require_finite_weights(reader);
    if (sum == 1) return 0;  // keeps the loop from being optimised away
  } catch (const glia::Error&) {
  }
  return 0;
}
