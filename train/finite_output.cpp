#include "train/finite_output.h"

#include "layers/non_finite.h"

namespace glia {

void check_finite_output(nn::Module& model, const Tensor& input, const Tensor& output, const std::string& what) {
  const nn::NonFiniteCount out = nn::count_non_finite(output);
  if (out.count == 0) return;
  const std::string summary = what + ": the model's output " + shape_str(output.sizes()) + " holds " +
                              std::to_string(out.count) + " non-finite value(s) (the first " + out.first_value +
                              " at element " + std::to_string(out.first) + ")";
  const auto origin = nn::locate_non_finite(model, input);
  GLIA_CHECK(origin.has_value(), summary << "; a second forward of the same input stayed finite, so the layer "
                                            "could not be named (a non-deterministic fault?)");
  if (origin->module.empty())
    GLIA_FAIL(summary << "; it was already in the input: " << describe(*origin));
  GLIA_FAIL(summary << "; it first appears in " << describe(*origin)
                    << ", whose input was finite (a NaN/inf weight of that layer, or values beyond float range)");
}

}  // namespace glia
