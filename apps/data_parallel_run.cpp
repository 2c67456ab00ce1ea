#include "apps/data_parallel_run.h"

#include <memory>

#include "apps/app.h"
#include "kernels/device.h"
#include "train/parallel/launch.h"

namespace glia::app {
namespace {

std::unique_ptr<Communicator>& communicator_slot() {
  static std::unique_ptr<Communicator> comm = std::make_unique<SingleProcessCommunicator>();
  return comm;
}

Communicator*& override_slot() {
  static Communicator* comm = nullptr;
  return comm;
}

}  // namespace

Communicator& run_communicator() { return override_slot() ? *override_slot() : *communicator_slot(); }

ScopedRunCommunicator::ScopedRunCommunicator(Communicator& comm) : previous_(override_slot()) { override_slot() = &comm; }
ScopedRunCommunicator::~ScopedRunCommunicator() { override_slot() = previous_; }

void start_data_parallel(const std::string& command, const std::string& device) {
  const int world = parallel::launched_world_size();
  if (world <= 1) return;  // a plain run: no MPI is touched
  GLIA_USAGE_CHECK(command == "train-cls" || command == "train-seg",
                   "glia " << command << " was started by an MPI launcher with " << world
                           << " ranks; only train-cls and train-seg train data-parallel (run it without mpirun)");
  communicator_slot() = parallel::communicator_from_environment(parse_device(device));
}

void stop_data_parallel() { communicator_slot() = std::make_unique<SingleProcessCommunicator>(); }

bool writes_outputs() { return run_communicator().rank() == 0; }

std::string rank_prefix() {
  const Communicator& c = run_communicator();
  return c.distributed() ? "rank " + std::to_string(c.rank()) + " of " + std::to_string(c.size()) + ": " : "";
}

}  // namespace glia::app
