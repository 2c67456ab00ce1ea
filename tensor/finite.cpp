#include "tensor/finite.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>

#include "kernels/error.h"
#include "tensor/safetensors.h"
#include "tensor/tensor.h"

namespace glia {
namespace {

// Non-finite <=> every exponent bit set, in each IEEE format glia stores.
template <class Bits>
int64_t scan(const uint8_t* p, int64_t n, Bits exponent_mask) {
  for (int64_t i = 0; i < n; ++i) {
    Bits v;
    std::memcpy(&v, p + i * static_cast<int64_t>(sizeof(Bits)), sizeof(Bits));
    if ((v & exponent_mask) == exponent_mask) return i;
  }
  return -1;
}

// "NaN" when the mantissa bits are set (the exponent is all ones), else the signed infinity.
template <class Bits>
std::string name_of(const uint8_t* p, Bits mantissa_mask) {
  Bits v;
  std::memcpy(&v, p, sizeof(Bits));
  if ((v & mantissa_mask) != 0) return "NaN";
  return (v >> (8 * sizeof(Bits) - 1)) ? "-inf" : "+inf";
}

bool env_allows() {
  const char* v = std::getenv("GLIA_ALLOW_NON_FINITE_WEIGHTS");
  if (v == nullptr) return false;
  const std::string s = v;
  return s == "1" || s == "true" || s == "yes";
}

std::atomic<bool>& allowed() {
  static std::atomic<bool> flag{env_allows()};
  return flag;
}

}  // namespace

int64_t first_non_finite(const void* data, DType dtype, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  switch (dtype) {
    case DType::f32: return scan<uint32_t>(p, n, 0x7F800000u);
    case DType::f64: return scan<uint64_t>(p, n, 0x7FF0000000000000ull);
    case DType::f16: return scan<uint16_t>(p, n, 0x7C00u);
    case DType::bf16: return scan<uint16_t>(p, n, 0x7F80u);
    default: return -1;
  }
}

std::string non_finite_name(const void* data, DType dtype, int64_t index) {
  const auto* p = static_cast<const uint8_t*>(data) + index * static_cast<int64_t>(dtype_size(dtype));
  switch (dtype) {
    case DType::f32: return name_of<uint32_t>(p, 0x007FFFFFu);
    case DType::f64: return name_of<uint64_t>(p, 0x000FFFFFFFFFFFFFull);
    case DType::f16: return name_of<uint16_t>(p, 0x03FFu);
    case DType::bf16: return name_of<uint16_t>(p, 0x007Fu);
    default: return "?";
  }
}

bool non_finite_weights_allowed() { return allowed().load(); }
void allow_non_finite_weights(bool allow) { allowed().store(allow); }

void require_finite_weights(const SafetensorsReader& reader) {
  for (const SafetensorsEntry& e : reader.entries()) {
    const int64_t i = first_non_finite(reader.data(e), e.dtype, e.numel());
    if (i < 0) continue;
    const size_t item = dtype_size(e.dtype);
    int64_t count = 0;
    for (int64_t j = i; j < e.numel(); ++j) count += first_non_finite(reader.data(e) + j * item, e.dtype, 1) == 0;
    std::ostringstream what;
    what << reader.path() << ": tensor '" << e.name << "' " << shape_str(e.shape) << " holds " << count
         << " non-finite value(s), the first " << non_finite_name(reader.data(e), e.dtype, i) << " at element " << i;
    if (non_finite_weights_allowed()) {
      std::cerr << "warning: " << what.str() << " (loaded anyway: non-finite weights are allowed)" << std::endl;
      continue;
    }
    GLIA_FAIL(what.str() << "; these weights would make every output NaN (a diverged run?). To load them anyway "
                            "for debugging, set GLIA_ALLOW_NON_FINITE_WEIGHTS=1");
  }
}

}  // namespace glia
