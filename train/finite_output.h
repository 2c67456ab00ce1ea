// Evaluation and prediction refuse non-finite outputs: a NaN logit otherwise becomes a
// silent "accuracy 0.25" or a NaN probability in predictions.csv.
#pragma once
#include <string>

#include "layers/module.h"

namespace glia {

// Nothing when `output` (what model(input) gave) is finite. Otherwise re-runs the forward
// with every module checked (layers/non_finite.h) and throws an Error that starts with
// `what` (e.g. "evaluation" or an image path) and names the module where the first
// non-finite value appeared. The model must be in the mode that produced `output`
// (eval mode is deterministic, so the re-run sees the same values).
void check_finite_output(nn::Module& model, const Tensor& input, const Tensor& output, const std::string& what);

}  // namespace glia
