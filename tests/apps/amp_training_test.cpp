// Evidence that bf16 mixed precision trains (issue 17, item 6): on phantoms (io/phantom.h),
// a narrow U-Net trained with --precision bf16 reaches the validation Dice of fp32 runs
// (same seeds, data, order and number of steps) within 1 point.
//
// Why the margin means something, and why a mean over seeds: both precisions first have
// to learn (Dice far above an empty or all-tumour mask), which a bf16 path with a wrong
// gradient (a missing cast backward, unrounded or wrongly rounded operands, a gradient
// that reaches the f32 weights in the wrong dtype) does not. One run against one run
// says little: at these sizes fp32 runs of different seeds end 12 points apart (0.76 to
// 0.88), and one seed's bf16 and fp32 runs drift apart by up to 2.3 points (seed 2 below)
// because rounding sends them down different paths. The mean over four seeds averages
// that drift out, so a bf16 that trains like fp32 lands within 1 point and one that
// trains worse does not. The cosine schedule settles every run at its end.
// Measured when written (2026-12-06, this CPU, 20 epochs; fp32 / bf16 Dice): seed 1
// 0.859 / 0.855, seed 2 0.764 / 0.787, seed 3 0.858 / 0.860, seed 4 0.828 / 0.821 (means
// 0.827 / 0.831); seed 17: 0.884 / 0.883. About 65 s on 2 idle cores.
//
// The classifier half of item 6 is not met: a small EfficientNet (B0 at half width and
// depth) on 32-px phantoms stays at chance in both precisions (after 15 epochs with the
// cosine schedule: fp32 0.27, bf16 0.31; after 6 at a constant rate: 0.25 / 0.26), so a
// comparison would say nothing; 64 px, where the classes are visible, costs several
// minutes a seed. Left DISABLED below with the sizes tried.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>
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
                          BatchSource& val, int epochs, double lr, uint64_t seed) {
  manual_seed(seed);
  auto model = make_model();
  Adam::Options ao;
  ao.lr = lr;
  Adam optimizer(model->named_parameters(), ao);
  TrainerOptions o;
  o.epochs = epochs;
  o.precision = precision;
  o.early_stopping = false;
  o.restore_best_weights = false;
  o.schedule.kind = LrScheduleKind::cosine;  // settles at the end: the comparison is of converged runs
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
  const double fp32 = train_and_validate(Precision::fp32, make, task, train, val, 15, 3e-3, 17);
  const double bf16 = train_and_validate(Precision::bf16, make, task, train, val, 15, 3e-3, 17);
  std::cout << "  validation accuracy: fp32 " << fp32 << ", bf16 " << bf16 << "\n";
  EXPECT_GT(fp32, 0.6) << "fp32 did not learn: the comparison would say nothing";
  EXPECT_LE(std::fabs(bf16 - fp32), 0.01);
}

TEST(AmpTraining, Bf16ReachesTheFp32DiceOfANarrowUNetWithinOnePointOverFourSeeds) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "eight training runs take minutes under AddressSanitizer; the ordinary build runs this "
                  "(the bf16 kernels and autocast it uses have their own tests in this build)";
#endif
  VectorBatchSource train(phantom_batches(16, 8, 32, 3, true)), val(phantom_batches(5, 16, 32, 4, true));
  auto make = [] {
    nets::UNetConfig c;
    c.width = 8;
    c.depth = 2;
    return std::make_unique<nets::UNet>(c);
  };
  SegmentationTask task;
  double fp32_sum = 0, bf16_sum = 0, fp32_low = 1;
  const std::vector<uint64_t> seeds{1, 2, 3, 4};
  for (uint64_t seed : seeds) {
    const double fp32 = train_and_validate(Precision::fp32, make, task, train, val, 20, 3e-3, seed);
    const double bf16 = train_and_validate(Precision::bf16, make, task, train, val, 20, 3e-3, seed);
    std::cout << "  seed " << seed << ": validation Dice fp32 " << fp32 << ", bf16 " << bf16 << "\n";
    fp32_sum += fp32;
    bf16_sum += bf16;
    fp32_low = std::min(fp32_low, fp32);
  }
  const double fp32 = fp32_sum / seeds.size(), bf16 = bf16_sum / seeds.size();
  std::cout << "  mean over " << seeds.size() << " seeds: fp32 " << fp32 << ", bf16 " << bf16 << "\n";
  EXPECT_GT(fp32_low, 0.6) << "an fp32 run did not learn: the comparison would say nothing";
  EXPECT_LE(std::fabs(bf16 - fp32), 0.01);
}

}  // namespace
}  // namespace glia
