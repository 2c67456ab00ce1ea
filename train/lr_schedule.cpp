#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/error.h"
#include "train/optimizer.h"

namespace glia {
namespace {

constexpr double kPi = 3.14159265358979323846;

// PyTorch's OneCycleLR._annealing_cos, operation for operation.
double anneal_cos(double start, double end, double pct) {
  const double cos_out = std::cos(kPi * pct) + 1;
  return end + (start - end) / 2.0 * cos_out;
}

}  // namespace

LrScheduleKind parse_lr_schedule(const std::string& name) {
  if (name == "constant") return LrScheduleKind::constant;
  if (name == "plateau") return LrScheduleKind::plateau;
  if (name == "cosine") return LrScheduleKind::cosine;
  if (name == "onecycle") return LrScheduleKind::onecycle;
  GLIA_FAIL("learning-rate schedule '" << name << "' is not plateau, cosine, onecycle or constant");
}

std::string lr_schedule_name(LrScheduleKind kind) {
  switch (kind) {
    case LrScheduleKind::constant: return "constant";
    case LrScheduleKind::plateau: return "plateau";
    case LrScheduleKind::cosine: return "cosine";
    case LrScheduleKind::onecycle: return "onecycle";
  }
  return "?";
}

LrSchedule::LrSchedule(LrScheduleOptions options, double base_lr)
    : options_(std::move(options)), base_lr_(base_lr), current_(base_lr), plateau_(options_.plateau) {
  GLIA_CHECK(base_lr_ > 0 && std::isfinite(base_lr_), "lr schedule: base rate " << base_lr_ << " must be > 0");
  GLIA_CHECK(options_.warmup_epochs >= 0 && std::isfinite(options_.warmup_epochs),
             "lr schedule: warmup epochs " << options_.warmup_epochs << " must be >= 0");
  GLIA_CHECK(!(options_.kind == LrScheduleKind::onecycle && options_.warmup_epochs > 0),
             "lr schedule: onecycle warms up by itself (its first " << options_.pct_start * 100
                                                                    << "% of steps); warmup epochs are not used with it");
  GLIA_CHECK(std::isfinite(options_.min_lr), "lr schedule: min_lr " << options_.min_lr << " is not finite");
  GLIA_CHECK(min_lr() < base_lr_ || options_.kind == LrScheduleKind::constant || options_.kind == LrScheduleKind::plateau,
             "lr schedule: min_lr " << min_lr() << " must be below the base rate " << base_lr_);
  GLIA_CHECK(options_.pct_start > 0 && options_.pct_start < 1 && options_.div_factor > 0 &&
                 options_.final_div_factor > 0,
             "lr schedule: onecycle needs pct_start in (0, 1) and positive div factors");
}

double LrSchedule::min_lr() const {
  if (options_.min_lr >= 0) return options_.min_lr;
  if (options_.kind == LrScheduleKind::onecycle) return base_lr_ / options_.div_factor / options_.final_div_factor;
  return 0;
}

void LrSchedule::plan(int64_t steps_per_epoch, int epochs) {
  GLIA_CHECK(steps_per_epoch > 0 && epochs >= 0,
             "lr schedule: " << steps_per_epoch << " steps per epoch and " << epochs << " epochs cannot be planned");
  steps_per_epoch_ = steps_per_epoch;
  total_steps_ = steps_per_epoch * epochs;
  warmup_steps_ = 0;
  if (options_.warmup_epochs > 0)
    warmup_steps_ = std::max<int64_t>(1, std::llround(options_.warmup_epochs * static_cast<double>(steps_per_epoch)));
}

double LrSchedule::after_warmup(int64_t step) const {
  switch (options_.kind) {
    case LrScheduleKind::constant:
    case LrScheduleKind::plateau:
      return current_;
    case LrScheduleKind::cosine: {
      const double floor = min_lr();
      const int64_t span = total_steps_ - warmup_steps_;
      if (span <= 0) return base_lr_;  // the warmup covers the whole phase
      const double t = static_cast<double>(std::min(step - warmup_steps_, span));
      return floor + (base_lr_ - floor) * (1 + std::cos(kPi * t / static_cast<double>(span))) / 2;
    }
    case LrScheduleKind::onecycle: {
      const double initial = base_lr_ / options_.div_factor;
      const double last = static_cast<double>(std::max<int64_t>(total_steps_, 1) - 1);
      const double t = std::min(static_cast<double>(step), last);
      const double end_up = options_.pct_start * static_cast<double>(total_steps_) - 1;
      if (t <= end_up && end_up > 0) return anneal_cos(initial, base_lr_, t / end_up);
      const double span = last - end_up;
      return anneal_cos(base_lr_, min_lr(), span > 0 ? (t - end_up) / span : 1.0);
    }
  }
  return current_;
}

double LrSchedule::lr() const {
  const bool per_step = options_.kind == LrScheduleKind::cosine || options_.kind == LrScheduleKind::onecycle;
  GLIA_CHECK(!per_step || total_steps_ > 0 || steps_per_epoch_ > 0,
             "lr schedule: " << lr_schedule_name(options_.kind) << " was not planned (steps per epoch unknown)");
  if (step_ < warmup_steps_) {
    const double s = LrScheduleOptions::kWarmupStartFactor;
    return base_lr_ * (s + (1 - s) * static_cast<double>(step_) / static_cast<double>(warmup_steps_));
  }
  return after_warmup(step_);
}

double LrSchedule::momentum() const {
  if (options_.kind != LrScheduleKind::onecycle || !options_.cycle_momentum)
    return std::numeric_limits<double>::quiet_NaN();
  const double last = static_cast<double>(std::max<int64_t>(total_steps_, 1) - 1);
  const double t = std::min(static_cast<double>(step_), last);
  const double end_up = options_.pct_start * static_cast<double>(total_steps_) - 1;
  if (t <= end_up && end_up > 0) return anneal_cos(options_.max_momentum, options_.base_momentum, t / end_up);
  const double span = last - end_up;
  return anneal_cos(options_.base_momentum, options_.max_momentum, span > 0 ? (t - end_up) / span : 1.0);
}

void LrSchedule::apply(Optimizer& optimizer) const {
  optimizer.set_lr(lr());
  const double m = momentum();
  if (!std::isnan(m)) optimizer.set_momentum(m);
}

bool LrSchedule::end_epoch(double monitored) {
  if (options_.kind != LrScheduleKind::plateau || std::isnan(monitored) || step_ < warmup_steps_) return false;
  const double before = current_;
  current_ = plateau_.step(monitored, current_);
  return current_ != before;
}

void LrSchedule::set_base_lr(double lr) {
  GLIA_CHECK(lr > 0 && std::isfinite(lr), "learning rate " << lr << " must be > 0");
  base_lr_ = lr;
  current_ = lr;
}

Json LrSchedule::state() const {
  Json s = Json::object();
  s["family"] = Json(lr_schedule_name(options_.kind));
  s["step"] = Json(step_);
  s["current"] = Json(current_);
  s["plateau"] = plateau_.state();
  return s;
}

void LrSchedule::load_state(const Json& s) {
  GLIA_CHECK(s.is_object() && s.contains("family") && s.contains("step") && s.contains("current"),
             "lr schedule state lacks family, step or current rate");
  const std::string family = s.at("family").as_string();
  GLIA_CHECK(family == lr_schedule_name(options_.kind), "the checkpoint's learning-rate schedule is '"
                                                            << family << "' but this run uses '"
                                                            << lr_schedule_name(options_.kind) << "'");
  step_ = s.at("step").as_integer();
  current_ = s.at("current").as_number();
  if (s.contains("plateau")) plateau_.load_state(s.at("plateau"));
}

}  // namespace glia
