// libFuzzer target for glia's JSON parser (tensor/json.cpp), which reads safetensors
// headers, checkpoint metadata and run files. Any text must parse or give a glia::Error;
// what parses must dump to text that parses to the same dump. Built and run by
// scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/error.h"
#include "tensor/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  glia::Json value;
  try {
    value = glia::Json::parse(text, "fuzz input");
  } catch (const glia::Error&) {
    return 0;
  }
  const std::string once = value.dump();
  std::string twice;
  try {
    twice = glia::Json::parse(once, "dump").dump();
  } catch (const glia::Error&) {
    __builtin_trap();  // glia wrote JSON it cannot read back
  }
  if (once != twice) __builtin_trap();
  (void)value.dump(2);
  return 0;
}
