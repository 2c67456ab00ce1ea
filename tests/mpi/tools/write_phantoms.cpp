// mpi_write_phantoms cls|seg DIR [per_class|patients]: the phantom datasets of io/phantom.h,
// for tests that run the glia binary under mpirun (tests/mpi/faults_test.sh).
#include <cstdlib>
#include <iostream>
#include <string>

#include "io/phantom.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: mpi_write_phantoms cls|seg DIR [count]" << std::endl;
    return 2;
  }
  const std::string kind = argv[1], dir = argv[2];
  const int count = argc > 3 ? std::atoi(argv[3]) : 8;
  try {
    if (kind == "cls") glia::io::write_classification_phantoms(dir, count, 0, 32, 1);
    else glia::io::write_segmentation_phantoms(dir, count, 6, 32, 1);
  } catch (const std::exception& e) {
    std::cerr << "mpi_write_phantoms: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
