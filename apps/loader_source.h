// Connects the io floor's threaded Loader to the trainer's BatchSource (train/ cannot
// include io/). The io Batch's vectors are moved, not copied.
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
  bool next(TrainBatch& out) override {
    io::Batch b;
    if (!loader_.next(b)) return false;
    out.n = b.n;
    out.c = b.c;
    out.h = b.h;
    out.w = b.w;
    out.images = std::move(b.images);
    out.labels = std::move(b.labels);
    out.masks = std::move(b.masks);
    out.paths = std::move(b.paths);
    return true;
  }
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
