// The single-process side of data parallelism (train/communicator.h, train/data_parallel.h):
// the shard rule, batch slicing, the one-process communicator, and the gradient buckets'
// overlap with the backward (against a fake two-rank communicator). The 2-rank behaviour
// is tested under mpirun (tests/mpi, label mpi).
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <numeric>

#include "kernels/error.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "train/data_parallel.h"

namespace glia {
namespace {

TEST(ShardRange, CoversTheBatchOnceWithSharesDifferingByAtMostOne) {
  for (size_t n : {0u, 1u, 5u, 7u, 32u, 33u})
    for (int world : {1, 2, 3, 4, 8}) {
      size_t next = 0, smallest = n, largest = 0;
      for (int r = 0; r < world; ++r) {
        const ShardRange s = shard_range(n, r, world);
        EXPECT_EQ(s.begin, next) << n << " over " << world;
        next = s.end;
        smallest = std::min(smallest, s.size());
        largest = std::max(largest, s.size());
      }
      EXPECT_EQ(next, n);
      EXPECT_LE(largest - smallest, 1u) << n << " over " << world;
    }
  EXPECT_EQ(shard_range(5, 0, 2).size(), 2u);  // the larger share on the higher rank
  EXPECT_EQ(shard_range(5, 1, 2).size(), 3u);
  EXPECT_THROW(shard_range(4, 2, 2), Error);
}

TEST(BatchShard, KeepsTheRowsOfEveryField) {
  io::Batch b;
  b.n = 3, b.c = 2, b.h = 1, b.w = 2;
  b.images.resize(3 * 4);
  std::iota(b.images.begin(), b.images.end(), 0.0f);
  b.masks = {0, 1, 1, 0, 1, 1};
  b.labels = {7, 8, 9};
  b.paths = {"a", "b", "c"};
  b.indices = {10, 11, 12};
  const io::Batch s = batch_shard(b, {1, 3});
  EXPECT_EQ(s.n, 2);
  EXPECT_EQ(s.global_n, 3);
  EXPECT_EQ(s.images, std::vector<float>(b.images.begin() + 4, b.images.end()));
  EXPECT_EQ(s.masks, (std::vector<float>{1, 0, 1, 1}));
  EXPECT_EQ(s.labels, (std::vector<int64_t>{8, 9}));
  EXPECT_EQ(s.paths, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(s.indices, (std::vector<size_t>{11, 12}));
  EXPECT_THROW(batch_shard(b, {2, 4}), Error);
}

TEST(SingleProcessCommunicator, CollectivesLeaveTheDataAsItIs) {
  SingleProcessCommunicator one;
  EXPECT_FALSE(one.distributed());
  std::vector<double> v{1.5, -2};
  one.all_reduce_sum(v);
  EXPECT_EQ(v, (std::vector<double>{1.5, -2}));
  EXPECT_THROW(one.all_reduce_sum(v.data(), 1, DType::i64), Error);
}

// Two ranks in one process: the other rank's gradients are all ones, so a sum is x + 1.
// Each start calls `on_start` with the bucket's length, to look at the backward's state.
class FakeTwoRanks : public Communicator {
 public:
  std::function<void(size_t count)> on_start;
  int rank() const override { return 0; }
  int size() const override { return 2; }
  std::string backend() const override { return "fake"; }
  std::unique_ptr<Request> start_all_reduce_sum(void* data, size_t count, DType dtype) override {
    EXPECT_EQ(dtype, DType::f64);
    if (on_start) on_start(count);
    struct PlusOne : Request {
      double* data;
      size_t count;
      void wait() override {
        for (size_t i = 0; i < count; ++i) data[i] += 1;
      }
    };
    auto request = std::make_unique<PlusOne>();
    request->data = static_cast<double*>(data);
    request->count = count;
    return request;
  }
  void broadcast(void*, size_t, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(int) override { std::abort(); }
};

// Three layers x -> relu(x w1) -> relu(. w2) -> . w3, registered in that order, with
// distinct sizes so a bucket's length names its parameter; `unused` gets no gradient.
struct ThreeLayers {
  Generator gen{5};
  Tensor w1 = randn({4, 3}, DType::f64, Device::cpu, &gen).requires_grad_(true);
  Tensor w2 = randn({3, 5}, DType::f64, Device::cpu, &gen).requires_grad_(true);
  Tensor w3 = randn({5, 2}, DType::f64, Device::cpu, &gen).requires_grad_(true);
  Tensor unused = randn({7}, DType::f64, Device::cpu, &gen).requires_grad_(true);
  Tensor frozen = randn({6}, DType::f64, Device::cpu, &gen);
  nn::NamedTensors params() const { return {{"w1", w1}, {"frozen", frozen}, {"w2", w2}, {"w3", w3}, {"unused", unused}}; }
  Tensor loss() {
    const Tensor x = randn({6, 4}, DType::f64, Device::cpu, &gen);
    return sum(matmul(relu(matmul(relu(matmul(x, w1)), w2)), w3));
  }
};

TEST(GradientBucketSync, StartsTheLastLayersBucketsWhileTheBackwardRuns) {
  ThreeLayers net;
  FakeTwoRanks two;
  std::vector<size_t> started;
  std::vector<bool> first_layer_done;
  two.on_start = [&](size_t count) {
    started.push_back(count);
    first_layer_done.push_back(net.w1.grad().defined());
  };
  GradientBucketSync sync(two, net.params(), /*bucket_bytes=*/1);  // one parameter per bucket
  const Tensor loss = net.loss();
  {
    const GradReadyScope overlap(&sync);
    loss.backward();
  }
  // Buckets in reverse registration order: unused (7), w3 (10), w2 (15), w1 (12). w3's
  // waits for `unused`, which never completes, so nothing starts in the backward...
  EXPECT_TRUE(started.empty());
  const GradientSyncStats stats = sync.finish();
  EXPECT_EQ(started, (std::vector<size_t>{7, 10, 15, 12}));
  EXPECT_EQ(stats.started_in_backward, 0u);
  EXPECT_EQ(stats.buckets, 4u);
  EXPECT_EQ(stats.values, 44u);

  // ...while with `unused` registered first (its bucket last), w3's starts first, before
  // the backward has reached the first layer.
  ThreeLayers again;
  started.clear();
  first_layer_done.clear();
  two.on_start = [&](size_t count) {
    started.push_back(count);
    first_layer_done.push_back(again.w1.grad().defined());
  };
  nn::NamedTensors params = again.params();
  std::rotate(params.rbegin(), params.rbegin() + 1, params.rend());  // "unused" first
  GradientBucketSync overlapped(two, params, 1);
  const Tensor loss2 = again.loss();
  {
    const GradReadyScope overlap(&overlapped);
    loss2.backward();
  }
  EXPECT_EQ(started, (std::vector<size_t>{10, 15, 12}));
  EXPECT_EQ(first_layer_done, (std::vector<bool>{false, false, true}));
  EXPECT_EQ(overlapped.finish().started_in_backward, 3u);
  EXPECT_EQ(started.back(), 7u);
}

TEST(GradientBucketSync, WritesTheSumsBackAndLeavesMissingGradientsMissing) {
  ThreeLayers plain, overlapped, after;  // same seed: same weights and inputs
  FakeTwoRanks two;
  plain.loss().backward();
  GradientBucketSync sync(two, overlapped.params(), 64);  // several parameters per bucket
  const Tensor loss = overlapped.loss();
  {
    const GradReadyScope scope(&sync);
    loss.backward();
  }
  sync.finish();
  after.loss().backward();
  all_reduce_gradients(two, after.params(), 64);  // the same sum after a plain backward
  for (Tensor ThreeLayers::*w : {&ThreeLayers::w1, &ThreeLayers::w2, &ThreeLayers::w3}) {
    const std::vector<double> g = (plain.*w).grad().to_vector<double>();
    const std::vector<double> sum_overlapped = (overlapped.*w).grad().to_vector<double>();
    ASSERT_EQ(sum_overlapped.size(), g.size());
    for (size_t i = 0; i < g.size(); ++i) EXPECT_EQ(sum_overlapped[i], g[i] + 1) << i;
    EXPECT_EQ((after.*w).grad().to_vector<double>(), sum_overlapped);
  }
  EXPECT_FALSE(overlapped.unused.grad().defined());
  EXPECT_FALSE(overlapped.frozen.grad().defined());
}

TEST(GradientBucketSync, RefusesAGradientThatCompletesTwiceInOneStep) {
  ThreeLayers net;
  FakeTwoRanks two;
  GradientBucketSync sync(two, net.params());
  const GradReadyScope scope(&sync);
  net.loss().backward();
  try {
    net.loss().backward();
    FAIL() << "a second backward into the same sync was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("completed twice"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace glia
