// Which communicator a process uses, from how it was started: under mpirun/mpiexec
// (OpenMPI's OMPI_COMM_WORLD_SIZE, or PMI_SIZE of MPICH's hydra) the MPI
// one, else a single process that touches no MPI at all (a plain run behaves exactly as
// before data-parallel training existed). In a build without MPI (GLIA_MPI=OFF, or no
// libopenmpi-dev at configure time), a launch with more than one rank is an error that
// says so.
#pragma once
#include <memory>
#include <string>

#include "kernels/device.h"
#include "train/communicator.h"

namespace glia::parallel {

// Ranks the launcher says this job has (1 when not launched by an MPI launcher).
int launched_world_size();
bool mpi_available();   // this build has the MPI backend
bool nccl_available();  // this build has the NCCL backend (CUDA builds with NCCL)

// The process's communicator. On `cuda` with NCCL built in, all-reduces go over NCCL
// (its unique id bootstrapped over MPI); otherwise MPI. GLIA_COMM=mpi|nccl forces one.
std::unique_ptr<Communicator> communicator_from_environment(Device device = Device::cpu);

// The collective timeout in seconds (GLIA_COMM_TIMEOUT, default 600; 0 waits forever).
double collective_timeout_seconds();

}  // namespace glia::parallel
