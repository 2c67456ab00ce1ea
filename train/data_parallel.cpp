#include "train/data_parallel.h"

#include <chrono>
#include <cstring>

#include "kernels/error.h"
#include "tensor/autograd.h"

namespace glia {

GradientBucketSync::GradientBucketSync(Communicator& comm, const nn::NamedTensors& params, size_t bucket_bytes)
    : comm_(comm) {
  if (!comm.distributed()) return;  // one process: nothing to sum, every call a no-op
  // Reverse registration order: the last layers' gradients are complete first.
  size_t bucket_size = 0;
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    const auto& [name, param] = *it;
    if (!param.requires_grad()) continue;
    GLIA_CHECK(param.dtype() == DType::f32 || param.dtype() == DType::f64,
               "data-parallel: parameter '" << name << "' is " << dtype_name(param.dtype())
                                            << "; only f32 and f64 gradients are summed across ranks");
    const size_t bytes = static_cast<size_t>(param.numel()) * param.itemsize();
    const bool fits = !buckets_.empty() && bucket_size + bytes <= bucket_bytes;
    const Tensor* first = buckets_.empty() ? nullptr : &slots_[buckets_.back().slots.front()].param;
    if (!fits || first->dtype() != param.dtype() || first->device() != param.device()) {
      buckets_.emplace_back();
      bucket_size = 0;
    }
    Bucket& bucket = buckets_.back();
    const Slot* previous = bucket.slots.empty() ? nullptr : &slots_[bucket.slots.back()];
    const size_t offset = previous ? previous->offset + static_cast<size_t>(previous->param.numel()) : 0;
    Slot slot{name, param, buckets_.size() - 1, offset, false};
    bucket.slots.push_back(slots_.size());
    ++bucket.pending;
    slot_of_[param.impl()] = slots_.size();
    slots_.push_back(std::move(slot));
    bucket_size += bytes;
  }
  for (Bucket& bucket : buckets_) {
    const Slot& last = slots_[bucket.slots.back()];
    const auto count = static_cast<int64_t>(last.offset) + last.param.numel();
    const Device where = comm_.device_buffers() ? last.param.device() : Device::cpu;
    bucket.flat = empty({count}, last.param.dtype(), where);
    stats_.values += static_cast<size_t>(count);
  }
  stats_.buckets = buckets_.size();
}

GradientBucketSync::~GradientBucketSync() {
  if (finished_) return;
  // Unwinding with all-reduces in flight (the job is failing): the library may still
  // write into the buckets, so they are kept until the process ends rather than freed.
  // (Never destroyed: a request's destructor may use the communicator, gone at exit.)
  static auto* abandoned = new std::vector<Bucket>;
  for (Bucket& bucket : buckets_)
    if (bucket.request) abandoned->push_back(std::move(bucket));
}

void GradientBucketSync::copy_in(Slot& slot) {
  NoGradGuard no_grad;
  Bucket& bucket = buckets_[slot.bucket];
  Tensor region = bucket.flat.narrow(0, static_cast<int64_t>(slot.offset), slot.param.numel()).view(slot.param.sizes());
  const Tensor g = slot.param.grad();
  if (g.defined()) {
    GLIA_CHECK(g.dtype() == slot.param.dtype(), "data-parallel: the gradient of '" << slot.name << "' is "
                                                                                   << dtype_name(g.dtype()) << ", the parameter "
                                                                                   << dtype_name(slot.param.dtype()));
    region.copy_(g);
  } else {
    region.zero_();
  }
  slot.arrived = true;
  --bucket.pending;
}

void GradientBucketSync::start_ready_buckets() {
  while (next_to_start_ < buckets_.size() && buckets_[next_to_start_].pending == 0) {
    Bucket& bucket = buckets_[next_to_start_++];
    bucket.request = comm_.start_all_reduce_sum(bucket.flat.data_ptr(), static_cast<size_t>(bucket.flat.numel()),
                                                bucket.flat.dtype());
  }
}

void GradientBucketSync::leaf_grad_ready(const Tensor& leaf) {
  const auto found = slot_of_.find(leaf.impl());
  if (found == slot_of_.end()) return;  // a leaf that is not a trainable parameter
  Slot& slot = slots_[found->second];
  GLIA_CHECK(!slot.arrived && !finished_, "data-parallel: the gradient of '" << slot.name
                                                                             << "' completed twice in one step (two backwards "
                                                                                "with one gradient sync installed)");
  copy_in(slot);
  const size_t before = next_to_start_;
  start_ready_buckets();
  stats_.started_in_backward += next_to_start_ - before;
  for (size_t b = 0; b < next_to_start_; ++b) buckets_[b].request->progress();
}

GradientSyncStats GradientBucketSync::finish() {
  GLIA_CHECK(!finished_, "data-parallel: a gradient sync finished twice");
  const auto start = std::chrono::steady_clock::now();
  for (Slot& slot : slots_)  // in bucket order: each bucket is on the wire while the next is packed
    if (!slot.arrived) {
      copy_in(slot);
      start_ready_buckets();
    }
  NoGradGuard no_grad;
  for (Bucket& bucket : buckets_) {
    bucket.request->wait();
    for (size_t i : bucket.slots) {
      const Slot& slot = slots_[i];
      const Tensor g = slot.param.grad();
      if (g.defined())
        g.copy_(bucket.flat.narrow(0, static_cast<int64_t>(slot.offset), g.numel()).view(g.sizes()));
    }
  }
  finished_ = true;
  stats_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats_;
}

GradientSyncStats all_reduce_gradients(Communicator& comm, const nn::NamedTensors& params, size_t bucket_bytes) {
  if (!comm.distributed()) return {};
  const auto start = std::chrono::steady_clock::now();
  GradientBucketSync sync(comm, params, bucket_bytes);
  GradientSyncStats stats = sync.finish();  // every gradient is complete already
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

void broadcast_tensors(Communicator& comm, const nn::NamedTensors& tensors, int root) {
  if (!comm.distributed()) return;
  NoGradGuard no_grad;
  for (const auto& [name, t] : tensors) {
    // Through a contiguous buffer where the backend can read it (host, or the device for NCCL).
    const Device where = comm.device_buffers() ? t.device() : Device::cpu;
    Tensor buffer = t.to(where).contiguous();
    if (buffer.storage() == t.storage()) buffer = buffer.clone();
    comm.broadcast(buffer.data_ptr(), static_cast<size_t>(buffer.numel()) * buffer.itemsize(), root);
    t.copy_(buffer);
  }
}

namespace {

class CommunicatorReducer : public CrossReplicaReducer {
 public:
  explicit CommunicatorReducer(Communicator& comm) : comm_(comm) {}
  void sum_in_place(const Tensor& values) override {
    GLIA_CHECK(values.dtype() == DType::f64 && values.is_contiguous(),
               "synchronised batch norm: sums of f64 contiguous values, got " << dtype_name(values.dtype()));
    const bool where_it_is = comm_.device_buffers() ? values.device() == Device::cuda : host_addressable(values.device());
    if (where_it_is) {
      comm_.all_reduce_sum(values.data_ptr(), static_cast<size_t>(values.numel()), DType::f64);
      return;
    }
    // MPI and device memory: through the host (a handful of values per channel).
    Tensor staged = values.to(comm_.device_buffers() ? Device::cuda : Device::cpu).contiguous().clone();
    comm_.all_reduce_sum(staged.data_ptr(), static_cast<size_t>(staged.numel()), DType::f64);
    values.copy_(staged);
  }
  int world_size() const override { return comm_.size(); }

 private:
  Communicator& comm_;
};

}  // namespace

std::shared_ptr<CrossReplicaReducer> batch_norm_reducer_over(Communicator& comm) {
  return std::make_shared<CommunicatorReducer>(comm);
}

io::Batch batch_shard(const io::Batch& batch, ShardRange range) {
  GLIA_CHECK(range.end <= static_cast<size_t>(batch.n) && range.begin <= range.end,
             "batch_shard: samples [" << range.begin << ", " << range.end << ") of a batch of " << batch.n);
  io::Batch out;
  out.n = static_cast<int>(range.size());
  out.c = batch.c;
  out.h = batch.h;
  out.w = batch.w;
  out.epoch = batch.epoch;
  out.number = batch.number;
  out.global_n = batch.n;
  const size_t image = static_cast<size_t>(batch.c) * batch.h * batch.w, mask = static_cast<size_t>(batch.h) * batch.w;
  auto rows = [&](const auto& v, size_t per) {
    using V = std::decay_t<decltype(v)>;
    if (v.empty()) return V();
    return V(v.begin() + static_cast<std::ptrdiff_t>(range.begin * per),
             v.begin() + static_cast<std::ptrdiff_t>(range.end * per));
  };
  out.images = rows(batch.images, image);
  out.labels = rows(batch.labels, 1);
  out.masks = rows(batch.masks, mask);
  out.paths = rows(batch.paths, 1);
  out.indices = rows(batch.indices, 1);
  return out;
}

bool ShardedBatchSource::next(io::Batch& batch) {
  if (!source_.next(whole_)) return false;
  batch = batch_shard(whole_, shard_range(static_cast<size_t>(whole_.n), rank_, world_));
  return true;
}

}  // namespace glia
