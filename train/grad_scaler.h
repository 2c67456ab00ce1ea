// Dynamic loss scaling for fp16 training (torch.cuda.amp.GradScaler's algorithm).
//
// f16 keeps 5 exponent bits: gradients below 2^-24 flush to zero and above 65504 become
// inf. The scaler multiplies the loss by `scale` before backward, so small gradients
// survive the f16 products, then divides the (f32) parameter gradients by it again:
//   - any NaN/inf gradient: the optimizer step is skipped and scale *= backoff (0.5);
//   - growth_interval clean steps in a row: scale *= growth (2).
// The scale starts at 2^16 and only ever changes by powers of two, so unscaling is exact
// and its state (scale, clean-step count) round-trips through a checkpoint bit for bit.
// bf16 needs none of this (f32's exponent range): the trainer uses a scaler only for fp16.
#pragma once
#include <cstdint>

#include "tensor/json.h"
#include "tensor/tensor.h"
#include "train/optimizer.h"

namespace glia {

class GradScaler {
 public:
  struct Options {
    double init_scale = 65536.0;  // 2^16, PyTorch's default
    double growth_factor = 2.0;
    double backoff_factor = 0.5;
    int64_t growth_interval = 2000;
  };
  GradScaler() : GradScaler(Options{}) {}
  explicit GradScaler(Options options);

  double scale() const { return scale_; }
  int64_t growth_tracker() const { return growth_tracker_; }  // clean steps since the last change
  int64_t skipped_steps() const { return skipped_; }          // over the whole run

  Tensor scale_loss(const Tensor& loss) const;  // loss * scale (differentiable)
  // Divides every defined gradient of `params` by the scale, in place; true when all of
  // them are finite (then the step may be taken).
  bool unscale(const NamedTensors& params) const;
  // After each step: found_inf (unscale returned false) halves the scale and counts a
  // skip, else one more clean step (the scale doubles after growth_interval of them).
  // An error when the scale falls below 2^-24: the gradients are then non-finite
  // whatever the scale, which is not an overflow the scaler can cure.
  void update(bool found_inf);

  // Checkpoint state: {"scale": "<17 digits>", "growth_tracker": n, "skipped": n}.
  Json state() const;
  void load_state(const Json& state);  // errors name what is missing or malformed

 private:
  Options options_;
  double scale_;
  int64_t growth_tracker_ = 0;
  int64_t skipped_ = 0;
  int64_t skipped_in_a_row_ = 0;
};

}  // namespace glia
