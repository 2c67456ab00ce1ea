// Training losses, composed from differentiable tensor ops (so gradients come from
// autograd and run on any device). Segmentation losses take logits: the sigmoid is
// applied inside, where it can be fused with the log in BCE for stability.
#pragma once
#include "tensor/ops.h"
#include "tensor/tensor.h"

namespace glia {

// Categorical cross-entropy: logits [N, C]; target int64 class indices [N] or
// probabilities / one-hot [N, C]; optional label smoothing (PyTorch semantics).
Tensor categorical_cross_entropy(const Tensor& logits, const Tensor& target, double label_smoothing = 0);

// Mean binary cross-entropy of sigmoid(logits) against target in [0, 1] (same shape).
Tensor binary_cross_entropy(const Tensor& logits, const Tensor& target);

// Soft Dice loss 1 - (2 sum(p t) + smooth) / (sum(p) + sum(t) + smooth) with
// p = sigmoid(logits). per_sample: the Dice of each sample ([N, ...]) averaged over the
// batch; otherwise the whole batch counts as one volume (the common Keras form). smooth
// keeps empty masks (no tumour, nothing predicted) at loss 0 instead of 0/0.
struct DiceOptions {
  double smooth = 1.0;
  bool per_sample = false;
};
Tensor soft_dice_loss(const Tensor& logits, const Tensor& target, DiceOptions options = {});

// bce_weight * BCE + dice_weight * Dice: the paper's segmentation loss with weights 1, 1.
struct BceDiceOptions {
  double bce_weight = 1.0, dice_weight = 1.0;
  DiceOptions dice;
};
Tensor bce_dice_loss(const Tensor& logits, const Tensor& target, BceDiceOptions options = {});

}  // namespace glia
