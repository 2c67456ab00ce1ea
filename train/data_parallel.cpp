#include "train/data_parallel.h"

#include <chrono>
#include <cstring>

#include "kernels/error.h"
#include "tensor/autograd.h"

namespace glia {

namespace {

struct Bucket {
  Tensor flat;
  std::vector<std::pair<Tensor, size_t>> grads;  // gradient, offset in flat
  std::unique_ptr<Communicator::Request> request;
};

}  // namespace

GradientSyncStats all_reduce_gradients(Communicator& comm, const nn::NamedTensors& params, size_t bucket_bytes) {
  GradientSyncStats stats;
  if (!comm.distributed()) return stats;
  const auto start = std::chrono::steady_clock::now();
  NoGradGuard no_grad;
  // Buckets in parameter order, a new one when the dtype or device changes or it is full.
  std::vector<std::vector<Tensor>> groups;
  size_t group_bytes = 0;
  for (const auto& [name, param] : params) {
    const Tensor g = param.grad();
    if (!g.defined()) continue;
    GLIA_CHECK(g.dtype() == DType::f32 || g.dtype() == DType::f64,
               "data-parallel: the gradient of '" << name << "' is " << dtype_name(g.dtype())
                                                  << "; only f32 and f64 gradients are summed across ranks");
    const size_t bytes = static_cast<size_t>(g.numel()) * g.itemsize();
    if (groups.empty() || groups.back().front().dtype() != g.dtype() ||
        groups.back().front().device() != g.device() || group_bytes + bytes > bucket_bytes) {
      groups.emplace_back();
      group_bytes = 0;
    }
    groups.back().push_back(g);
    group_bytes += bytes;
  }
  std::vector<Bucket> buckets(groups.size());
  for (size_t b = 0; b < groups.size(); ++b) {
    Bucket& bucket = buckets[b];
    size_t count = 0;
    for (const Tensor& g : groups[b]) {
      bucket.grads.emplace_back(g, count);
      count += static_cast<size_t>(g.numel());
    }
    const Device where = comm.device_buffers() ? groups[b].front().device() : Device::cpu;
    bucket.flat = empty({static_cast<int64_t>(count)}, groups[b].front().dtype(), where);
    for (const auto& [g, offset] : bucket.grads)
      bucket.flat.narrow(0, static_cast<int64_t>(offset), g.numel()).view(g.sizes()).copy_(g);
    // Started as soon as packed: on the wire while the next bucket is packed.
    bucket.request = comm.start_all_reduce_sum(bucket.flat.data_ptr(), count, bucket.flat.dtype());
    stats.values += count;
  }
  for (Bucket& bucket : buckets) {
    bucket.request->wait();
    for (const auto& [g, offset] : bucket.grads)
      g.copy_(bucket.flat.narrow(0, static_cast<int64_t>(offset), g.numel()).view(g.sizes()));
  }
  stats.buckets = buckets.size();
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
