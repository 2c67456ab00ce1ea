// One training step on 2 ranks, each with half of a global batch, against one process
// on the whole batch, in float64: the weights after the step agree to 1e-12. Both sides
// run in each rank's process (the single-process step with SingleProcessCommunicator).
//
// Batch norm trains, synchronised (--sync-bn: tensor/cross_replica.h over the MPI
// communicator), so its statistics, and the running statistics compared below, are the
// global batch's; dropout and stochastic depth are off (their masks are drawn per rank).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>

#include "apps/data_parallel_run.h"
#include "nets/efficientnet.h"
#include "nets/unet.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "train/classification_trainer.h"
#include "train/data_parallel.h"
#include "train/optimizer.h"
#include "train/segmentation_trainer.h"

namespace glia {
namespace {

Communicator& world() { return app::run_communicator(); }

// A global batch of n images (the same on every rank: same seed).
io::Batch global_batch(int n, int c, int size, bool masks, uint64_t seed) {
  Generator gen(seed);
  io::Batch b;
  b.n = n, b.c = c, b.h = b.w = size;
  b.images = rand({n, c, size, size}, DType::f32, Device::cpu, &gen).to_vector<float>();
  for (int i = 0; i < n; ++i) b.labels.push_back(masks ? -1 : i % 4);
  if (masks) {
    const std::vector<float> u = rand({n, 1, size, size}, DType::f32, Device::cpu, &gen).to_vector<float>();
    for (float v : u) b.masks.push_back(v > 0.7f ? 1.0f : 0.0f);
  }
  return b;
}

// One SGD step of `model` on `batch` (a whole batch, or this rank's shard of one). Not
// Adam: its first step is lr * g / (|g| + eps), which turns the rounding noise of
// gradients that are zero in exact arithmetic (a batch norm's bias followed by a 1x1
// conv and another training batch norm, which removes any constant shift) into updates
// of up to lr * 1e-6; SGD passes the gradients' agreement on to the weights as it is.
void step(nn::Module& model, TrainTask& task, const io::Batch& batch, Communicator& comm, double lr) {
  model.train(true);
  SGD::Options so;
  so.lr = lr;
  NamedTensors trainable;
  for (auto& [name, p] : model.named_parameters())
    if (p.requires_grad()) trainable.emplace_back(name, p);
  SGD sgd(trainable, so);
  sgd.zero_grad();
  std::optional<SyncBatchNormScope> sync_bn;
  if (comm.distributed()) sync_bn.emplace(batch_norm_reducer_over(comm));
  const Tensor x = from_vector(batch.images, {batch.n, batch.c, batch.h, batch.w}).to(DType::f64);
  const Tensor out = model(x);
  const Tensor loss = comm.distributed() ? task.shard_loss(out, batch, Device::cpu, comm) : task.loss(out, batch, Device::cpu);
  // As the trainer does: the sum starts during the backward; small buckets, several in flight.
  GradientBucketSync gradient_sync(comm, sgd.params(), 64 << 10);
  {
    const GradReadyScope overlap(&gradient_sync);
    loss.backward();
  }
  const GradientSyncStats sync = gradient_sync.finish();
  if (comm.distributed()) {
    EXPECT_GT(sync.started_in_backward, 0u) << "no bucket started before the backward ended";
  }
  sgd.step();
}

double max_difference(const nn::Module& a, const nn::Module& b) {
  const auto sa = a.state_dict(), sb = b.state_dict();
  double worst = 0;
  for (size_t i = 0; i < sa.size(); ++i) {
    const auto va = sa[i].second.to_vector<double>(), vb = sb[i].second.to_vector<double>();
    for (size_t j = 0; j < va.size(); ++j) worst = std::max(worst, std::abs(va[j] - vb[j]));
  }
  return worst;
}

double max_change(const nn::Module& before, const nn::Module& after) { return max_difference(before, after); }

// The weights after the step agree to 1e-12, or 1e-12 of the largest change where a step
// moves a weight by more than 1 (rounding scales with the values).
void expect_same_step(const std::function<std::shared_ptr<nn::Module>()>& make, TrainTask& task,
                      const io::Batch& batch, double lr) {
  Communicator& comm = world();
  ASSERT_EQ(comm.size(), 2) << "run under mpirun -np 2";
  auto initial = make(), whole = make(), shard = make();
  SingleProcessCommunicator single;
  step(*whole, task, batch, single, lr);
  step(*shard, task, batch_shard(batch, shard_range(static_cast<size_t>(batch.n), comm.rank(), comm.size())), comm, lr);
  const double change = max_change(*initial, *whole);
  const double difference = max_difference(*whole, *shard);
  if (comm.rank() == 0) std::cout << "largest weight change " << change << ", largest difference " << difference << std::endl;
  EXPECT_GT(change, 1e-4) << "the step changed nothing: the test would prove nothing";
  EXPECT_LE(difference, 1e-12 * std::max(1.0, change)) << "rank " << comm.rank();
}

TEST(TwoRanks, OneStepOfB0EqualsOneProcessOnTheWholeBatch) {
  auto make = [] {
    nets::EfficientNetConfig c = nets::efficientnet_config("b0", 4);
    c.dropout = 0;
    c.stochastic_depth_prob = 0;
    static Generator gen;  // the model keeps it (dropout): it must outlive the model
    gen.manual_seed(11);
    auto m = std::make_shared<nets::EfficientNet>(c, &gen);
    m->to(DType::f64);
    return std::static_pointer_cast<nn::Module>(m);
  };
  ClassificationTask task(4);
  // 5 images: uneven shards, 2 and 3. B0's last stages are 1x1 at 32 px, where batch norm
  // over 5 values gives large gradients: a small rate keeps the step's changes near 1.
  expect_same_step(make, task, global_batch(5, 3, 32, false, 3), 1e-3);
}

TEST(TwoRanks, OneStepOfTheUNetEqualsOneProcessOnTheWholeBatch) {
  auto make = [] {
    nets::UNetConfig c;
    c.width = 4;
    c.depth = 2;
    static Generator gen;  // as above
    gen.manual_seed(12);
    auto m = std::make_shared<nets::UNet>(c, &gen);
    m->to(DType::f64);
    return std::static_pointer_cast<nn::Module>(m);
  };
  SegmentationTask task;  // BCE + batch Dice: the Dice share needs the global sums
  expect_same_step(make, task, global_batch(4, 3, 16, true, 4), 0.1);
}

TEST(TwoRanks, OrderedAllReduceGivesEveryRankTheSameBitsAsTheRankOrderSum) {
  Communicator& comm = world();
  // Values whose sum depends on the order in float: only the rank-order sum is right.
  std::vector<float> mine(1001), expected(1001);
  for (size_t i = 0; i < mine.size(); ++i) {
    const float r0 = 1e8f + static_cast<float>(i), r1 = 3.3f * static_cast<float>(i) - 1e8f;
    mine[i] = comm.rank() == 0 ? r0 : r1;
    expected[i] = r0 + r1;
  }
  comm.all_reduce_sum(mine.data(), mine.size(), DType::f32);
  for (size_t i = 0; i < mine.size(); ++i) ASSERT_EQ(mine[i], expected[i]) << i;
  std::vector<double> counts{static_cast<double>(comm.rank() + 1)};
  comm.all_reduce_sum(counts);
  EXPECT_EQ(counts[0], 3.0);
}

}  // namespace
}  // namespace glia
