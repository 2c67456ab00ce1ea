// Training precision (--precision fp32|bf16|fp16): which dtype autocast runs the
// products in (tensor/autocast.h) and whether a loss scaler guards the gradients
// (train/grad_scaler.h). Parameters and optimizer state stay f32 in every mode.
//
//   fp32  no autocast (the default: bit-identical to a run without precision support)
//   bf16  autocast to bfloat16; no loss scaling (bf16 has f32's exponent range)
//   fp16  autocast to float16 and a dynamic loss scaler (f16 gradients underflow below
//         2^-24 and overflow above 65504 without one)
#pragma once
#include <string>

#include "kernels/dtype.h"
#include "kernels/error.h"

namespace glia {

enum class Precision { fp32, bf16, fp16 };

inline const char* precision_name(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::bf16: return "bf16";
    case Precision::fp16: return "fp16";
  }
  return "?";
}

// "fp32" | "bf16" | "fp16"; anything else is an error naming `what` (e.g. "--precision").
inline Precision parse_precision(const std::string& text, const std::string& what = "precision") {
  for (Precision p : {Precision::fp32, Precision::bf16, Precision::fp16})
    if (text == precision_name(p)) return p;
  GLIA_FAIL(what << ": '" << text << "' is not a precision (fp32, bf16 or fp16)");
}

// The dtype autocast lowers products to (f32 for fp32: no autocast).
inline DType precision_dtype(Precision p) {
  return p == Precision::bf16 ? DType::bf16 : p == Precision::fp16 ? DType::f16 : DType::f32;
}

}  // namespace glia
