// Keras-semantics training callbacks driven by a monitored metric once per epoch:
// ReduceLROnPlateau (factor, patience, min_delta, cooldown, min_lr) and EarlyStopping
// (patience, min_delta, restore-best bookkeeping). Their state round-trips through JSON so
// a resumed run continues exactly where it stopped.
#pragma once
#include <string>

#include "tensor/json.h"

namespace glia {

enum class MonitorMode { min, max };
MonitorMode parse_monitor_mode(const std::string& s);  // "min" | "max"

// Tracks the best value of a monitored metric under a mode and min_delta.
struct Monitor {
  std::string name = "val_loss";
  MonitorMode mode = MonitorMode::min;
  double min_delta = 0;
  bool improves(double current, double best) const;
  double initial_best() const;  // +inf for min, -inf for max
};

class ReduceLROnPlateau {
 public:
  struct Options {
    Monitor monitor{"val_loss", MonitorMode::min, 1e-4};  // Keras: min_delta 1e-4
    double factor = 0.3;
    int patience = 2;
    int cooldown = 0;
    double min_lr = 0;
  };
  explicit ReduceLROnPlateau(Options options);

  // Called at the end of each epoch with the monitored value; returns the learning rate
  // to use from now on (lowered when the metric has not improved for `patience` epochs).
  double step(double current, double lr);

  Json state() const;
  void load_state(const Json& state);
  const Options& options() const { return options_; }

 private:
  Options options_;
  double best_;
  int wait_ = 0;
  int cooldown_counter_ = 0;
};

class EarlyStopping {
 public:
  struct Options {
    Monitor monitor{"val_accuracy", MonitorMode::max, 0};
    int patience = 5;
  };
  explicit EarlyStopping(Options options);

  // Called at the end of epoch `epoch` (0-based). Returns true when training should stop.
  bool step(double current, int epoch);
  bool improved_last_step() const { return improved_; }  // save the "best" weights then
  double best() const { return best_; }
  int best_epoch() const { return best_epoch_; }
  // A new training phase (fine-tuning): patience counts from here, the best stays.
  void restart_patience() { wait_ = 0; }

  Json state() const;
  void load_state(const Json& state);

 private:
  Options options_;
  double best_;
  int best_epoch_ = -1;
  int wait_ = 0;
  bool improved_ = false;
};

}  // namespace glia
