// A fake data-parallel job in one process, for testing synchronised batch norm
// (tensor/cross_replica.h) without MPI: run_replicas(world, body) runs body(rank) for every
// rank on its own thread, with batch norm's reducer installed on that thread.
//
// Protocol: ranks run one at a time. One lock is held by the rank that is computing; a
// rank that reaches a sum deposits its values and waits (releasing the lock, so the next
// rank runs), and the last rank to arrive adds the deposits in rank order (0, 1, ...,
// like a deterministic all-reduce) and continues; the others read the same sum when they
// next get the lock. So the library needs no thread safety here, the sums do not depend on
// scheduling, and the ranks block in their sums exactly as MPI ranks would.
// A rank that throws, that finishes while others wait in a sum, or whose sum has another
// length than the others' fails the job: every waiting rank is woken and throws, and
// run_replicas throws naming the first failure.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

namespace glia::test {

// Returns how many sums each rank made.
std::vector<int64_t> run_replicas(int world, const std::function<void(int rank)>& body);

}  // namespace glia::test
