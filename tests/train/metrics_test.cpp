// Metrics against values computed by hand for crafted cases (worked out in the comments).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/error.h"
#include "train/classification_metrics.h"
#include "train/segmentation_metrics.h"

namespace glia {
namespace {

// truth 0,0,0,1,1,2,2,2,2 / predicted 0,0,1,1,2,2,2,2,0:
// counts (t,p): (0,0)=2 (0,1)=1 (1,1)=1 (1,2)=1 (2,2)=3 (2,0)=1
ConfusionMatrix crafted() {
  ConfusionMatrix m(3);
  m.add({0, 0, 0, 1, 1, 2, 2, 2, 2}, {0, 0, 1, 1, 2, 2, 2, 2, 0});
  return m;
}

TEST(ClassificationMetrics, ConfusionCountsAndAccuracy) {
  ConfusionMatrix m = crafted();
  EXPECT_EQ(m.count(0, 0), 2);
  EXPECT_EQ(m.count(0, 1), 1);
  EXPECT_EQ(m.count(2, 0), 1);
  EXPECT_EQ(m.count(1, 0), 0);
  EXPECT_EQ(m.total(), 9);
  EXPECT_DOUBLE_EQ(m.accuracy(), 6.0 / 9.0);
}

TEST(ClassificationMetrics, PerClassPrecisionRecallF1) {
  ConfusionMatrix m = crafted();
  // class 0: predicted 3 times (2 right), 3 samples -> P = R = F1 = 2/3
  EXPECT_DOUBLE_EQ(m.scores(0).precision, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.scores(0).recall, 2.0 / 3.0);
  // class 1: predicted twice (1 right), 2 samples -> 1/2
  EXPECT_DOUBLE_EQ(m.scores(1).precision, 0.5);
  EXPECT_DOUBLE_EQ(m.scores(1).f1, 0.5);
  // class 2: predicted 4 times (3 right), 4 samples -> 3/4
  EXPECT_DOUBLE_EQ(m.scores(2).recall, 0.75);
  EXPECT_EQ(m.scores(2).support, 4);
}

TEST(ClassificationMetrics, MacroAndWeightedAverages) {
  ConfusionMatrix m = crafted();
  EXPECT_NEAR(m.macro_average().f1, (2.0 / 3 + 0.5 + 0.75) / 3, 1e-15);    // 23/36
  EXPECT_NEAR(m.weighted_average().f1, (3 * 2.0 / 3 + 2 * 0.5 + 4 * 0.75) / 9, 1e-15);  // 6/9
}

TEST(ClassificationMetrics, ClassNeverPredictedOrAbsentScoresZero) {
  ConfusionMatrix m(4);
  m.add({0, 1, 2}, {0, 1, 1});
  EXPECT_EQ(m.scores(2).precision, 0.0);  // never predicted
  EXPECT_EQ(m.scores(2).recall, 0.0);
  EXPECT_EQ(m.scores(3).support, 0);      // absent
  EXPECT_EQ(m.scores(3).f1, 0.0);
  EXPECT_DOUBLE_EQ(m.scores(1).precision, 0.5);
}

TEST(ClassificationMetrics, BadInputIsAnError) {
  ConfusionMatrix m(3);
  EXPECT_THROW(m.add(3, 0), Error);
  EXPECT_THROW(m.add(0, -1), Error);
  EXPECT_THROW(m.add(std::vector<int64_t>{0, 1}, std::vector<int64_t>{0}), Error);
  EXPECT_THROW(ConfusionMatrix(0), Error);
  EXPECT_THROW(m.to_string({"a", "b"}), Error);
  EXPECT_NE(crafted().to_string({"glioma", "meningioma", "pituitary"}).find("meningioma"), std::string::npos);
}

TEST(SegmentationMetrics, DiceAndIouOfACraftedPair) {
  // 3x3: predicted {(0,0),(0,1),(1,1)}, truth {(0,1),(1,1),(1,0),(2,2)}: |P∩T| = 2
  std::vector<uint8_t> p = {1, 1, 0, 0, 1, 0, 0, 0, 0};
  std::vector<uint8_t> t = {0, 255, 0, 255, 255, 0, 0, 0, 255};
  OverlapCounts c = overlap(p.data(), t.data(), 9);
  EXPECT_EQ(c.intersection, 2);
  EXPECT_DOUBLE_EQ(c.dice(), 4.0 / 7.0);
  EXPECT_DOUBLE_EQ(c.iou(), 2.0 / 5.0);
}

TEST(SegmentationMetrics, HausdorffOfTwoPointsIsTheirDistance) {
  std::vector<uint8_t> p(25, 0), t(25, 0);
  p[0] = 1;           // (0,0)
  t[3 * 5 + 4] = 1;   // (3,4): distance 5
  EXPECT_DOUBLE_EQ(hausdorff_distance(p.data(), t.data(), 5, 5), 5.0);
  EXPECT_DOUBLE_EQ(hausdorff95(p.data(), t.data(), 5, 5), 5.0);
}

TEST(SegmentationMetrics, Hd95InterpolatesLikeNumpyPercentile) {
  // One row: predicted x = 0..3, truth x = 0. Distances P->T: 0 1 2 3, T->P: 0.
  // HD = 3; numpy.percentile([0,0,1,2,3], 95) = 2 + 0.8 * (3 - 2) = 2.8.
  std::vector<uint8_t> p = {1, 1, 1, 1, 0, 0}, t = {1, 0, 0, 0, 0, 0};
  EXPECT_DOUBLE_EQ(hausdorff_distance(p.data(), t.data(), 1, 6), 3.0);
  EXPECT_NEAR(hausdorff95(p.data(), t.data(), 1, 6), 2.8, 1e-12);
}

TEST(SegmentationMetrics, HausdorffUsesBoundariesSoFilledSquaresMatchTheirEdges) {
  // Truth: filled 3x3 square at rows/cols 1..3; predicted: the same square shifted right by 2.
  std::vector<uint8_t> p(49, 0), t(49, 0);
  for (int y = 1; y <= 3; ++y)
    for (int x = 1; x <= 3; ++x) {
      t[y * 7 + x] = 1;
      p[y * 7 + x + 2] = 1;
    }
  EXPECT_DOUBLE_EQ(hausdorff_distance(p.data(), t.data(), 7, 7), 2.0);
}

TEST(SegmentationMetrics, EmptyMaskConventions) {
  std::vector<uint8_t> empty(16, 0), one(16, 0);
  one[5] = 1;
  EXPECT_EQ(overlap(empty.data(), empty.data(), 16).dice(), 1.0);
  EXPECT_EQ(overlap(empty.data(), empty.data(), 16).iou(), 1.0);
  EXPECT_EQ(overlap(one.data(), empty.data(), 16).dice(), 0.0);
  EXPECT_EQ(hausdorff_distance(empty.data(), empty.data(), 4, 4), 0.0);
  EXPECT_TRUE(std::isnan(hausdorff_distance(one.data(), empty.data(), 4, 4)));
  EXPECT_TRUE(std::isnan(hausdorff95(empty.data(), one.data(), 4, 4)));
}

TEST(SegmentationMetrics, MeterSeparatesPerImageAndPooledScores) {
  // Image A: P = T = 1 pixel -> Dice 1. Image B: P 3 pixels, T 1 pixel, overlap 1 -> Dice 2/4.
  // Image C: P 1 pixel, T empty -> Dice 0, HD undefined.
  std::vector<uint8_t> a(4, 0), b_p(4, 0), b_t(4, 0), c_p(4, 0), c_t(4, 0);
  a[0] = 1;
  b_p[0] = b_p[1] = b_p[2] = 1;
  b_t[0] = 1;
  c_p[3] = 1;
  SegmentationMeter m;
  m.add(a.data(), a.data(), 2, 2);
  m.add(b_p.data(), b_t.data(), 2, 2);
  m.add(c_p.data(), c_t.data(), 2, 2);
  EXPECT_EQ(m.images(), 3);
  EXPECT_DOUBLE_EQ(m.mean_dice(), (1.0 + 0.5 + 0.0) / 3);
  // pooled: intersection 2, predicted 5, truth 2 -> 4/7
  EXPECT_DOUBLE_EQ(m.pooled_dice(), 4.0 / 7.0);
  EXPECT_DOUBLE_EQ(m.pooled_iou(), 2.0 / 5.0);
  EXPECT_EQ(m.undefined_hausdorff(), 1);
  // HD of A is 0; of B: P boundary {(0,0),(0,1),(1,0)} to T (0,0): max 1.
  EXPECT_DOUBLE_EQ(m.mean_hausdorff(), 0.5);
}

}  // namespace
}  // namespace glia
