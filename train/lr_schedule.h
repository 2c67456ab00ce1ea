// Learning-rate schedules driven by the trainer (train/trainer.h): before every optimizer
// step it applies the schedule's rate (and, for one-cycle, momentum); after every epoch
// it reports the monitored validation metric. Families:
//   constant  the base rate (the optimizer's --lr).
//   plateau   Keras ReduceLROnPlateau (train/callbacks.h) on the validation metric, once
//             per epoch; the study's default (factor 0.3, patience 2).
//   cosine    per optimizer step, from the base rate to min_lr over the phase's steps
//             (epochs x batches): PyTorch CosineAnnealingLR(T_max = steps - warmup
//             steps, eta_min = min_lr) stepped every batch, as modern recipes do.
//   onecycle  per step, PyTorch OneCycleLR with its defaults (pct_start 0.3, cosine
//             annealing, div_factor 25, final_div_factor 1e4, three_phase off) and its
//             momentum cycling (Adam's beta1 / SGD's momentum 0.95 -> 0.85 -> 0.95); the
//             base rate is max_lr; min_lr, when given, is the final rate.
// Warmup (every family but onecycle, which warms up by itself): the first
// round(warmup_epochs x batches) steps rise linearly from 1% of the base rate, as
// PyTorch's LinearLR(start_factor 0.01, total_iters = warmup steps) placed before the
// family (SequentialLR); plateau does not count epochs that end inside the warmup.
//
// The state (steps taken, the plateau's rate and counters) round-trips through JSON so a
// resumed run continues bit for bit.
#pragma once
#include <cstdint>
#include <string>

#include "tensor/json.h"
#include "train/callbacks.h"

namespace glia {

class Optimizer;

enum class LrScheduleKind { constant, plateau, cosine, onecycle };
LrScheduleKind parse_lr_schedule(const std::string& name);  // error listing the four
std::string lr_schedule_name(LrScheduleKind kind);

struct LrScheduleOptions {
  LrScheduleKind kind = LrScheduleKind::plateau;
  double warmup_epochs = 0;   // fractions allowed; refused with onecycle
  double min_lr = -1;         // < 0: the family's default (0; onecycle: base / 25 / 1e4)
  ReduceLROnPlateau::Options plateau;  // Keras defaults; the study's factor 0.3, patience 2
  // onecycle (PyTorch's defaults)
  double pct_start = 0.3, div_factor = 25, final_div_factor = 1e4;
  bool cycle_momentum = true;
  double base_momentum = 0.85, max_momentum = 0.95;
  static constexpr double kWarmupStartFactor = 0.01;
};

class LrSchedule {
 public:
  // `base_lr`: the phase's rate (the optimizer's lr when the phase starts; onecycle's max_lr).
  LrSchedule(LrScheduleOptions options, double base_lr);

  // The length of the phase: optimizer steps per epoch and epochs. The per-step families
  // need it; fit() calls it before the first epoch (also after a resume).
  void plan(int64_t steps_per_epoch, int epochs);

  double lr() const;        // the rate of the next optimizer step
  double momentum() const;  // its momentum (onecycle with cycle_momentum), else NaN
  // Sets the optimizer's rate (and momentum) for the next step.
  void apply(Optimizer& optimizer) const;
  void step_done() { ++step_; }  // one optimizer step taken
  // End of an epoch with its monitored value (NaN: no validation). Returns true when the
  // plateau rule lowered the rate.
  bool end_epoch(double monitored);

  int64_t steps_taken() const { return step_; }
  int64_t warmup_steps() const { return warmup_steps_; }
  const LrScheduleOptions& options() const { return options_; }
  double base_lr() const { return base_lr_; }
  // A new base rate for the rest of the phase (a --resume with another --lr): the
  // plateau's lowered rate starts again from it; the per-step families follow their
  // curve scaled to it.
  void set_base_lr(double lr);

  Json state() const;
  void load_state(const Json& state);  // errors name what is missing or of another family

 private:
  double after_warmup(int64_t step) const;  // the family's rate at `step` (>= warmup)
  double min_lr() const;

  LrScheduleOptions options_;
  double base_lr_;
  double current_;  // constant / plateau: the rate after warmup (plateau lowers it)
  ReduceLROnPlateau plateau_;
  int64_t step_ = 0;
  int64_t steps_per_epoch_ = 0, total_steps_ = 0, warmup_steps_ = 0;
};

}  // namespace glia
