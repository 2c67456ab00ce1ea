// Example sources: what the loader's workers call to turn one dataset entry into model
// input (decode, resize, augment, normalise, planar float). Sources are immutable and
// shared by all workers; all randomness comes from the Rng the loader passes in. A
// source given a DecodedCache (io/decoded_cache.h) decodes and resizes each file once
// and augments the kept copy every epoch; its batches are bit-identical to those of a
// source without one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/augment.h"
#include "io/classification_dataset.h"
#include "io/decoded_cache.h"
#include "io/image.h"
#include "io/random.h"
#include "io/segmentation_dataset.h"

namespace glia::io {

// How images become tensors: every image is resized to height x width (with
// `interpolation`; masks always with nearest), augmented at that size, then normalised.
struct ImagePipeline {
  int channels = 3;
  int height = 240, width = 240;
  Interpolation interpolation = Interpolation::area;
  Normalization normalization;  // empty: values stay in [0, 1]
  Augmentation augmentation;    // empty: none
};

class ExampleSource {
 public:
  virtual ~ExampleSource() = default;
  virtual size_t size() const = 0;
  virtual const ImagePipeline& pipeline() const = 0;
  virtual bool has_masks() const = 0;
  virtual std::string path(size_t index) const = 0;
  // Writes sample `index`: image (channels*height*width floats, CHW), mask (height*width
  // floats 0/1, only when has_masks) and label (-1 when there is none). Throws
  // glia::Error naming the file on bad input.
  virtual void load(size_t index, Rng& rng, float* image, float* mask, int64_t* label) const = 0;
};

class ClassificationSource : public ExampleSource {
 public:
  ClassificationSource(std::vector<ClassificationSample> samples, ImagePipeline pipeline,
                       std::shared_ptr<DecodedCache> cache = nullptr);
  size_t size() const override { return samples_.size(); }
  const ImagePipeline& pipeline() const override { return pipeline_; }
  bool has_masks() const override { return false; }
  std::string path(size_t index) const override { return samples_.at(index).path; }
  void load(size_t index, Rng& rng, float* image, float* mask, int64_t* label) const override;
  const std::vector<ClassificationSample>& samples() const { return samples_; }
  const std::shared_ptr<DecodedCache>& cache() const { return cache_; }

 private:
  DecodedExample decode(size_t index) const;  // the part a cache keeps
  std::vector<ClassificationSample> samples_;
  ImagePipeline pipeline_;
  std::shared_ptr<DecodedCache> cache_;
};

class SegmentationSource : public ExampleSource {
 public:
  SegmentationSource(std::vector<SegmentationSample> samples, ImagePipeline pipeline,
                     std::shared_ptr<DecodedCache> cache = nullptr);
  size_t size() const override { return samples_.size(); }
  const ImagePipeline& pipeline() const override { return pipeline_; }
  bool has_masks() const override { return true; }
  std::string path(size_t index) const override { return samples_.at(index).image_path; }
  void load(size_t index, Rng& rng, float* image, float* mask, int64_t* label) const override;
  const std::vector<SegmentationSample>& samples() const { return samples_; }
  const std::shared_ptr<DecodedCache>& cache() const { return cache_; }

 private:
  DecodedExample decode(size_t index) const;  // the part a cache keeps
  std::vector<SegmentationSample> samples_;
  ImagePipeline pipeline_;
  std::shared_ptr<DecodedCache> cache_;
};

}  // namespace glia::io
