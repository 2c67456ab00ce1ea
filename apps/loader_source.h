// Connects io's threaded Loader to the trainer's BatchSource, with the order key the
// CLI's loader options give a checkpoint. Both speak io::Batch, so batches pass through.
#pragma once
#include <memory>
#include <string>

#include "io/loader.h"
#include "train/batch_source.h"

namespace glia::app {

class LoaderSource : public BatchSource {
 public:
  LoaderSource(std::shared_ptr<const io::ExampleSource> source, io::LoaderOptions options,
               std::vector<size_t> order = {})
      : options_(options), samples_(order.empty() ? source->size() : order.size()),
        loader_(std::move(source), options, std::move(order)) {}
  void start_epoch(uint64_t epoch) override { loader_.start_epoch(epoch); }
  bool next(io::Batch& out) override { return loader_.next(out); }
  size_t batches_per_epoch() const override { return loader_.batches_per_epoch(); }
  size_t samples() const override { return samples_; }
  std::string order_key() const override {
    return "seed=" + std::to_string(options_.seed) + " batch=" + std::to_string(options_.batch_size) +
           " samples=" + std::to_string(samples_) + " shuffle=" + (options_.shuffle ? "1" : "0");
  }
  io::Loader& loader() { return loader_; }

 private:
  io::LoaderOptions options_;
  size_t samples_;
  io::Loader loader_;
};

}  // namespace glia::app
