// Synchronised batch norm's hook into data parallelism: a CrossReplicaReducer sums small
// per-channel vectors over all replicas (processes of a data-parallel job). While one is
// installed on a thread (SyncBatchNormScope), batch_norm in training mode computes its
// statistics over the union of every replica's batch, as PyTorch's SyncBatchNorm does, so
// N replicas with B/N samples each train like one process with B:
//   forward  two sums over replicas: [count, sum x] per channel gives the global mean;
//            then each replica's squared deviations from that mean (from its local mean
//            and variance, no second pass over x) give the global variance. Two small
//            collectives instead of one of sum and sum of squares, whose difference
//            cancels when |mean| >> std. Running statistics are updated from the global
//            mean and the unbiased global variance (global count).
//   backward one sum over replicas of [sum dy, sum dy * xhat] per channel (the terms of
//            the input gradient); the weight and bias gradients stay local, for the
//            data-parallel gradient all-reduce to sum like every other parameter's.
// Eval mode and threads without a reducer run the ordinary per-replica batch norm.
//
// The communicator (train/) implements the reducer; this floor knows only the interface,
// so a single process needs no communication library.
#pragma once
#include <memory>

#include "tensor/tensor.h"

namespace glia {

class CrossReplicaReducer {
 public:
  virtual ~CrossReplicaReducer() = default;
  // Replaces every element of `values` by its sum over all replicas, in place. `values` is
  // contiguous float64 on the device of the batch-norm input (host memory on cpu and sim,
  // device memory on cuda). Every replica makes the same calls in the same order with the
  // same number of elements (batch norm guarantees this when every replica runs the same
  // network, also on a replica whose share of the batch is empty). A deterministic
  // implementation (fixed rank order) keeps runs bit-for-bit repeatable.
  virtual void sum_in_place(const Tensor& values) = 0;
  // Number of replicas taking part (for messages; batch norm takes counts from the sums).
  virtual int world_size() const = 0;
};

// The reducer installed on this thread, or null (ordinary batch norm).
std::shared_ptr<CrossReplicaReducer> batch_norm_reducer();

// Installs `reducer` for batch norm on this thread while the scope lives (null: none),
// then restores the previous one. A training forward captures the reducer it ran with, so
// its backward synchronises too, wherever the scope has ended by then.
class SyncBatchNormScope {
 public:
  explicit SyncBatchNormScope(std::shared_ptr<CrossReplicaReducer> reducer);
  ~SyncBatchNormScope();
  SyncBatchNormScope(const SyncBatchNormScope&) = delete;
  SyncBatchNormScope& operator=(const SyncBatchNormScope&) = delete;

 private:
  std::shared_ptr<CrossReplicaReducer> previous_;
};

}  // namespace glia
