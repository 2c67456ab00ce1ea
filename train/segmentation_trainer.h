// The segmentation task for the Trainer: BCE + soft Dice on logits [N, 1, H, W] against
// 0/1 masks; the monitored metric "dice" is the pooled Dice of the thresholded
// prediction (sigmoid > 0.5) over every pixel seen, so the many empty slices neither
// inflate it (as a per-image mean with empty = 1 would) nor are skipped.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "train/losses.h"
#include "train/segmentation_metrics.h"
#include "train/trainer.h"

namespace glia {

class SegmentationTask : public TrainTask {
 public:
  // hausdorff: also compute HD and HD95 per image (slower; for evaluations).
  explicit SegmentationTask(BceDiceOptions loss = {}, bool hausdorff = false);
  std::string name() const override { return "segmentation"; }
  std::string metric_name() const override { return "dice"; }
  void check_batch(const io::Batch& batch) const override;
  Tensor loss(const Tensor& output, const io::Batch& batch, Device device) const override;
  void reset() override;
  void add(const Tensor& output, const io::Batch& batch) override;
  double metric() const override { return pooled_.dice(); }
  // dice (pooled), iou (pooled), mean per-image dice and iou, and with hausdorff the
  // mean HD / HD95 over images where both masks are non-empty.
  Metrics metrics() const override;
  // Batch Dice (the default) is not a mean over samples: its share needs the global sums.
  Tensor shard_loss(const Tensor& output, const io::Batch& batch, Device device, Communicator& comm) const override;
  std::vector<double> accumulators() const override;
  void set_accumulators(const std::vector<double>& values) override;
  void set_hausdorff(bool on) { hausdorff_ = on; }

  const SegmentationMeter& meter() const { return meter_; }

 private:
  BceDiceOptions loss_options_;
  bool hausdorff_;
  OverlapCounts pooled_;
  SegmentationMeter meter_;  // only fed with hausdorff
  double dice_sum_ = 0, iou_sum_ = 0;  // per-image Dice/IoU (both empty = 1)
  int64_t images_ = 0;
};

// 0/1 masks of logits [N, 1, H, W] thresholded at sigmoid 0.5 (logit > 0), host, N*H*W.
std::vector<uint8_t> threshold_masks(const Tensor& logits);

}  // namespace glia
