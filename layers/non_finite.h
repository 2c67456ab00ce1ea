// Where a NaN or infinity first appears in a forward pass. A network's output goes
// non-finite because of one layer (a NaN weight, an overflow); every layer after it is
// then non-finite too, so the useful answer is the first module, in the order modules
// finish, whose output holds such a value although its input did not.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "layers/module.h"

namespace glia::nn {

struct NonFiniteCount {
  int64_t count = 0;   // NaN and infinite elements
  int64_t first = -1;  // flat index of the first one
  std::string first_value;  // "NaN", "+inf", "-inf"
};
// Counts the non-finite elements of a floating tensor (any device; copied to the host).
// Integer tensors have none.
NonFiniteCount count_non_finite(const Tensor& t);

struct NonFiniteOrigin {
  std::string module;  // dotted path, e.g. "features.3.1.block.2.fc2"; "" for the input itself
  std::string type;    // the module's type name, e.g. "Conv2d"
  Shape output_shape;
  NonFiniteCount values;
};

// Runs model(input) without autograd, in the model's current mode, checking every
// module's output as it finishes; stops at the first one holding a non-finite value and
// names it. An input that already holds one is reported with an empty module path.
// std::nullopt when the whole forward stays finite.
std::optional<NonFiniteOrigin> locate_non_finite(Module& model, const Tensor& input);

// "module 'features.3.1.block.2.fc2' (Conv2d, output [1, 24, 1, 1]): 24 non-finite
// values, the first NaN at element 0" (or "the input ...").
std::string describe(const NonFiniteOrigin& origin);

}  // namespace glia::nn
