// The glia command under mpirun: train-cls and train-seg train data-parallel
// (train/communicator.h, train/parallel/launch.h). One communicator per process, made
// before the command runs; every other command refuses more than one rank. Rank 0 alone
// writes the run directory (checkpoints, run.json, history, plots, metrics) and prints
// progress; an error on any rank is printed with its rank and ends the whole job.
#pragma once
#include <string>

#include "train/communicator.h"

namespace glia::app {

// The process's communicator: a single process until start_data_parallel() ran.
Communicator& run_communicator();
// Under an MPI launcher: the communicator for `command` on `device` (a UsageError for a
// command that does not train data-parallel). Without one: nothing changes.
void start_data_parallel(const std::string& command, const std::string& device);
void stop_data_parallel();
// Rank 0 (or no data parallelism): this process writes the run's files and prints.
bool writes_outputs();
// "rank r of n: " under data parallelism, else empty (prefixes error messages).
std::string rank_prefix();

// Tests: the commands use `comm` (e.g. a single process beside an MPI job) while alive.
class ScopedRunCommunicator {
 public:
  explicit ScopedRunCommunicator(Communicator& comm);
  ~ScopedRunCommunicator();
  ScopedRunCommunicator(const ScopedRunCommunicator&) = delete;
  ScopedRunCommunicator& operator=(const ScopedRunCommunicator&) = delete;

 private:
  Communicator* previous_;
};

}  // namespace glia::app
