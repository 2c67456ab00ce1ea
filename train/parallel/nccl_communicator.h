// The NCCL communicator for the cuda device (CUDA builds with NCCL; compiled, never run
// here: no machine with two GPUs). Rank 0's ncclUniqueId travels over the MPI
// communicator it is given, which also serves broadcasts of host data, the barrier and
// abort. All-reduces run on a stream of its own, on device buffers
// (device_buffers() == true), and are polled against the same deadline as MPI's
// (GLIA_COMM_TIMEOUT); a timeout aborts the NCCL communicator (ncclCommAbort) so no
// kernel is left waiting. NCCL chooses its own summation order (ring or tree):
// ordered_sum() is false.
#pragma once
#include <memory>

#include "train/communicator.h"

namespace glia::parallel {

std::unique_ptr<Communicator> make_nccl_communicator(std::unique_ptr<Communicator> mpi, double timeout_seconds);

}  // namespace glia::parallel
