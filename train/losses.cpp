#include "train/losses.h"

#include <numeric>

#include "kernels/error.h"

namespace glia {
namespace {

void check_same_shape(const char* loss, const Tensor& logits, const Tensor& target) {
  GLIA_CHECK(logits.sizes() == target.sizes(), loss << ": logits " << shape_str(logits.sizes()) << " and target "
                                                    << shape_str(target.sizes()) << " must have the same shape");
}

std::vector<int64_t> dims_from(int64_t first, int64_t rank) {
  std::vector<int64_t> dims(static_cast<size_t>(rank - first));
  std::iota(dims.begin(), dims.end(), first);
  return dims;
}

}  // namespace

Tensor categorical_cross_entropy(const Tensor& logits, const Tensor& target, double label_smoothing) {
  GLIA_CHECK(label_smoothing >= 0 && label_smoothing <= 1,
             "categorical_cross_entropy: label_smoothing " << label_smoothing << " must be in [0, 1]");
  return cross_entropy(logits, target, Reduction::mean, label_smoothing);
}

Tensor binary_cross_entropy(const Tensor& logits, const Tensor& target) {
  check_same_shape("binary_cross_entropy", logits, target);
  return binary_cross_entropy_with_logits(logits, target, Reduction::mean);
}

Tensor soft_dice_loss(const Tensor& logits, const Tensor& target, DiceOptions options) {
  check_same_shape("soft_dice_loss", logits, target);
  GLIA_CHECK(options.smooth >= 0, "soft_dice_loss: smooth " << options.smooth << " must be >= 0");
  GLIA_CHECK(logits.dim() >= 1, "soft_dice_loss: logits must have at least one dimension");
  Tensor p = sigmoid(logits);
  // Sum over everything (batch Dice) or over all but the batch dim (per-sample Dice).
  std::vector<int64_t> dims = dims_from(options.per_sample ? 1 : 0, logits.dim());
  if (dims.empty()) dims = {0};
  Tensor intersection = sum(p * target, dims);
  Tensor total = sum(p, dims) + sum(target, dims);
  Tensor dice = (2.0 * intersection + options.smooth) / (total + options.smooth);
  return 1.0 - mean(dice);
}

Tensor bce_dice_loss(const Tensor& logits, const Tensor& target, BceDiceOptions options) {
  return options.bce_weight * binary_cross_entropy(logits, target) +
         options.dice_weight * soft_dice_loss(logits, target, options.dice);
}

}  // namespace glia
