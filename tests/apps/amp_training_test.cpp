// Evidence that bf16 mixed precision trains (issue 17, item 6): on phantoms (io/phantom.h),
// a small EfficientNet and a narrow U-Net trained with --precision bf16 reach the
// validation accuracy / Dice of the same fp32 run (same seed, data, order and number of
// steps) within 1 point.
//
// Why the margin means something: both runs first have to learn (accuracy far above the
// 25% of chance, Dice far above an empty or all-tumour mask), which a bf16 path with a wrong
// gradient (a missing cast backward, unrounded or wrongly rounded operands, a gradient
// that reaches the f32 weights in the wrong dtype) does not; and 1 point is less than the
// spread between fp32 runs of other seeds, so bf16 is not merely "in the range" but
// trains like fp32. Sizes keep the test under 2 minutes on 2 cores.
//
// DISABLED: not met yet at these sizes (2026-12-06, this CPU, ~8 min under load): the
// small EfficientNet stayed at chance in both precisions after 6 epochs (fp32 0.25, bf16
// 0.26), and the narrow U-Net's validation Dice was fp32 0.73, bf16 0.83 after 8 epochs,
// runs far from converged, where two fp32 runs of other seeds differ as much. With
// train-seg (width 8, depth 3, 64 px, 30 epochs, the demo's phantoms) the test Dice was fp32
// 0.858, bf16 0.846 (best epoch 21 in both). What remains: sizes at which both runs
// converge within the time budget, then enable these.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>

#include "io/phantom.h"
#include "nets/efficientnet.h"
#include "nets/unet.h"
#include "tensor/random.h"
#include "train/batch_source.h"
#include "train/classification_trainer.h"
#include "train/segmentation_trainer.h"
#include "train/trainer.h"

namespace glia {
namespace {

// Phantoms of the four classes in turn, as batches of `n` 3-channel images of `size` px.
std::vector<io::Batch> phantom_batches(int batches, int n, int size, uint64_t seed, bool masks) {
  std::vector<io::Batch> out;
  int index = 0;
  for (int b = 0; b < batches; ++b) {
    io::Batch t;
    t.n = n, t.c = 3, t.h = size, t.w = size;
    for (int i = 0; i < n; ++i, ++index) {
      io::PhantomSpec spec;
      spec.label = index % 4;
      spec.size = size;
      spec.seed = seed;
      spec.anatomy_id = static_cast<uint64_t>(index);
      spec.noise_id = static_cast<uint64_t>(index);
      const io::Phantom p = io::make_phantom(spec);
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < size; ++y)
          for (int x = 0; x < size; ++x) t.images.push_back(p.image.at<float>(y, x));
      if (masks) {
        for (int y = 0; y < size; ++y)
          for (int x = 0; x < size; ++x) t.masks.push_back(p.mask.at<uint8_t>(y, x) ? 1.f : 0.f);
        t.labels.push_back(-1);
      } else {
        t.labels.push_back(p.label);
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

template <class MakeModel>
double train_and_validate(Precision precision, MakeModel make_model, TrainTask& task, BatchSource& train,
                          BatchSource& val, int epochs, double lr) {
  manual_seed(17);
  auto model = make_model();
  Adam::Options ao;
  ao.lr = lr;
  Adam optimizer(model->named_parameters(), ao);
  TrainerOptions o;
  o.epochs = epochs;
  o.precision = precision;
  o.early_stopping = false;
  o.restore_best_weights = false;
  o.schedule.kind = LrScheduleKind::constant;
  Trainer trainer(*model, optimizer, task, o);
  trainer.fit(train, nullptr);
  return metric_value(trainer.evaluate(val), task.metric_name());
}

TEST(AmpTraining, DISABLED_Bf16ReachesTheFp32AccuracyOfASmallEfficientNetWithinOnePoint) {
  VectorBatchSource train(phantom_batches(16, 16, 32, 1, false)), val(phantom_batches(5, 20, 32, 2, false));
  auto make = [] {
    nets::EfficientNetConfig c = nets::efficientnet_config("b0", 4);
    c.width_mult = 0.5;
    c.depth_mult = 0.5;
    c.dropout = 0;
    c.stochastic_depth_prob = 0;
    return std::make_unique<nets::EfficientNet>(c);
  };
  ClassificationTask task(4);
  const double fp32 = train_and_validate(Precision::fp32, make, task, train, val, 6, 3e-3);
  const double bf16 = train_and_validate(Precision::bf16, make, task, train, val, 6, 3e-3);
  std::cout << "  validation accuracy: fp32 " << fp32 << ", bf16 " << bf16 << "\n";
  EXPECT_GT(fp32, 0.6) << "fp32 did not learn: the comparison would say nothing";
  EXPECT_LE(std::fabs(bf16 - fp32), 0.01);
}

TEST(AmpTraining, DISABLED_Bf16ReachesTheFp32DiceOfANarrowUNetWithinOnePoint) {
  VectorBatchSource train(phantom_batches(16, 8, 32, 3, true)), val(phantom_batches(5, 16, 32, 4, true));
  auto make = [] {
    nets::UNetConfig c;
    c.width = 8;
    c.depth = 2;
    return std::make_unique<nets::UNet>(c);
  };
  SegmentationTask task;
  const double fp32 = train_and_validate(Precision::fp32, make, task, train, val, 8, 3e-3);
  const double bf16 = train_and_validate(Precision::bf16, make, task, train, val, 8, 3e-3);
  std::cout << "  validation Dice: fp32 " << fp32 << ", bf16 " << bf16 << "\n";
  EXPECT_GT(fp32, 0.6) << "fp32 did not learn: the comparison would say nothing";
  EXPECT_LE(std::fabs(bf16 - fp32), 0.01);
}

}  // namespace
}  // namespace glia
