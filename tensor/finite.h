// NaN and infinity in stored weights. A weight file with one non-finite value makes every
// output NaN, which evaluation would otherwise report as a number ("accuracy 0.25"), so
// loading such weights is an error naming the file and the tensor. For debugging a
// diverged run, GLIA_ALLOW_NON_FINITE_WEIGHTS=1 (or allow_non_finite_weights(true), what
// a command-line flag sets) turns the error into a warning on stderr.
#pragma once
#include <cstdint>
#include <string>

#include "kernels/dtype.h"

namespace glia {

class SafetensorsReader;

// Index of the first NaN or infinite element among `n` little-endian values of `dtype`
// at `data` (any alignment), or -1 when all are finite. Integer dtypes: always -1.
int64_t first_non_finite(const void* data, DType dtype, int64_t n);
// "NaN", "+inf" or "-inf" for the element at `index` (which must be non-finite).
std::string non_finite_name(const void* data, DType dtype, int64_t index);

// Process-wide switch; starts from GLIA_ALLOW_NON_FINITE_WEIGHTS (1/true/yes to allow).
bool non_finite_weights_allowed();
void allow_non_finite_weights(bool allow);

// Checks every floating tensor of the file: an Error naming the file, the tensor, the
// element and how to allow it, unless allowed (then one warning per tensor on stderr).
void require_finite_weights(const SafetensorsReader& reader);

}  // namespace glia
