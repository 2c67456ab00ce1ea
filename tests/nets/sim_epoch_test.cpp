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
// Below, bf16 mixed precision on sim (tensor-core kernels, 16-bit casts) against cpu: the
// U-Net epoch and one step of a small EfficientNet, with tolerances of their own.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>

#include "io/phantom.h"
#include "nets/efficientnet.h"
#include "nets/unet.h"
#include "tensor/autocast.h"
#include "tensor/nn_ops.h"
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

EpochRun run_epoch(Device device, Precision precision) {
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
  to.precision = precision;
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
  const EpochRun cpu = run_epoch(Device::cpu, Precision::fp32), sim = run_epoch(Device::sim, Precision::fp32);
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

// The same epoch in bf16 mixed precision: on sim the convolutions run on the hand-written
// tensor-core kernels (WMMA under the emulator) and the casts on the copy kernel; on cpu
// on the 16-bit CPU kernels. Both round every conv's operands and outputs to bf16, so
// the two cannot agree to float32 round-off: a product that lands on the other side of a
// bf16 rounding boundary differs by 2^-8 of itself, and Adam, which divides each gradient
// element by its own size, turns a small gradient's difference into a full-size step.
// What must hold instead: sim's bf16 epoch stays as close to the float32 epoch as the
// cpu's bf16 epoch does. Measured when written (relative L2 of each parameter tensor's
// change against float32's, 51 tensors): cpu bf16 0.125 in the mean, sim bf16 0.123; per
// tensor sim's is at most 1.67x cpu's where either exceeds 1 %, and sim against cpu 0.066
// in the mean. The losses agree to 2e-5 and the running statistics to 0.9 % of each
// tensor's largest. A conv kernel whose gradient is wrong moves its tensor's change by
// 100 % or more; one off by a bf16 ulp now and then does not show here (the kernel tests
// do that, on sim in checked mode).
// The L2 norms of a - b and of b.
struct L2Difference {
  double difference = 0, reference = 0;
  double relative() const { return difference / std::max(reference, 1e-150); }
};
L2Difference l2_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) num += (a[i] - b[i]) * (a[i] - b[i]), den += b[i] * b[i];
  return {std::sqrt(num), std::sqrt(den)};
}

// Relative L2 difference of a parameter's change over the epoch in `run` from its change
// in `reference` (both from the reference's initial weights).
double change_difference(const EpochRun& run, const EpochRun& reference, const std::string& name) {
  const std::vector<double>& init = reference.initial.at(name);
  std::vector<double> a = run.state.at(name), b = reference.state.at(name);
  for (size_t i = 0; i < a.size(); ++i) a[i] -= init[i], b[i] -= init[i];
  return l2_difference(a, b).relative();
}

TEST(SimEpoch, UNetBf16EpochOnSimTrainsAsCloseToFloat32AsCpuBf16) {
  if (!device_available(Device::sim)) GTEST_SKIP() << "device sim is not in this build";
  const EpochRun fp32 = run_epoch(Device::cpu, Precision::fp32);
  const EpochRun cpu = run_epoch(Device::cpu, Precision::bf16), sim = run_epoch(Device::sim, Precision::bf16);
  ASSERT_EQ(sim.batch_losses.size(), 3u);
  auto rel = [](double a, double b) { return std::fabs(a - b) / std::max(std::fabs(b), 1e-30); };
  for (size_t i = 0; i < cpu.batch_losses.size(); ++i)
    EXPECT_LE(rel(sim.batch_losses[i], cpu.batch_losses[i]), 1e-3) << "batch " << i + 1 << " loss";
  EXPECT_LE(rel(sim.row.val_loss, cpu.row.val_loss), 1e-3) << "val_loss " << sim.row.val_loss << " vs " << cpu.row.val_loss;
  EXPECT_NEAR(sim.row.val_metric, cpu.row.val_metric, 2e-2) << "validation dice";
  double sim_mean = 0, cpu_mean = 0;
  int tensors = 0;
  for (const auto& t : fp32.state) {
    if (t.first.find("num_batches_tracked") != std::string::npos) continue;
    if (t.first.find("running_") != std::string::npos) {
      EXPECT_LE(scaled_difference(sim.state.at(t.first), cpu.state.at(t.first)), 0.05) << t.first;
      continue;
    }
    const double d_sim = change_difference(sim, fp32, t.first), d_cpu = change_difference(cpu, fp32, t.first);
    EXPECT_LE(d_sim, 2 * d_cpu + 0.01) << t.first << ": sim's bf16 change is further from float32's than cpu's bf16";
    sim_mean += d_sim, cpu_mean += d_cpu, ++tensors;
  }
  ASSERT_GT(tensors, 0);
  EXPECT_LE(sim_mean, 1.25 * cpu_mean) << "mean over " << tensors << " tensors";
  std::cout << "[ BF16     ] change against float32, mean relative L2: sim " << sim_mean / tensors << ", cpu "
            << cpu_mean / tensors << "\n";
}

// One bf16 forward and backward of a small EfficientNet (B0 at a quarter of its width
// and depth: depthwise and grouped convs, squeeze-excite, SiLU, batch norm, the Linear
// head) on sim against cpu, from the same weights and input: the gradients of every
// parameter. Both round the same bf16 operands; they differ where a float32 sum in
// another order rounds to the other bf16 neighbour. Measured when written: losses equal
// to 6 digits (1.68146); the gradient of every parameter within 0.8 % (relative L2),
// except batch-norm biases whose gradient is zero in exact arithmetic (the next train-mode
// batch norm removes any per-channel shift), which are rounding noise of norm ~2e-3 and
// differ by up to 1.1e-3: hence the absolute 5e-3 beside the relative 2 %.
std::map<std::string, std::vector<double>> efficientnet_bf16_gradients(Device device, double* loss) {
  Generator gen(7), input_gen(11);
  nets::EfficientNetConfig c = nets::efficientnet_config("b0", 4);
  c.width_mult = 0.25, c.depth_mult = 0.25, c.dropout = 0, c.stochastic_depth_prob = 0;
  nets::EfficientNet model(c, &gen);
  model.to(device);
  const Tensor x = rand({2, 3, 32, 32}, DType::f32, Device::cpu, &input_gen).to(device);
  const Tensor target = from_vector(std::vector<int64_t>{1, 3}, {2}).to(device);
  Tensor l;
  {
    AutocastGuard autocast(DType::bf16);
    l = cross_entropy(model.forward(x), target);
  }
  l.backward();
  *loss = l.to(Device::cpu).to(DType::f64).item<double>();
  std::map<std::string, std::vector<double>> grads;
  for (const auto& p : model.named_parameters()) grads[p.first] = p.second.grad().to(Device::cpu).to_vector<double>();
  return grads;
}

TEST(SimEpoch, EfficientNetBf16GradientsOnSimMatchCpu) {
  if (!device_available(Device::sim)) GTEST_SKIP() << "device sim is not in this build";
  double cpu_loss = 0, sim_loss = 0;
  const auto cpu = efficientnet_bf16_gradients(Device::cpu, &cpu_loss);
  const auto sim = efficientnet_bf16_gradients(Device::sim, &sim_loss);
  EXPECT_NEAR(sim_loss, cpu_loss, 1e-3 * std::fabs(cpu_loss));
  double largest = 0;
  for (const auto& g : cpu) {
    const std::vector<double>& s = sim.at(g.first);
    ASSERT_EQ(s.size(), g.second.size()) << g.first;
    const L2Difference d = l2_difference(s, g.second);
    EXPECT_LE(d.difference, 0.02 * d.reference + 5e-3) << g.first << ": gradient norm " << d.reference;
    if (d.reference > 1e-2) largest = std::max(largest, d.relative());
  }
  EXPECT_GT(largest, 0) << "sim and cpu should round some sums differently; identical gradients suggest one ran the other's kernels";
  std::cout << "[ BF16     ] loss cpu " << cpu_loss << ", sim " << sim_loss << "; largest relative gradient difference " << largest << "\n";
}

}  // namespace
}  // namespace glia
