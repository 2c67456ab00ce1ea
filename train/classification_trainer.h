// The classification task for the Trainer: categorical cross-entropy on logits [N, C]
// against int64 labels, accuracy as the monitored metric, and a confusion matrix with
// per-class precision/recall/F1 for reports.
#pragma once
#include <string>
#include <vector>

#include "train/classification_metrics.h"
#include "train/trainer.h"

namespace glia {

class ClassificationTask : public TrainTask {
 public:
  explicit ClassificationTask(int num_classes, double label_smoothing = 0);
  std::string name() const override { return "classification"; }
  std::string metric_name() const override { return "accuracy"; }
  void check_batch(const io::Batch& batch) const override;
  Tensor loss(const Tensor& output, const io::Batch& batch, Device device) const override;
  void reset() override { confusion_ = ConfusionMatrix(classes_); }
  void add(const Tensor& output, const io::Batch& batch) override;
  double metric() const override { return confusion_.accuracy(); }
  // accuracy, macro precision/recall/F1, weighted F1.
  Metrics metrics() const override;
  std::vector<double> accumulators() const override;  // the confusion counts
  void set_accumulators(const std::vector<double>& values) override;

  const ConfusionMatrix& confusion() const { return confusion_; }

 private:
  int classes_;
  double label_smoothing_;
  ConfusionMatrix confusion_;
};

// Softmax probabilities of logits [N, C], row-major on the host.
std::vector<float> class_probabilities(const Tensor& logits);

}  // namespace glia
