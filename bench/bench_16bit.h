// What the bf16 kernel benchmarks share (families "<family>_bf16": gemm_bf16 in
// bench/gemm.cpp, conv2d_bf16 in bench/conv2d.cpp; PyTorch's side under the same names in
// tools/bench_torch_kernels.py). A case is registered on every backend of the build and
// finds out when it runs whether that backend's kernel takes bf16: cuDNN/cuBLAS do (issue
// 17), the hand-written tensor-core, emulator and CPU bf16 kernels drop in as they land.
// Until then such a case is skipped with the kernel's own error ("... not bfloat16"),
// never timed on another path.
#pragma once
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench_kernels.h"
#include "kernels/error.h"

namespace glia::bench {

// float -> bfloat16 bits, round to nearest even (the values here are finite ramps).
inline uint16_t bf16_bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

// count bfloat16 values (raw bits, __nv_bfloat16's layout) from ramp_values(count, lo, hi).
inline Buffer bf16_ramp(Device d, int64_t count, float lo = -0.5f, float hi = 0.5f) {
  const std::vector<float> f = ramp_values(count, lo, hi);
  std::vector<uint16_t> bits(f.size());
  for (size_t i = 0; i < f.size(); ++i) bits[i] = bf16_bits(f[i]);
  Buffer buf(d, bits.size() * sizeof(uint16_t));
  buf.upload(bits);
  return buf;
}

// Runs call once (untimed); a glia::Error (the backend's kernel has no bf16 path yet) skips
// the case with that message, and false is returned.
template <class Call>
bool takes_bf16(benchmark::State& state, Backend b, Call&& call) {
  try {
    call();
    rt::synchronize(device_of(b));
    return true;
  } catch (const Error& e) {
    state.SkipWithError((std::string("no bf16 kernel on backend '") + backend_name(b) + "' yet: " + e.what()).c_str());
    return false;
  }
}

}  // namespace glia::bench
