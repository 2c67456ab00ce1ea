// The MPI communicator (OpenMPI here). Every collective is non-blocking and polled
// against a deadline (GLIA_COMM_TIMEOUT seconds), with MPI_ERRORS_RETURN on its own
// duplicate of MPI_COMM_WORLD, so a rank that died or hangs turns into an error naming
// this rank and the operation within the timeout instead of a hang.
//
// The all-reduce (GLIA_ALLREDUCE=ordered, the default) is a reduce-scatter then an
// all-gather: each rank owns 1/W of the buffer, receives that chunk from every rank
// (MPI_Ialltoallv) and sums it in rank order 0, 1, ..., W-1; the sums are then gathered
// by all (MPI_Iallgatherv). The same bandwidth as a ring all-reduce (each rank sends and
// receives 2 (W-1)/W of the buffer), and the result cannot depend on timing or on the
// library's algorithm choice. GLIA_ALLREDUCE=mpi uses MPI_Iallreduce instead (the
// library's order).
#pragma once
#include <memory>

#include "train/communicator.h"

namespace glia::parallel {

// MPI_Init_thread (funneled) on first use; MPI_Finalize when the last one goes.
std::unique_ptr<Communicator> make_mpi_communicator(double timeout_seconds);

}  // namespace glia::parallel
