// One batch of examples as plain NCHW float arrays (io does not depend on Tensor): what
// the Loader builds and what the trainer (train/batch_source.h) consumes; tests build
// them by hand. The tensor floor can wrap `images` without a copy.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace glia::io {

struct Batch {
  int n = 0, c = 0, h = 0, w = 0;
  std::vector<float> images;    // n*c*h*w, NCHW, contiguous
  std::vector<int64_t> labels;  // n (class labels; -1 for segmentation)
  std::vector<float> masks;     // n*1*h*w, 0/1, only from sources with masks
  std::vector<std::string> paths;
  std::vector<size_t> indices;  // dataset index of each sample
  uint64_t epoch = 0;
  size_t number = 0;  // batch number within the epoch
  // Data-parallel training: the samples of the global batch this is one rank's shard of
  // (train/communicator.h's shard_range); 0 when the batch is not a shard.
  int global_n = 0;
};

}  // namespace glia::io
