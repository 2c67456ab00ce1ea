// Data-parallel training talks to the other processes (ranks) through this interface
// only: rank, size, all-reduce (sum), broadcast, barrier. One process needs no library
// (SingleProcessCommunicator); the MPI and NCCL implementations live in train/parallel/
// (library glia_parallel), chosen at start-up by parallel::communicator_from_environment().
//
// Every all-reduce here is a sum whose result does not depend on timing: the MPI
// backend's default sums the ranks' values in rank order, 0 + 1 + 2 + ..., so a run
// gives the same bits every time and every rank holds the same bits (the trainer relies
// on that: its early-stopping and schedule decisions come from reduced metrics).
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "kernels/dtype.h"

namespace glia {

class Communicator {
 public:
  // An all-reduce in flight; wait() returns when the sum is in the buffer (or throws).
  class Request {
   public:
    virtual ~Request() = default;
    virtual void wait() = 0;
    // Moves the exchange on without blocking, where the library needs to be called to
    // progress (MPI's non-blocking collectives mostly advance inside MPI calls). The
    // gradient sync calls it while the backward runs; a no-op where progress is automatic.
    virtual void progress() {}
  };

  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;  // "single", "mpi", "nccl"
  // Whether buffers are device (cuda) memory (NCCL) rather than host memory.
  virtual bool device_buffers() const { return false; }
  // Whether the sum's order is fixed (same bits every run); NCCL's is its own.
  virtual bool ordered_sum() const { return true; }

  // Starts summing `count` values of `dtype` (f32 or f64) at `data` over every rank, in
  // place. The buffer must stay untouched until wait() returns.
  virtual std::unique_ptr<Request> start_all_reduce_sum(void* data, size_t count, DType dtype) = 0;
  virtual void broadcast(void* data, size_t bytes, int root) = 0;
  virtual void barrier() = 0;
  // Ends every rank of the job now (MPI_Abort), after this rank's error was printed.
  [[noreturn]] virtual void abort(int exit_code) = 0;

  void all_reduce_sum(void* data, size_t count, DType dtype) { start_all_reduce_sum(data, count, dtype)->wait(); }
  void all_reduce_sum(std::vector<double>& values) { all_reduce_sum(values.data(), values.size(), DType::f64); }
  double all_reduce_sum(double value) {
    all_reduce_sum(&value, 1, DType::f64);
    return value;
  }
  template <class T>
  void broadcast_value(T& value, int root = 0) {
    broadcast(&value, sizeof(T), root);
  }
  bool distributed() const { return size() > 1; }
};

// One process: every collective is the identity.
class SingleProcessCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "single"; }
  std::unique_ptr<Request> start_all_reduce_sum(void* data, size_t count, DType dtype) override;
  void broadcast(void*, size_t, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(int exit_code) override;
};

// The samples of a global batch of n that rank r of `world` takes: positions
// [begin, end) with begin = floor(r*n/world), end = floor((r+1)*n/world). Shards differ
// by at most one sample, the larger ones on the higher ranks, and a rank gets none only
// when n < world (the trainer refuses that for training batches).
struct ShardRange {
  size_t begin = 0, end = 0;
  size_t size() const { return end - begin; }
};
ShardRange shard_range(size_t n, int rank, int world);

}  // namespace glia
