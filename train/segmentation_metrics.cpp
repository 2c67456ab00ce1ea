#include "train/segmentation_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/error.h"

namespace glia {
namespace {

struct Point {
  int y, x;
};

std::vector<Point> boundary(const uint8_t* mask, int h, int w) {
  std::vector<Point> pts;
  auto on = [&](int y, int x) { return y >= 0 && y < h && x >= 0 && x < w && mask[y * w + x] != 0; };
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      if (on(y, x) && (!on(y - 1, x) || !on(y + 1, x) || !on(y, x - 1) || !on(y, x + 1))) pts.push_back({y, x});
  return pts;
}

// For each point of `from`, the distance to the nearest point of `to`.
std::vector<double> directed_distances(const std::vector<Point>& from, const std::vector<Point>& to) {
  std::vector<double> d(from.size());
  for (size_t i = 0; i < from.size(); ++i) {
    int64_t best = std::numeric_limits<int64_t>::max();
    for (const Point& q : to) {
      int64_t dy = from[i].y - q.y, dx = from[i].x - q.x;
      best = std::min(best, dy * dy + dx * dx);
      if (best == 0) break;
    }
    d[i] = std::sqrt(static_cast<double>(best));
  }
  return d;
}

// Both directions' surface distances, or empty with `undefined` set / both-empty flagged.
std::vector<double> surface_distances(const uint8_t* p, const uint8_t* t, int h, int w, bool* both_empty) {
  GLIA_CHECK(h > 0 && w > 0, "hausdorff: mask size " << h << "x" << w << " is empty");
  std::vector<Point> bp = boundary(p, h, w), bt = boundary(t, h, w);
  *both_empty = bp.empty() && bt.empty();
  if (bp.empty() || bt.empty()) return {};
  std::vector<double> d = directed_distances(bp, bt);
  std::vector<double> back = directed_distances(bt, bp);
  d.insert(d.end(), back.begin(), back.end());
  return d;
}

}  // namespace

double OverlapCounts::dice() const {
  if (predicted + truth == 0) return 1.0;
  return 2.0 * static_cast<double>(intersection) / static_cast<double>(predicted + truth);
}

double OverlapCounts::iou() const {
  int64_t uni = predicted + truth - intersection;
  if (uni == 0) return 1.0;
  return static_cast<double>(intersection) / static_cast<double>(uni);
}

OverlapCounts overlap(const uint8_t* predicted, const uint8_t* truth, int64_t pixels) {
  OverlapCounts c;
  for (int64_t i = 0; i < pixels; ++i) {
    bool p = predicted[i] != 0, t = truth[i] != 0;
    c.intersection += p && t;
    c.predicted += p;
    c.truth += t;
  }
  return c;
}

double hausdorff_distance(const uint8_t* predicted, const uint8_t* truth, int height, int width) {
  bool both_empty = false;
  std::vector<double> d = surface_distances(predicted, truth, height, width, &both_empty);
  if (d.empty()) return both_empty ? 0.0 : std::numeric_limits<double>::quiet_NaN();
  return *std::max_element(d.begin(), d.end());
}

double hausdorff95(const uint8_t* predicted, const uint8_t* truth, int height, int width) {
  bool both_empty = false;
  std::vector<double> d = surface_distances(predicted, truth, height, width, &both_empty);
  if (d.empty()) return both_empty ? 0.0 : std::numeric_limits<double>::quiet_NaN();
  // numpy.percentile's default linear interpolation between closest ranks.
  std::sort(d.begin(), d.end());
  double rank = 0.95 * static_cast<double>(d.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(rank));
  size_t hi = std::min(lo + 1, d.size() - 1);
  return d[lo] + (rank - static_cast<double>(lo)) * (d[hi] - d[lo]);
}

void SegmentationMeter::add(const uint8_t* predicted, const uint8_t* truth, int height, int width) {
  OverlapCounts c = overlap(predicted, truth, static_cast<int64_t>(height) * width);
  ++images_;
  dice_sum_ += c.dice();
  iou_sum_ += c.iou();
  pooled_.intersection += c.intersection;
  pooled_.predicted += c.predicted;
  pooled_.truth += c.truth;
  double hd = hausdorff_distance(predicted, truth, height, width);
  if (std::isnan(hd)) {
    ++undefined_hd_;
    return;
  }
  ++defined_hd_;
  hd_sum_ += hd;
  hd95_sum_ += hausdorff95(predicted, truth, height, width);
}

double SegmentationMeter::mean_dice() const { return images_ ? dice_sum_ / static_cast<double>(images_) : 0.0; }
double SegmentationMeter::mean_iou() const { return images_ ? iou_sum_ / static_cast<double>(images_) : 0.0; }
double SegmentationMeter::pooled_dice() const { return pooled_.dice(); }
double SegmentationMeter::pooled_iou() const { return pooled_.iou(); }
double SegmentationMeter::mean_hausdorff() const {
  return defined_hd_ ? hd_sum_ / static_cast<double>(defined_hd_) : std::numeric_limits<double>::quiet_NaN();
}
double SegmentationMeter::mean_hausdorff95() const {
  return defined_hd_ ? hd95_sum_ / static_cast<double>(defined_hd_) : std::numeric_limits<double>::quiet_NaN();
}

std::vector<double> SegmentationMeter::sums() const {
  return {static_cast<double>(images_), static_cast<double>(undefined_hd_), static_cast<double>(defined_hd_),
          dice_sum_, iou_sum_, hd_sum_, hd95_sum_, static_cast<double>(pooled_.intersection),
          static_cast<double>(pooled_.predicted), static_cast<double>(pooled_.truth)};
}

void SegmentationMeter::set_sums(const std::vector<double>& v) {
  GLIA_CHECK(v.size() == 10, "segmentation meter: " << v.size() << " sums, expected 10");
  images_ = static_cast<int64_t>(v[0]);
  undefined_hd_ = static_cast<int64_t>(v[1]);
  defined_hd_ = static_cast<int64_t>(v[2]);
  dice_sum_ = v[3];
  iou_sum_ = v[4];
  hd_sum_ = v[5];
  hd95_sum_ = v[6];
  pooled_.intersection = static_cast<int64_t>(v[7]);
  pooled_.predicted = static_cast<int64_t>(v[8]);
  pooled_.truth = static_cast<int64_t>(v[9]);
}

}  // namespace glia
