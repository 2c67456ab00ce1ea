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
// minutes a seed. Tried too: EfficientNet-Lite0 from its ImageNet weights with the
// study's head, every layer trained, 64-px phantoms, 6 cosine epochs from 3e-4: seed 1
// gave fp32 0.51, bf16 0.56, also far from converged. Left DISABLED below.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <vector>

#include "nets/efficientnet.h"
#include "nets/unet.h"
#include "tests/support/phantom_training.h"

namespace glia {
namespace {

using test::phantom_batches;
using test::train_and_validate;  // the DISABLED classifier case

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
  const test::PrecisionComparison c = test::compare_fp32_bf16(make, task, train, val, 20, 3e-3, {1, 2, 3, 4});
  EXPECT_GT(c.fp32_lowest, 0.6) << "an fp32 run did not learn: the comparison would say nothing";
  EXPECT_LE(std::fabs(c.bf16 - c.fp32), 0.01);
}

}  // namespace
}  // namespace glia
