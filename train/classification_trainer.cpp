#include "train/classification_trainer.h"

#include <algorithm>

#include "kernels/error.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "train/batch_upload.h"
#include "train/losses.h"

namespace glia {

ClassificationTask::ClassificationTask(int num_classes, double label_smoothing)
    : classes_(num_classes), label_smoothing_(label_smoothing), confusion_(num_classes) {
  GLIA_CHECK(num_classes >= 2, "classification task: " << num_classes << " classes, need at least 2");
}

void ClassificationTask::check_batch(const io::Batch& batch) const {
  GLIA_CHECK(batch.labels.size() == static_cast<size_t>(batch.n),
             "classification batch of " << batch.n << " images has " << batch.labels.size() << " labels");
  for (size_t i = 0; i < batch.labels.size(); ++i)
    GLIA_CHECK(batch.labels[i] >= 0 && batch.labels[i] < classes_,
               "classification batch: label " << batch.labels[i] << " of "
                                              << (i < batch.paths.size() ? batch.paths[i] : "sample " + std::to_string(i))
                                              << " is outside [0, " << classes_ << ")");
}

Tensor ClassificationTask::loss(const Tensor& output, const io::Batch& batch, Device device) const {
  GLIA_CHECK(output.dim() == 2 && output.size(1) == classes_,
             "classification loss: model output " << shape_str(output.sizes()) << " is not [N, " << classes_ << "]");
  return categorical_cross_entropy(output, upload_batch_values(batch.labels, {batch.n}, device), label_smoothing_);
}

std::vector<float> class_probabilities(const Tensor& logits) {
  NoGradGuard no_grad;
  return softmax(logits.detach(), 1).to_vector<float>();
}

void ClassificationTask::add(const Tensor& output, const io::Batch& batch) {
  const std::vector<float> logits = output.detach().to_vector<float>();
  const size_t c = static_cast<size_t>(classes_);
  for (size_t i = 0; i < static_cast<size_t>(batch.n); ++i) {
    const float* row = logits.data() + i * c;
    const int64_t predicted = std::max_element(row, row + c) - row;
    confusion_.add(batch.labels[i], predicted);
  }
}

std::vector<double> ClassificationTask::accumulators() const {
  // Counts stay exact as doubles up to 2^53.
  return std::vector<double>(confusion_.counts().begin(), confusion_.counts().end());
}

void ClassificationTask::set_accumulators(const std::vector<double>& values) {
  confusion_.set_counts(std::vector<int64_t>(values.begin(), values.end()));
}

Metrics ClassificationTask::metrics() const {
  const ClassScores macro = confusion_.macro_average(), weighted = confusion_.weighted_average();
  return {{"accuracy", confusion_.accuracy()},
          {"macro_precision", macro.precision},
          {"macro_recall", macro.recall},
          {"macro_f1", macro.f1},
          {"weighted_f1", weighted.f1}};
}

}  // namespace glia
