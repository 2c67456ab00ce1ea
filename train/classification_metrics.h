// Classification metrics from a confusion matrix: accuracy, per-class precision, recall
// and F1, their macro and support-weighted averages. A class with no predictions has
// precision 0, one with no samples recall 0 (scikit-learn's zero_division=0); F1 is 0
// when precision + recall is 0.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace glia {

struct ClassScores {
  double precision = 0, recall = 0, f1 = 0;
  int64_t support = 0;  // samples whose true class this is
};

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int num_classes);

  void add(int64_t truth, int64_t predicted);  // error when either is out of range
  void add(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted);
  void merge(const ConfusionMatrix& other);

  int num_classes() const { return classes_; }
  int64_t count(int truth, int predicted) const { return counts_[static_cast<size_t>(truth * classes_ + predicted)]; }
  int64_t total() const;
  // Row-major [truth][predicted] counts, e.g. to add them up across ranks.
  const std::vector<int64_t>& counts() const { return counts_; }
  void set_counts(const std::vector<int64_t>& counts);  // error unless num_classes^2 counts >= 0

  double accuracy() const;  // 0 when empty
  ClassScores scores(int cls) const;
  ClassScores macro_average() const;     // unweighted mean over classes; support = total
  ClassScores weighted_average() const;  // weighted by support

  // A plain-text table with class names (rows: truth, columns: predicted).
  std::string to_string(const std::vector<std::string>& class_names) const;

 private:
  int classes_;
  std::vector<int64_t> counts_;  // row-major [truth][predicted]
};

}  // namespace glia
