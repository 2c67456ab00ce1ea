#include "train/segmentation_trainer.h"

#include <cmath>

#include "kernels/error.h"
#include "tensor/ops.h"
#include "train/batch_upload.h"

namespace glia {

SegmentationTask::SegmentationTask(BceDiceOptions loss, bool hausdorff) : loss_options_(loss), hausdorff_(hausdorff) {}

void SegmentationTask::check_batch(const io::Batch& batch) const {
  const size_t expected = static_cast<size_t>(batch.n) * batch.h * batch.w;
  GLIA_CHECK(batch.masks.size() == expected, "segmentation batch of " << batch.n << " " << batch.h << "x" << batch.w
                                                                      << " images has " << batch.masks.size()
                                                                      << " mask values, expected " << expected);
}

Tensor SegmentationTask::loss(const Tensor& output, const io::Batch& batch, Device device) const {
  GLIA_CHECK(output.dim() == 4 && output.size(0) == batch.n && output.size(1) == 1 && output.size(2) == batch.h &&
                 output.size(3) == batch.w,
             "segmentation loss: model output " << shape_str(output.sizes()) << " is not [" << batch.n << ", 1, "
                                                << batch.h << ", " << batch.w << "]");
  return bce_dice_loss(output, upload_batch_values(batch.masks, {batch.n, 1, batch.h, batch.w}, device), loss_options_);
}

void SegmentationTask::reset() {
  pooled_ = OverlapCounts{};
  meter_ = SegmentationMeter{};
  dice_sum_ = iou_sum_ = 0;
  images_ = 0;
}

std::vector<uint8_t> threshold_masks(const Tensor& logits) {
  const std::vector<float> v = logits.detach().to_vector<float>();
  std::vector<uint8_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = v[i] > 0.0f ? 1 : 0;
  return out;
}

void SegmentationTask::add(const Tensor& output, const io::Batch& batch) {
  const std::vector<uint8_t> predicted = threshold_masks(output);
  const size_t pixels = static_cast<size_t>(batch.h) * batch.w;
  std::vector<uint8_t> truth(pixels);
  for (size_t i = 0; i < static_cast<size_t>(batch.n); ++i) {
    for (size_t p = 0; p < pixels; ++p) truth[p] = batch.masks[i * pixels + p] > 0.5f ? 1 : 0;
    const uint8_t* pred = predicted.data() + i * pixels;
    const OverlapCounts c = overlap(pred, truth.data(), static_cast<int64_t>(pixels));
    pooled_.intersection += c.intersection;
    pooled_.predicted += c.predicted;
    pooled_.truth += c.truth;
    dice_sum_ += c.dice();
    iou_sum_ += c.iou();
    ++images_;
    if (hausdorff_) meter_.add(pred, truth.data(), batch.h, batch.w);
  }
}

Metrics SegmentationTask::metrics() const {
  const double n = images_ > 0 ? static_cast<double>(images_) : 1.0;
  Metrics m{{"dice", pooled_.dice()}, {"iou", pooled_.iou()}, {"mean_dice", dice_sum_ / n}, {"mean_iou", iou_sum_ / n}};
  if (hausdorff_) {
    m.push_back({"hd", meter_.mean_hausdorff()});
    m.push_back({"hd95", meter_.mean_hausdorff95()});
  }
  return m;
}

}  // namespace glia
