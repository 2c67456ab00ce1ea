// Rank failures, driven by tests/mpi/faults_test.sh (disabled here: they end the job on
// purpose, so they run only when asked for by name, each in its own mpirun).
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <thread>

#include "apps/data_parallel_run.h"
#include "kernels/error.h"

namespace glia {
namespace {

// Rank 1 is killed (SIGKILL: no handler, no goodbye) after the first all-reduce; rank 0
// goes on summing. The job must end, with an error, within the collective timeout.
TEST(Faults, DISABLED_RankDies) {
  Communicator& comm = app::run_communicator();
  ASSERT_EQ(comm.size(), 2);
  std::vector<double> v(1000, 1.0);
  comm.all_reduce_sum(v);
  if (comm.rank() == 1) ::kill(::getpid(), SIGKILL);
  try {
    for (int i = 0; i < 1000000; ++i) comm.all_reduce_sum(v);
  } catch (const Error& e) {
    std::cerr << "rank " << comm.rank() << ": " << e.what() << std::endl;
    comm.abort(3);
  }
  FAIL() << "rank 0 went on summing with a dead rank";
}

// Rank 1 is alive but does not join the all-reduce: rank 0 must give up after
// GLIA_COMM_TIMEOUT seconds with an error naming the operation, then end the job.
TEST(Faults, DISABLED_StuckRankTimesOut) {
  Communicator& comm = app::run_communicator();
  ASSERT_EQ(comm.size(), 2);
  if (comm.rank() == 1) {
    std::this_thread::sleep_for(std::chrono::seconds(60));
    return;
  }
  std::vector<double> v(1000, 1.0);
  try {
    comm.all_reduce_sum(v);
  } catch (const Error& e) {
    std::cerr << "rank 0: " << e.what() << std::endl;
    comm.abort(3);
  }
  FAIL() << "the all-reduce returned without rank 1";
}

}  // namespace
}  // namespace glia
