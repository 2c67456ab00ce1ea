// train/segmentation_metrics against SciPy: tools/make_metric_refs.py (ctest fixture
// reference.generate_metrics) writes 42 mask pairs (random blobs and their shifted,
// grown, shrunk and speckled copies, border-touching masks, a ring with a hole, a
// one-pixel line and dot, identical and empty masks) with the Hausdorff distance from
// scipy.spatial.distance.directed_hausdorff, MedPy's HD95 from
// scipy.ndimage.distance_transform_edt and numpy.percentile, Dice and IoU.
//
// Distances are square roots of integers on both sides, so HD must agree to the last bit
// or so; HD95 interpolates between two of them (numpy's lerp may round differently):
// 1e-12 relative covers both, while a wrong boundary pixel or rank moves them by >= 1e-3.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "reference.h"
#include "train/segmentation_metrics.h"

namespace glia {
namespace {

std::vector<uint8_t> mask_of(const Tensor& t) { return t.to_vector<uint8_t>(); }

// Equal, both NaN, or within 1e-12 of the reference's magnitude (at least 1).
::testing::AssertionResult same_value(double actual, double expected, const std::string& what) {
  if (std::isnan(expected) && std::isnan(actual)) return ::testing::AssertionSuccess();
  if (std::fabs(actual - expected) <= 1e-12 * std::max(1.0, std::fabs(expected)))
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": glia " << actual << ", SciPy " << expected;
}

TEST(SegmentationMetricsVsScipy, HausdorffHd95DiceAndIouOfEveryPair) {
  const auto refs = test::load_refs("segmentation_metrics");
  ASSERT_FALSE(refs.empty());
  SegmentationMeter meter;
  double hd_sum = 0, hd95_sum = 0, dice_sum = 0;
  int cases = 0, defined = 0, undefined = 0;
  for (int i = 0; refs.count("case" + std::to_string(i) + ".pred") != 0; ++i, ++cases) {
    const std::string c = "case" + std::to_string(i);
    const Tensor pred = refs.at(c + ".pred"), truth = refs.at(c + ".truth");
    ASSERT_EQ(pred.dim(), 2);
    const int h = static_cast<int>(pred.size(0)), w = static_cast<int>(pred.size(1));
    const std::vector<uint8_t> p = mask_of(pred), t = mask_of(truth);
    const double hd = refs.at(c + ".hd").item<double>(), hd95 = refs.at(c + ".hd95").item<double>();
    const double dice = refs.at(c + ".dice").item<double>(), iou = refs.at(c + ".iou").item<double>();
    const std::string what = c + " (" + std::to_string(h) + "x" + std::to_string(w) + ")";
    EXPECT_TRUE(same_value(hausdorff_distance(p.data(), t.data(), h, w), hd, what + " Hausdorff"));
    EXPECT_TRUE(same_value(hausdorff95(p.data(), t.data(), h, w), hd95, what + " HD95"));
    const OverlapCounts o = overlap(p.data(), t.data(), static_cast<int64_t>(h) * w);
    EXPECT_TRUE(same_value(o.dice(), dice, what + " Dice"));
    EXPECT_TRUE(same_value(o.iou(), iou, what + " IoU"));
    meter.add(p.data(), t.data(), h, w);
    dice_sum += dice;
    if (std::isnan(hd)) {
      ++undefined;
    } else {
      ++defined;
      hd_sum += hd;
      hd95_sum += hd95;
    }
  }
  EXPECT_EQ(cases, 42) << "the reference file holds a different set of cases than tools/make_metric_refs.py writes";
  // The meter averages what is defined and counts the pairs with exactly one empty mask.
  EXPECT_EQ(meter.images(), cases);
  EXPECT_EQ(meter.undefined_hausdorff(), undefined);
  EXPECT_TRUE(same_value(meter.mean_hausdorff(), hd_sum / defined, "mean Hausdorff"));
  EXPECT_TRUE(same_value(meter.mean_hausdorff95(), hd95_sum / defined, "mean HD95"));
  EXPECT_TRUE(same_value(meter.mean_dice(), dice_sum / cases, "mean Dice"));
}

}  // namespace
}  // namespace glia
