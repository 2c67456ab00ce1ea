#include "train/callbacks.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/error.h"

namespace glia {
namespace {

// JSON has no infinity; the best value before any epoch is stored as null.
Json number_or_null(double v) { return std::isfinite(v) ? Json(v) : Json(); }
double number_or(const Json& j, double fallback) { return j.is_number() ? j.as_number() : fallback; }

}  // namespace

MonitorMode parse_monitor_mode(const std::string& s) {
  if (s == "min") return MonitorMode::min;
  if (s == "max") return MonitorMode::max;
  GLIA_FAIL("monitor mode '" << s << "' is not min or max");
}

bool Monitor::improves(double current, double best) const {
  if (std::isnan(current)) return false;
  return mode == MonitorMode::min ? current < best - min_delta : current > best + min_delta;
}

double Monitor::initial_best() const {
  return mode == MonitorMode::min ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
}

ReduceLROnPlateau::ReduceLROnPlateau(Options options) : options_(std::move(options)) {
  GLIA_CHECK(options_.factor > 0 && options_.factor < 1, "ReduceLROnPlateau: factor " << options_.factor << " must be in (0, 1)");
  GLIA_CHECK(options_.patience >= 0 && options_.cooldown >= 0, "ReduceLROnPlateau: patience and cooldown must be >= 0");
  best_ = options_.monitor.initial_best();
}

double ReduceLROnPlateau::step(double current, double lr) {
  // Keras ReduceLROnPlateau.on_epoch_end, step for step. Keras asks in_cooldown() again
  // after counting down, so a cooldown of c leaves out c - 1 epochs (1: none).
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    wait_ = 0;
  }
  if (options_.monitor.improves(current, best_)) {
    best_ = current;
    wait_ = 0;
  } else if (cooldown_counter_ == 0) {
    ++wait_;
    if (wait_ >= options_.patience && lr > options_.min_lr) {
      lr = std::max(lr * options_.factor, options_.min_lr);
      cooldown_counter_ = options_.cooldown;
      wait_ = 0;
    }
  }
  return lr;
}

Json ReduceLROnPlateau::state() const {
  Json s = Json::object();
  s["best"] = number_or_null(best_);
  s["wait"] = Json(wait_);
  s["cooldown_counter"] = Json(cooldown_counter_);
  return s;
}

void ReduceLROnPlateau::load_state(const Json& s) {
  best_ = number_or(s.at("best"), options_.monitor.initial_best());
  wait_ = static_cast<int>(s.at("wait").as_integer());
  cooldown_counter_ = static_cast<int>(s.at("cooldown_counter").as_integer());
}

EarlyStopping::EarlyStopping(Options options) : options_(std::move(options)) {
  GLIA_CHECK(options_.patience >= 0, "EarlyStopping: patience " << options_.patience << " must be >= 0");
  best_ = options_.monitor.initial_best();
}

bool EarlyStopping::step(double current, int epoch) {
  // Keras EarlyStopping.on_epoch_end: count the epoch, reset on improvement.
  ++wait_;
  improved_ = options_.monitor.improves(current, best_);
  if (improved_) {
    best_ = current;
    best_epoch_ = epoch;
    wait_ = 0;
    return false;
  }
  return wait_ >= options_.patience && epoch > 0;
}

Json EarlyStopping::state() const {
  Json s = Json::object();
  s["best"] = number_or_null(best_);
  s["best_epoch"] = Json(best_epoch_);
  s["wait"] = Json(wait_);
  return s;
}

void EarlyStopping::load_state(const Json& s) {
  best_ = number_or(s.at("best"), options_.monitor.initial_best());
  best_epoch_ = static_cast<int>(s.at("best_epoch").as_integer());
  wait_ = static_cast<int>(s.at("wait").as_integer());
  improved_ = false;
}

}  // namespace glia
