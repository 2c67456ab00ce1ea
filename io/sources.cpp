#include "io/sources.h"

#include "kernels/error.h"

namespace glia::io {

namespace {

void check_pipeline(const ImagePipeline& p) {
  GLIA_CHECK(p.channels == 1 || p.channels == 3, "image pipeline: channels " << p.channels << " must be 1 or 3");
  GLIA_CHECK(p.height > 0 && p.width > 0,
             "image pipeline: size " << p.width << "x" << p.height << " (width x height) must be positive");
  check_normalization(p.normalization, p.channels);
}

}  // namespace

ClassificationSource::ClassificationSource(std::vector<ClassificationSample> samples, ImagePipeline pipeline)
    : samples_(std::move(samples)), pipeline_(std::move(pipeline)) {
  check_pipeline(pipeline_);
}

void ClassificationSource::load(size_t index, Rng& rng, float* image, float*, int64_t* label) const {
  const ClassificationSample& s = samples_.at(index);
  const ImagePipeline& p = pipeline_;
  std::vector<uint8_t> bytes = read_file_bytes(s.path);
  cv::Mat img = decode_image(bytes.data(), bytes.size(), s.path, p.channels, nullptr, p.height, p.width,
                             p.interpolation);
  if (!p.augmentation.empty()) {
    AugmentPlan plan = p.augmentation.draw(rng, p.width, p.height);
    Augmentation::apply(plan, img, nullptr);
  }
  to_planar(img, p.normalization, image);
  *label = s.label;
}

SegmentationSource::SegmentationSource(std::vector<SegmentationSample> samples, ImagePipeline pipeline)
    : samples_(std::move(samples)), pipeline_(std::move(pipeline)) {
  check_pipeline(pipeline_);
}

void SegmentationSource::load(size_t index, Rng& rng, float* image, float* mask, int64_t* label) const {
  const SegmentationSample& s = samples_.at(index);
  const ImagePipeline& p = pipeline_;
  std::vector<uint8_t> image_bytes = read_file_bytes(s.image_path);
  cv::Mat img = decode_image(image_bytes.data(), image_bytes.size(), s.image_path, p.channels);
  std::vector<uint8_t> mask_bytes = read_file_bytes(s.mask_path);
  cv::Mat m = decode_mask(mask_bytes.data(), mask_bytes.size(), s.mask_path);
  GLIA_CHECK(m.rows == img.rows && m.cols == img.cols,
             s.mask_path << ": mask is " << m.cols << "x" << m.rows << " but its image " << s.image_path << " is "
                         << img.cols << "x" << img.rows << " (width x height)");
  img = resize_image(img, p.height, p.width, p.interpolation);
  m = resize_image(m, p.height, p.width, Interpolation::nearest);
  if (!p.augmentation.empty()) {
    AugmentPlan plan = p.augmentation.draw(rng, p.width, p.height);
    Augmentation::apply(plan, img, &m);
  }
  to_planar(img, p.normalization, image);
  to_planar(m, Normalization{}, mask);
  *label = -1;
}

}  // namespace glia::io
