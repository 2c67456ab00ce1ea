// SIGINT/SIGTERM during train-cls/train-seg. The first signal asks the trainer to stop at
// the next batch boundary (TrainerOptions::interrupt): the epoch in progress is abandoned,
// last.ckpt and history.csv stay those of the last finished epoch (both written
// atomically after every epoch), and the command exits 128 + signal (130, 143) printing
// where the run is and the exact --resume command line. A second signal exits at once:
// files are only ever replaced by rename, so that corrupts nothing either; the temporary
// file of a write it cut short is removed by the next --resume.
#pragma once
#include <signal.h>

#include <atomic>
#include <string>
#include <vector>

#include "train/trainer.h"

namespace glia::app {

// The signal received (0: none) while an InterruptGuard is alive.
const std::atomic<int>& interrupt_flag();

// Installs the handlers for its lifetime (the flag starts at 0); restores the previous ones.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  struct sigaction previous_int_ {}, previous_term_ {};
};

// `args` is the command line (args[0] the program). Prints what happened, where the run
// is and how to continue it to stderr; returns the exit code, 128 + the signal.
int report_interruption(const TrainingInterrupted& e, const std::vector<std::string>& args);

// `args` as one shell command line (single quotes where needed).
std::string shell_command(const std::vector<std::string>& args);

}  // namespace glia::app
