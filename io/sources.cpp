#include "io/sources.h"

#include <functional>

#include "kernels/error.h"

namespace glia::io {

namespace {

void check_pipeline(const ImagePipeline& p) {
  GLIA_CHECK(p.channels == 1 || p.channels == 3, "image pipeline: channels " << p.channels << " must be 1 or 3");
  GLIA_CHECK(p.height > 0 && p.width > 0,
             "image pipeline: size " << p.width << "x" << p.height << " (width x height) must be positive");
  check_normalization(p.normalization, p.channels);
}

// The cached entry of `path`, or a fresh decode when there is no cache.
DecodedExample decoded(const std::shared_ptr<DecodedCache>& cache, const std::string& path, const ImagePipeline& p,
                       const std::function<DecodedExample()>& decode) {
  return cache ? cache->get(cache_key(path, p), decode) : decode();
}

}  // namespace

ClassificationSource::ClassificationSource(std::vector<ClassificationSample> samples, ImagePipeline pipeline,
                                           std::shared_ptr<DecodedCache> cache)
    : samples_(std::move(samples)), pipeline_(std::move(pipeline)), cache_(std::move(cache)) {
  check_pipeline(pipeline_);
}

DecodedExample ClassificationSource::decode(size_t index) const {
  const ClassificationSample& s = samples_.at(index);
  const ImagePipeline& p = pipeline_;
  std::vector<uint8_t> bytes = read_file_bytes(s.path);
  DecodedExample d;
  d.image = decode_resized(bytes.data(), bytes.size(), s.path, nullptr, p.height, p.width, p.interpolation);
  return d;
}

void ClassificationSource::load(size_t index, Rng& rng, float* image, float*, int64_t* label) const {
  const ClassificationSample& s = samples_.at(index);
  const ImagePipeline& p = pipeline_;
  const DecodedExample d = decoded(cache_, s.path, p, [&] { return decode(index); });
  cv::Mat img = to_float_image(d.image, p.channels);
  if (!p.augmentation.empty()) {
    AugmentPlan plan = p.augmentation.draw(rng, p.width, p.height);
    Augmentation::apply(plan, img, nullptr);
  }
  to_planar(img, p.normalization, image);
  *label = s.label;
}

SegmentationSource::SegmentationSource(std::vector<SegmentationSample> samples, ImagePipeline pipeline,
                                       std::shared_ptr<DecodedCache> cache)
    : samples_(std::move(samples)), pipeline_(std::move(pipeline)), cache_(std::move(cache)) {
  check_pipeline(pipeline_);
}

// The image is resized in its native depth, as the classifier's are (and PIL resizes
// uint8 images), so that the cache can keep it as uint8.
DecodedExample SegmentationSource::decode(size_t index) const {
  const SegmentationSample& s = samples_.at(index);
  const ImagePipeline& p = pipeline_;
  std::vector<uint8_t> image_bytes = read_file_bytes(s.image_path);
  DecodedInfo info, mask_info;
  DecodedExample d;
  d.image = decode_resized(image_bytes.data(), image_bytes.size(), s.image_path, &info, p.height, p.width,
                           p.interpolation);
  std::vector<uint8_t> mask_bytes = read_file_bytes(s.mask_path);
  cv::Mat m = decode_mask_u8(mask_bytes.data(), mask_bytes.size(), s.mask_path, &mask_info);
  GLIA_CHECK(mask_info.height == info.height && mask_info.width == info.width,
             s.mask_path << ": mask is " << mask_info.width << "x" << mask_info.height << " but its image "
                         << s.image_path << " is " << info.width << "x" << info.height << " (width x height)");
  d.mask = resize_image(m, p.height, p.width, Interpolation::nearest);
  return d;
}

void SegmentationSource::load(size_t index, Rng& rng, float* image, float* mask, int64_t* label) const {
  const SegmentationSample& s = samples_.at(index);
  const ImagePipeline& p = pipeline_;
  const DecodedExample d = decoded(cache_, s.image_path, p, [&] { return decode(index); });
  cv::Mat img = to_float_image(d.image, p.channels);
  cv::Mat m;
  d.mask.convertTo(m, CV_32F);
  if (!p.augmentation.empty()) {
    AugmentPlan plan = p.augmentation.draw(rng, p.width, p.height);
    Augmentation::apply(plan, img, &m);
  }
  to_planar(img, p.normalization, image);
  to_planar(m, Normalization{}, mask);
  *label = -1;
}

}  // namespace glia::io
