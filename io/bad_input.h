// Bad input policy shared by the datasets and the loader: by default a bad file is a
// glia::Error naming it; with skip_bad (the `--skip-bad` flag) it becomes a warning on
// stderr, the file is left out, and the count is reported at the end.
#pragma once
#include <cstddef>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

#include "kernels/error.h"

namespace glia::io {

class BadInputLog {
 public:
  explicit BadInputLog(bool skip_bad = false, bool quiet = false) : skip_bad_(skip_bad), quiet_(quiet) {}

  bool skip_bad() const { return skip_bad_; }

  // Throws glia::Error(message) unless skip_bad; then records and prints a warning.
  void bad(const std::string& message) {
    if (!skip_bad_) throw Error(message);
    std::lock_guard<std::mutex> lock(mutex_);
    messages_.push_back(message);
    if (!quiet_) std::cerr << "glia: warning: skipped: " << message << "\n";
  }

  size_t count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return messages_.size();
  }
  std::vector<std::string> messages() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return messages_;
  }

 private:
  bool skip_bad_;
  bool quiet_;
  mutable std::mutex mutex_;
  std::vector<std::string> messages_;
};

}  // namespace glia::io
