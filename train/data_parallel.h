// The pieces of data-parallel training above the communicator (train/communicator.h):
// summing gradients over ranks in buckets, copying weights and buffers from rank 0, and
// a BatchSource that hands a rank its shard of every global batch.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "layers/module.h"
#include "tensor/cross_replica.h"
#include "tensor/grad_ready.h"
#include "tensor/tensor.h"
#include "train/batch_source.h"
#include "train/communicator.h"

namespace glia {

struct GradientSyncStats {
  size_t values = 0, buckets = 0;
  size_t started_in_backward = 0;  // buckets whose all-reduce began before the backward ended
  double seconds = 0;              // wall time of finish(): the exchange the backward did not hide
};

// Sums gradients over every rank while the backward runs (PyTorch DDP's reducer, in
// brief). The trainable parameters (requires_grad) are laid out once in buckets of about
// `bucket_bytes`, one dtype and device per bucket, in reverse registration order: roughly
// the order the backward completes their gradients. Installed with GradReadyScope
// (tensor/grad_ready.h) around the backward, it copies each gradient into its bucket as
// soon as it is final, and starts a bucket's all-reduce when the bucket is full and every
// earlier bucket has started, so all ranks start them in one order. finish() starts what
// is left, waits, and writes the sums back into .grad.
//
// A parameter that got no gradient in this backward (on every rank: all run the same
// graph) adds zeros to its bucket and keeps no .grad. Sums are the communicator's (in rank
// order on MPI), so the result's bits do not depend on bucketing or timing. On a
// communicator of one process it does nothing.
class GradientBucketSync : public GradReadyObserver {
 public:
  GradientBucketSync(Communicator& comm, const nn::NamedTensors& params, size_t bucket_bytes = size_t{4} << 20);
  ~GradientBucketSync() override;
  GradientBucketSync(const GradientBucketSync&) = delete;
  GradientBucketSync& operator=(const GradientBucketSync&) = delete;

  void leaf_grad_ready(const Tensor& leaf) override;
  GradientSyncStats finish();

 private:
  struct Slot {
    std::string name;
    Tensor param;
    size_t bucket = 0, offset = 0;
    bool arrived = false;
  };
  struct Bucket {
    Tensor flat;
    size_t pending = 0;  // slots still to arrive
    std::vector<size_t> slots;
    std::unique_ptr<Communicator::Request> request;
  };
  void copy_in(Slot& slot);
  void start_ready_buckets();

  Communicator& comm_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::unordered_map<const TensorImpl*, size_t> slot_of_;
  size_t next_to_start_ = 0;
  GradientSyncStats stats_;
  bool finished_ = false;
};

// The same after a backward that ran without the sync installed: every gradient is
// handed over at once (tests, benchmarks, and the comparison without overlap).
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
