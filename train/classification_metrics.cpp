#include "train/classification_metrics.h"

#include <cstdio>
#include <sstream>

#include "kernels/error.h"

namespace glia {

ConfusionMatrix::ConfusionMatrix(int num_classes) : classes_(num_classes) {
  GLIA_CHECK(num_classes > 0, "ConfusionMatrix needs at least one class, got " << num_classes);
  counts_.assign(static_cast<size_t>(num_classes) * static_cast<size_t>(num_classes), 0);
}

void ConfusionMatrix::add(int64_t truth, int64_t predicted) {
  GLIA_CHECK(truth >= 0 && truth < classes_ && predicted >= 0 && predicted < classes_,
             "ConfusionMatrix::add: class out of range (truth " << truth << ", predicted " << predicted << ", "
                                                                << classes_ << " classes)");
  ++counts_[static_cast<size_t>(truth * classes_ + predicted)];
}

void ConfusionMatrix::add(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted) {
  GLIA_CHECK(truth.size() == predicted.size(), "ConfusionMatrix::add: " << truth.size() << " labels but "
                                                                        << predicted.size() << " predictions");
  for (size_t i = 0; i < truth.size(); ++i) add(truth[i], predicted[i]);
}

void ConfusionMatrix::merge(const ConfusionMatrix& other) {
  GLIA_CHECK(other.classes_ == classes_, "ConfusionMatrix::merge: " << other.classes_ << " classes into " << classes_);
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
}

int64_t ConfusionMatrix::total() const {
  int64_t t = 0;
  for (int64_t c : counts_) t += c;
  return t;
}

double ConfusionMatrix::accuracy() const {
  int64_t correct = 0;
  for (int c = 0; c < classes_; ++c) correct += count(c, c);
  int64_t t = total();
  return t == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(t);
}

ClassScores ConfusionMatrix::scores(int cls) const {
  GLIA_CHECK(cls >= 0 && cls < classes_, "ConfusionMatrix::scores: class " << cls << " out of range (" << classes_ << ")");
  int64_t tp = count(cls, cls), predicted = 0, actual = 0;
  for (int c = 0; c < classes_; ++c) {
    predicted += count(c, cls);
    actual += count(cls, c);
  }
  ClassScores s;
  s.support = actual;
  s.precision = predicted == 0 ? 0.0 : static_cast<double>(tp) / static_cast<double>(predicted);
  s.recall = actual == 0 ? 0.0 : static_cast<double>(tp) / static_cast<double>(actual);
  s.f1 = s.precision + s.recall == 0 ? 0.0 : 2 * s.precision * s.recall / (s.precision + s.recall);
  return s;
}

ClassScores ConfusionMatrix::macro_average() const {
  ClassScores m;
  for (int c = 0; c < classes_; ++c) {
    ClassScores s = scores(c);
    m.precision += s.precision / classes_;
    m.recall += s.recall / classes_;
    m.f1 += s.f1 / classes_;
  }
  m.support = total();
  return m;
}

ClassScores ConfusionMatrix::weighted_average() const {
  ClassScores w;
  int64_t t = total();
  w.support = t;
  if (t == 0) return w;
  for (int c = 0; c < classes_; ++c) {
    ClassScores s = scores(c);
    double weight = static_cast<double>(s.support) / static_cast<double>(t);
    w.precision += weight * s.precision;
    w.recall += weight * s.recall;
    w.f1 += weight * s.f1;
  }
  return w;
}

std::string ConfusionMatrix::to_string(const std::vector<std::string>& class_names) const {
  GLIA_CHECK(static_cast<int>(class_names.size()) == classes_,
             "ConfusionMatrix::to_string: " << class_names.size() << " names for " << classes_ << " classes");
  size_t width = 10;
  for (auto& n : class_names) width = std::max(width, n.size() + 2);
  std::ostringstream os;
  char buf[64];
  os << std::string(width, ' ');
  for (auto& n : class_names) {
    std::snprintf(buf, sizeof buf, "%*s", static_cast<int>(width), n.c_str());
    os << buf;
  }
  os << "   <- predicted\n";
  for (int r = 0; r < classes_; ++r) {
    std::snprintf(buf, sizeof buf, "%-*s", static_cast<int>(width), class_names[static_cast<size_t>(r)].c_str());
    os << buf;
    for (int c = 0; c < classes_; ++c) {
      std::snprintf(buf, sizeof buf, "%*lld", static_cast<int>(width), static_cast<long long>(count(r, c)));
      os << buf;
    }
    os << '\n';
  }
  return os.str();
}

void ConfusionMatrix::set_counts(const std::vector<int64_t>& counts) {
  GLIA_CHECK(counts.size() == counts_.size(), "confusion matrix of " << classes_ << " classes: " << counts.size()
                                                                     << " counts, expected " << counts_.size());
  for (int64_t c : counts) GLIA_CHECK(c >= 0, "confusion matrix: negative count " << c);
  counts_ = counts;
}

}  // namespace glia
