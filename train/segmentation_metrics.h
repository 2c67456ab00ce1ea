// Segmentation metrics on binary 2-D masks (host memory, row-major h x w, non-zero =
// foreground).
//
// Dice = 2|P∩T| / (|P|+|T|), IoU = |P∩T| / |P∪T|. Both masks empty: 1 (a correct "no
// tumour"), so slices without tumour reward an empty prediction instead of being skipped.
//
// Hausdorff distance (HD) = max of the two directed distances between the masks' boundary
// pixels (a foreground pixel with a 4-neighbour outside the mask or the image), Euclidean,
// in pixels. HD95 = the 95th percentile of all boundary-to-other-boundary distances in
// both directions (MedPy's hd95). Both masks empty: 0. Exactly one empty: undefined, NaN;
// the meter skips those when averaging and counts them.
#pragma once
#include <cstdint>
#include <vector>

namespace glia {

struct OverlapCounts {
  int64_t intersection = 0, predicted = 0, truth = 0;
  double dice() const;
  double iou() const;
};

OverlapCounts overlap(const uint8_t* predicted, const uint8_t* truth, int64_t pixels);
double hausdorff_distance(const uint8_t* predicted, const uint8_t* truth, int height, int width);
double hausdorff95(const uint8_t* predicted, const uint8_t* truth, int height, int width);

// Accumulates per-image and pooled (all pixels of all images) scores.
class SegmentationMeter {
 public:
  void add(const uint8_t* predicted, const uint8_t* truth, int height, int width);

  int64_t images() const { return images_; }
  double mean_dice() const;    // mean of per-image Dice
  double mean_iou() const;
  double pooled_dice() const;  // Dice of the summed counts
  double pooled_iou() const;
  double mean_hausdorff() const;    // over images where it is defined; NaN when none
  double mean_hausdorff95() const;
  int64_t undefined_hausdorff() const { return undefined_hd_; }  // exactly one mask empty
  // Every count and sum (10 values), e.g. to add them up across ranks, and back.
  std::vector<double> sums() const;
  void set_sums(const std::vector<double>& sums);

 private:
  int64_t images_ = 0, undefined_hd_ = 0, defined_hd_ = 0;
  double dice_sum_ = 0, iou_sum_ = 0, hd_sum_ = 0, hd95_sum_ = 0;
  OverlapCounts pooled_;
};

}  // namespace glia
