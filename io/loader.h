// Threaded prefetching loader. A pool of workers builds whole batches ahead of the
// consumer (at most `prefetch` batches beyond the one being read: a bounded queue), and
// next() hands them out strictly in order. Batch b of epoch e holds the samples at
// positions [b*B, (b+1)*B) of epoch e's order, and the sample at position p is
// augmented with Rng(seed, augment, e, p); so the batch sequence is the same bits
// whatever the number of workers or how the OS schedules them. (Keying by position, not
// dataset index, gives the repeats of an oversampled slice different augmentations.)
// With merge_single_last, a last batch that would hold a single sample is merged into
// the batch before it (which then holds B+1): training batch norm needs more than one
// value per channel, and a 1x1 feature map of one image gives it one. The rule depends
// only on the number of samples and B, so the batches stay deterministic.
//
// Batches are plain NCHW float arrays (io does not depend on Tensor); the tensor floor
// can wrap `images` without a copy.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "io/bad_input.h"
#include "io/batch.h"
#include "io/sources.h"

namespace glia::io {

struct LoaderOptions {
  int batch_size = 32;
  int workers = 2;     // 0: build batches on the calling thread
  int prefetch = 4;    // batches built ahead of the consumer
  bool shuffle = true;
  bool drop_last = false;
  bool merge_single_last = false;  // see the header comment (ignored with drop_last)
  uint64_t seed = 0;
  bool skip_bad = false;  // a sample that fails to load is left out with a warning
  bool quiet = false;     // no warnings on stderr (still counted)
  // Data-parallel training: each batch is built only for shard `shard_rank` of
  // `shard_count` (positions [b + floor(r n / k), b + floor((r+1) n / k)) of a batch of n
  // at position b, train/communicator.h's shard_range), with Batch::global_n = n. The
  // order, the batches and each sample's augmentation are those of the unsharded loader.
  // With skip_bad, global_n stays the nominal n when a sample of the batch is left out.
  int shard_rank = 0, shard_count = 1;
};

// The smallest batch an epoch of `samples` samples gives with these options (0 when
// there are no samples), e.g. to check up front that batch norm can train on it.
size_t smallest_batch(size_t samples, const LoaderOptions& options);

struct LoaderStats {
  size_t images = 0, batches = 0;  // handed out in the current epoch
  size_t skipped = 0;              // bad samples left out since the loader was made (skip_bad)
  double seconds = 0;  // wall time since start_epoch() until the last batch was handed out
  // Wall time next() spent waiting for a batch (building it, with no workers): the time
  // the loader held the consumer up. Near 0 when the workers keep ahead of it.
  double wait_seconds = 0;
  double images_per_second() const { return seconds > 0 ? images / seconds : 0.0; }
};

class Loader {
 public:
  // `order` lists the dataset indices of one epoch before shuffling (may repeat
  // indices, see oversample_positive); empty means 0 .. size-1.
  Loader(std::shared_ptr<const ExampleSource> source, LoaderOptions options, std::vector<size_t> order = {});
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Begins epoch `epoch` (abandoning any batches of the previous one).
  void start_epoch(uint64_t epoch);
  // The next batch of the current epoch; false at its end. Rethrows a worker's
  // glia::Error (bad input without skip_bad) for the batch it belongs to.
  bool next(Batch& batch);

  size_t batches_per_epoch() const;
  // The shuffled order of an epoch (dataset indices by position).
  std::vector<size_t> epoch_order(uint64_t epoch) const;
  LoaderStats stats() const;
  std::vector<std::string> skipped_messages() const { return log_.messages(); }

 private:
  struct Result {
    Batch batch;
    std::exception_ptr error;
  };
  void worker_loop();
  Batch build_batch(uint64_t epoch, size_t number, const std::vector<size_t>& order);

  std::shared_ptr<const ExampleSource> source_;
  LoaderOptions options_;
  std::vector<size_t> base_order_;
  BadInputLog log_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool active_ = false;
  uint64_t generation_ = 0;  // bumped by start_epoch so stale work is discarded
  uint64_t epoch_ = 0;
  std::shared_ptr<const std::vector<size_t>> order_;
  size_t num_batches_ = 0, next_to_build_ = 0, next_to_hand_out_ = 0;
  std::map<size_t, Result> ready_;
  std::vector<std::thread> workers_;

  double epoch_start_ = 0;
  LoaderStats stats_;
};

}  // namespace glia::io
