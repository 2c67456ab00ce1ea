#include <unistd.h>

#include <cstdlib>

#include "apps/app.h"

int main(int argc, char** argv) {
  // OpenMP threads that spin while waiting for work cost more than the work itself when
  // the cores are shared (the loader's workers, other processes): on 2 busy cores a
  // U-Net step ran 20x slower. libgomp reads OMP_WAIT_POLICY when it is loaded, before
  // main, so the policy is set and the program re-executed once. An explicit
  // OMP_WAIT_POLICY in the environment is respected.
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) {
    setenv("OMP_WAIT_POLICY", "passive", 1);
    execv("/proc/self/exe", argv);  // returns only on failure: then run as we are
  }
  return glia::app::main_cli(argc, argv);
}
