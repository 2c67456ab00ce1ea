// What the trainer reads: io::Batch (io/batch.h), host images (NCHW floats) with class
// labels or masks. The apps floor adapts io's threaded Loader to this interface
// (apps/loader_source.h: it owns the loader options the CLI sets), and tests feed
// batches directly.
//
// A source must give, for a given epoch, the same batches in the same order every time
// it is asked (the io loader does: its order is a function of seed and epoch). That is
// what lets a resumed run see exactly the data the uninterrupted one saw.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "io/batch.h"

namespace glia {

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual void start_epoch(uint64_t epoch) = 0;
  virtual bool next(io::Batch& batch) = 0;  // false at the end of the epoch
  virtual size_t batches_per_epoch() const = 0;
  virtual size_t samples() const = 0;  // images per epoch
  // Identifies the data order (e.g. the shuffling seed) so a checkpoint can refuse to
  // resume over a different order. Empty when the source has no such notion.
  virtual std::string order_key() const { return ""; }
};

// A fixed list of batches, the same every epoch (tests, small evaluations).
class VectorBatchSource : public BatchSource {
 public:
  explicit VectorBatchSource(std::vector<io::Batch> batches) : batches_(std::move(batches)) {}
  void start_epoch(uint64_t) override { next_ = 0; }
  bool next(io::Batch& batch) override {
    if (next_ >= batches_.size()) return false;
    batch = batches_[next_++];
    return true;
  }
  size_t batches_per_epoch() const override { return batches_.size(); }
  size_t samples() const override {
    size_t n = 0;
    for (const auto& b : batches_) n += static_cast<size_t>(b.n);
    return n;
  }

 private:
  std::vector<io::Batch> batches_;
  size_t next_ = 0;
};

}  // namespace glia
