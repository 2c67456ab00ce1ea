#include "train/segmentation_trainer.h"

#include <cmath>

#include "kernels/error.h"
#include "tensor/ops.h"
#include "train/batch_upload.h"
#include "train/losses.h"

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
  // The masks in the output's dtype (float64 models in tests).
  return bce_dice_loss(output, upload_batch_values(batch.masks, {batch.n, 1, batch.h, batch.w}, device).to(output.dtype()),
                       loss_options_);
}

Tensor SegmentationTask::shard_loss(const Tensor& output, const io::Batch& batch, Device device,
                                    Communicator& comm) const {
  if (loss_options_.dice.per_sample) return TrainTask::shard_loss(output, batch, device, comm);
  loss(output, batch, device);  // the shape checks (the value is not used)
  GLIA_CHECK(batch.global_n >= batch.n && batch.n > 0,
             "data-parallel segmentation loss: a shard of " << batch.n << " samples of a global batch of "
                                                            << batch.global_n);
  const Tensor target = upload_batch_values(batch.masks, {batch.n, 1, batch.h, batch.w}, device).to(output.dtype());
  const double weight = static_cast<double>(batch.n) / batch.global_n;
  const Tensor bce = binary_cross_entropy(output, target) * weight;  // a mean over pixels: weighted share
  // Batch Dice 1 - (2I + s) / (T + s) over the global batch, I = sum(p t), T = sum(p) + sum(t).
  // Its gradient on this rank's pixels is -(2 dI (T + s) - (2I + s) dT) / (T + s)^2 with the
  // global I and T: a surrogate of the local sums with that gradient, whose value is the
  // rank's weight times the global loss (so the shares' values add up to it).
  const Tensor p = sigmoid(output);
  const Tensor intersection = sum(p * target), total = sum(p) + sum(target);
  std::vector<double> global{intersection.item<double>(), total.item<double>()};
  comm.all_reduce_sum(global);
  const double smooth = loss_options_.dice.smooth;
  const double numerator = 2 * global[0] + smooth, denominator = global[1] + smooth;
  const Tensor surrogate = (intersection * (2 * denominator) - total * numerator) * (-1 / (denominator * denominator));
  const Tensor dice = surrogate - surrogate.detach() + weight * (1 - numerator / denominator);
  return loss_options_.bce_weight * bce + loss_options_.dice_weight * dice;
}

std::vector<double> SegmentationTask::accumulators() const {
  std::vector<double> v{static_cast<double>(pooled_.intersection), static_cast<double>(pooled_.predicted),
                        static_cast<double>(pooled_.truth), dice_sum_, iou_sum_, static_cast<double>(images_)};
  for (double s : meter_.sums()) v.push_back(s);
  return v;
}

void SegmentationTask::set_accumulators(const std::vector<double>& v) {
  GLIA_CHECK(v.size() == 16, "segmentation task: " << v.size() << " accumulators, expected 16");
  pooled_.intersection = static_cast<int64_t>(v[0]);
  pooled_.predicted = static_cast<int64_t>(v[1]);
  pooled_.truth = static_cast<int64_t>(v[2]);
  dice_sum_ = v[3];
  iou_sum_ = v[4];
  images_ = static_cast<int64_t>(v[5]);
  meter_.set_sums(std::vector<double>(v.begin() + 6, v.end()));
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
