// One training epoch through the Trainer on the emulator (device sim: the hand-written
// CUDA kernels) against the same epoch on cpu: a U-Net of width 4 and depth 2 from the
// same initial weights, Adam, BCE + Dice, three batches of four 32x32 phantom slices and
// a validation batch. Every batch's running loss, the epoch's history row and every
// parameter and batch-norm statistic afterwards must agree within the tolerances below.
//
// Both run in float32 and sum in different orders (cuBLAS-style tiles vs OpenBLAS, block
// reductions vs OpenMP), so they differ by round-off, ~1e-7 per op. Measured: losses
// equal to the last float32 bit, running statistics 2e-7 of each tensor's largest, the
// parameters' changes 2.5e-5 of each tensor's largest change (Adam divides each element by its own
// gradient size, so small gradients carry their round-off into the step at full size).
// The tolerances leave 20-50x; a wrong kernel moves these by 1e-2 or more.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>

#include "io/phantom.h"
#include "nets/unet.h"
#include "tensor/random.h"
#include "train/segmentation_trainer.h"
#include "train/trainer.h"

namespace glia {
namespace {

constexpr double kLossRtol = 5e-6;       // batch losses, validation loss
constexpr double kStatisticsRtol = 1e-5; // running mean / variance, of the tensor's largest
constexpr double kChangeRtol = 5e-4;     // parameter change over the epoch, of the largest change
constexpr double kDiceAtol = 1e-3;       // validation Dice of thresholded masks (a pixel may flip)

// Batches of `n` phantom slices (the tumour classes and an empty one in turn), 1 channel.
std::vector<io::Batch> phantom_batches(int batches, int n, int size, uint64_t seed) {
  std::vector<io::Batch> out;
  for (int b = 0; b < batches; ++b) {
    io::Batch t;
    t.n = n, t.c = 1, t.h = size, t.w = size;
    for (int i = 0; i < n; ++i) {
      io::PhantomSpec spec;
      spec.label = (b * n + i) % 4;
      spec.size = size;
      spec.seed = seed;
      spec.anatomy_id = static_cast<uint64_t>(b * n + i);
      spec.noise_id = static_cast<uint64_t>(b * n + i);
      const io::Phantom p = io::make_phantom(spec);
      for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) {
          t.images.push_back(p.image.at<float>(y, x));
          t.masks.push_back(p.mask.at<uint8_t>(y, x) != 0 ? 1.0f : 0.0f);
        }
    }
    out.push_back(std::move(t));
  }
  return out;
}

struct EpochRun {
  std::vector<double> batch_losses;  // running mean loss after each batch
  HistoryRow row;
  std::map<std::string, std::vector<double>> state;  // parameters and buffers afterwards
  std::map<std::string, std::vector<double>> initial;
};

EpochRun run_epoch(Device device) {
  Generator gen(2024);
  nets::UNetConfig cfg;
  cfg.in_channels = 1;
  cfg.width = 4;
  cfg.depth = 2;
  nets::UNet model(cfg, &gen);  // the same weights on both devices
  EpochRun r;
  for (const auto& t : model.state_dict()) r.initial[t.first] = t.second.to_vector<double>();
  model.to(device);
  Adam::Options ao;
  ao.lr = 1e-3;
  ao.weight_decay = 1e-4;
  Adam adam(model.named_parameters(), ao);
  SegmentationTask task;
  TrainerOptions to;
  to.epochs = 1;
  to.device = device;
  to.early_stopping = false;
  Trainer trainer(model, adam, task, to);
  trainer.on_progress([&](const ProgressEvent& e) {
    if (e.kind == ProgressEvent::Kind::batch_end) r.batch_losses.push_back(e.loss);
  });
  VectorBatchSource train(phantom_batches(3, 4, 32, 1)), val(phantom_batches(1, 4, 32, 2));
  trainer.fit(train, &val);
  r.row = trainer.history().at(0);
  for (const auto& t : model.state_dict()) r.state[t.first] = t.second.to_vector<double>();
  return r;
}

// Largest |a - b| over the tensor, relative to the tensor's largest |b|.
double scaled_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    diff = std::max(diff, std::fabs(a[i] - b[i]));
    if (std::isnan(a[i])) diff = INFINITY;
    scale = std::max(scale, std::fabs(b[i]));
  }
  return diff / std::max(scale, 1e-30);
}

TEST(SimEpoch, UNetEpochOnSimMatchesCpu) {
  if (!device_available(Device::sim)) GTEST_SKIP() << "device sim is not in this build";
  const EpochRun cpu = run_epoch(Device::cpu), sim = run_epoch(Device::sim);
  ASSERT_EQ(cpu.batch_losses.size(), 3u);
  ASSERT_EQ(sim.batch_losses.size(), 3u);
  auto rel = [](double a, double b) { return std::fabs(a - b) / std::max(std::fabs(b), 1e-30); };
  for (size_t i = 0; i < cpu.batch_losses.size(); ++i)
    EXPECT_LE(rel(sim.batch_losses[i], cpu.batch_losses[i]), kLossRtol)
        << "batch " << i + 1 << " loss: sim " << sim.batch_losses[i] << ", cpu " << cpu.batch_losses[i];
  EXPECT_LE(rel(sim.row.loss, cpu.row.loss), kLossRtol) << "epoch loss " << sim.row.loss << " vs " << cpu.row.loss;
  EXPECT_LE(rel(sim.row.val_loss, cpu.row.val_loss), kLossRtol)
      << "val_loss " << sim.row.val_loss << " vs " << cpu.row.val_loss;
  EXPECT_NEAR(sim.row.metric, cpu.row.metric, kDiceAtol) << "training dice";
  EXPECT_NEAR(sim.row.val_metric, cpu.row.val_metric, kDiceAtol) << "validation dice";
  EXPECT_GT(cpu.row.val_metric, 0) << "the epoch should find some tumour pixels";

  double worst_change = 0, worst_statistic = 0, smallest_change = INFINITY;
  std::string worst_change_name, worst_statistic_name;
  for (const auto& t : cpu.state) {
    const auto& s = sim.state.at(t.first);
    ASSERT_EQ(s.size(), t.second.size()) << t.first;
    if (t.first.find("num_batches_tracked") != std::string::npos) {
      EXPECT_EQ(s, t.second) << t.first;
      EXPECT_EQ(t.second.at(0), 3) << t.first << ": one per training batch";
    } else if (t.first.find("running_") != std::string::npos) {
      const double d = scaled_difference(s, t.second);
      EXPECT_LE(d, kStatisticsRtol) << t.first;
      if (d >= worst_statistic) worst_statistic = d, worst_statistic_name = t.first;
    } else {  // parameters: the epoch's change, so a wrong update cannot hide behind the weights
      std::vector<double> dc(s.size()), ds(s.size());
      const auto& init = cpu.initial.at(t.first);
      double largest = 0;
      for (size_t i = 0; i < s.size(); ++i) {
        dc[i] = t.second[i] - init[i], ds[i] = s[i] - init[i];
        largest = std::max(largest, std::fabs(dc[i]));
      }
      smallest_change = std::min(smallest_change, largest);
      const double d = scaled_difference(ds, dc);
      EXPECT_LE(d, kChangeRtol) << t.first << ": its change over the epoch on sim differs from cpu's";
      if (d >= worst_change) worst_change = d, worst_change_name = t.first;
    }
  }
  EXPECT_GT(smallest_change, 1e-4) << "every parameter tensor should move in 3 Adam steps of lr 1e-3";
  std::cout << "[ WORST    ] losses " << rel(sim.row.val_loss, cpu.row.val_loss) << " (val); parameter change "
            << worst_change << " (" << worst_change_name << "); statistic " << worst_statistic << " ("
            << worst_statistic_name << ")\n";
}

}  // namespace
}  // namespace glia
