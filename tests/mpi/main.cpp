// test_mpi runs under `mpirun -np 2` (tests/CMakeLists.txt): every rank runs every test
// in the same order, so the collectives inside them meet. The communicator is the one
// the glia command makes (apps/data_parallel_run.h), started before the tests.
#include <gtest/gtest.h>

#include <iostream>

#include "apps/data_parallel_run.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  try {
    glia::app::start_data_parallel("train-cls", "cpu");
  } catch (const std::exception& e) {
    std::cerr << "test_mpi: " << e.what() << std::endl;
    return 1;
  }
  const int result = RUN_ALL_TESTS();
  glia::app::stop_data_parallel();
  return result;
}
