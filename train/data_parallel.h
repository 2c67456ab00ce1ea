// The pieces of data-parallel training above the communicator (train/communicator.h):
// summing gradients over ranks in buckets, copying weights and buffers from rank 0, and
// a BatchSource that hands a rank its shard of every global batch.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "layers/module.h"
#include "tensor/cross_replica.h"
#include "tensor/tensor.h"
#include "train/batch_source.h"
#include "train/communicator.h"

namespace glia {

// Sums the gradients of `params` over every rank, in place. Gradients are flattened into
// buckets of about `bucket_bytes` (one dtype per bucket; parameters without a gradient
// are left out, which every rank agrees on since all run the same graph). Bucket k+1 is
// packed while bucket k is on the wire; the sums are unpacked in order. This runs after
// the backward: it does not overlap the backward itself (glia's autograd has no
// per-parameter ready hook).
struct GradientSyncStats {
  size_t values = 0, buckets = 0;
  double seconds = 0;  // wall time of the whole exchange, packing included
};
GradientSyncStats all_reduce_gradients(Communicator& comm, const nn::NamedTensors& params,
                                       size_t bucket_bytes = size_t{4} << 20);

// Copies `tensors` of rank `root` into every other rank's (same names, shapes, dtypes).
void broadcast_tensors(Communicator& comm, const nn::NamedTensors& tensors, int root = 0);

// Synchronised batch norm's reducer (tensor/cross_replica.h) over `comm`: install it with
// SyncBatchNormScope around forward and backward, and every training batch norm uses the
// statistics of the global batch. The sums are the communicator's (in rank order on MPI).
std::shared_ptr<CrossReplicaReducer> batch_norm_reducer_over(Communicator& comm);

// The rows [range.begin, range.end) of a batch, with global_n = the whole batch's n.
io::Batch batch_shard(const io::Batch& batch, ShardRange range);

// A rank's shard (shard_range) of every batch of `source`: every rank reads the whole
// batch and keeps its share, so it suits small sources (tests); io's Loader shards
// without building the other ranks' samples (io::LoaderOptions::shard_rank).
class ShardedBatchSource : public BatchSource {
 public:
  ShardedBatchSource(BatchSource& source, int rank, int world) : source_(source), rank_(rank), world_(world) {}
  void start_epoch(uint64_t epoch) override { source_.start_epoch(epoch); }
  bool next(io::Batch& batch) override;
  size_t batches_per_epoch() const override { return source_.batches_per_epoch(); }
  size_t samples() const override { return source_.samples(); }
  std::string order_key() const override { return source_.order_key(); }

 private:
  BatchSource& source_;
  int rank_, world_;
  io::Batch whole_;
};

}  // namespace glia
