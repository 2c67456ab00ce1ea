#include "train/parallel/launch.h"

#include <cstdlib>
#include <string>

#include "kernels/error.h"
#ifdef GLIA_HAVE_MPI
#include "train/parallel/mpi_communicator.h"
#endif
#ifdef GLIA_HAVE_NCCL
#include "train/parallel/nccl_communicator.h"
#endif

namespace glia::parallel {
namespace {

int env_int(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return -1;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  return (*end == '\0' && n >= 0 && n < (1L << 30)) ? static_cast<int>(n) : -1;
}

}  // namespace

int launched_world_size() {
  // OpenMPI's mpirun sets the first, MPICH's hydra (and other PMI launchers) the second.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    const int n = env_int(name);
    if (n >= 1) return n;
  }
  return 1;
}

bool mpi_available() {
#ifdef GLIA_HAVE_MPI
  return true;
#else
  return false;
#endif
}

bool nccl_available() {
#ifdef GLIA_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

double collective_timeout_seconds() {
  const char* v = std::getenv("GLIA_COMM_TIMEOUT");
  if (v == nullptr || *v == '\0') return 600;
  char* end = nullptr;
  const double s = std::strtod(v, &end);
  GLIA_CHECK(*end == '\0' && s >= 0, "GLIA_COMM_TIMEOUT=" << v << ": expected seconds >= 0 (0: wait forever)");
  return s;
}

std::unique_ptr<Communicator> communicator_from_environment(Device device) {
  const char* forced = std::getenv("GLIA_COMM");
  const std::string backend = forced ? forced : "";
  GLIA_CHECK(backend.empty() || backend == "mpi" || backend == "nccl",
             "GLIA_COMM=" << backend << ": expected 'mpi' or 'nccl' (or unset)");
  const int world = launched_world_size();
  if (world <= 1 && backend.empty()) return std::make_unique<SingleProcessCommunicator>();
  GLIA_CHECK(mpi_available(),
             "this process was started by an MPI launcher ("
                 << world << " ranks) but this glia was built without MPI (GLIA_MPI=OFF, or libopenmpi-dev was "
                 << "missing when it was configured): install libopenmpi-dev and openmpi-bin (scripts/setup.sh "
                 << "does) and rebuild, or run without mpirun");
  const double timeout = collective_timeout_seconds();
  const bool nccl = backend == "nccl" || (backend.empty() && device == Device::cuda && nccl_available());
  if (nccl) {
    GLIA_CHECK(nccl_available(), "GLIA_COMM=nccl: this glia was built without NCCL (it needs a CUDA build "
                                 "with nccl.h and libnccl found, and MPI)");
#ifdef GLIA_HAVE_NCCL
    return make_nccl_communicator(make_mpi_communicator(timeout), timeout);
#endif
  }
#ifdef GLIA_HAVE_MPI
  return make_mpi_communicator(timeout);
#else
  GLIA_FAIL("unreachable: no MPI backend");
#endif
}

}  // namespace glia::parallel
