// libFuzzer target for the checkpoint reader (train/checkpoint.cpp): the safetensors
// layer plus the checkpoint's JSON metadata and tensor naming. Any bytes must load or
// give a glia::Error. Built and run by scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>

#include "kernels/error.h"
#include "train/checkpoint.h"
#include "tools/fuzz/memory_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static glia::fuzz::MemoryFile file;
  const std::string& path = file.hold(data, size);
  try {
    glia::Checkpoint c = glia::load_checkpoint(path);
    glia::require_model(c, c.model, path);
    for (const auto& [name, t] : c.model_state)
      if (name.empty() && t.numel() < 0) __builtin_trap();
    (void)glia::as_map(c.optimizer_tensors);
  } catch (const glia::Error&) {
  }
  return 0;
}
