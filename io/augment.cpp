#include "io/augment.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <opencv2/imgproc.hpp>

#include "kernels/error.h"

namespace glia::io {

namespace {

// Conjugates a transform about the image centre: T(c) * m * T(-c). Pixel centres run
// from 0 to size-1, so the centre is (size-1)/2 and a flip maps x to size-1-x exactly.
cv::Matx33d about_centre(const cv::Matx33d& m, int width, int height) {
  double cx = (width - 1) * 0.5, cy = (height - 1) * 0.5;
  cv::Matx33d to(1, 0, cx, 0, 1, cy, 0, 0, 1), from(1, 0, -cx, 0, 1, -cy, 0, 0, 1);
  return to * m * from;
}

std::string fmt(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

bool near_integer(double v) { return std::abs(v - std::round(v)) < 1e-9; }

}  // namespace

void RandomRotation::draw(Rng& rng, int width, int height, AugmentPlan& plan) const {
  double rad = rng.uniform(-max_degrees_, max_degrees_) * M_PI / 180.0;
  double c = std::cos(rad), s = std::sin(rad);
  plan.forward = about_centre(cv::Matx33d(c, -s, 0, s, c, 0, 0, 0, 1), width, height) * plan.forward;
}
std::string RandomRotation::describe() const { return "rotation(+-" + fmt(max_degrees_) + " deg)"; }

void RandomFlip::draw(Rng& rng, int width, int height, AugmentPlan& plan) const {
  if (!rng.bernoulli(p_)) return;
  cv::Matx33d m = horizontal_ ? cv::Matx33d(-1, 0, 0, 0, 1, 0, 0, 0, 1) : cv::Matx33d(1, 0, 0, 0, -1, 0, 0, 0, 1);
  plan.forward = about_centre(m, width, height) * plan.forward;
}
std::string RandomFlip::describe() const {
  return std::string(horizontal_ ? "hflip" : "vflip") + "(p=" + fmt(p_) + ")";
}

void RandomZoom::draw(Rng& rng, int width, int height, AugmentPlan& plan) const {
  GLIA_CHECK(min_ > 0 && max_ >= min_, "RandomZoom: scales [" << min_ << ", " << max_ << "] must be 0 < min <= max");
  double s = rng.uniform(min_, max_);
  plan.forward = about_centre(cv::Matx33d(s, 0, 0, 0, s, 0, 0, 0, 1), width, height) * plan.forward;
}
std::string RandomZoom::describe() const { return "zoom(" + fmt(min_) + ".." + fmt(max_) + ")"; }

void RandomTranslate::draw(Rng& rng, int width, int height, AugmentPlan& plan) const {
  double tx = rng.uniform(-max_fraction_, max_fraction_) * width;
  double ty = rng.uniform(-max_fraction_, max_fraction_) * height;
  plan.forward = cv::Matx33d(1, 0, tx, 0, 1, ty, 0, 0, 1) * plan.forward;
}
std::string RandomTranslate::describe() const { return "translate(+-" + fmt(max_fraction_) + ")"; }

void BrightnessContrast::draw(Rng& rng, int, int, AugmentPlan& plan) const {
  float c = rng.uniform(1.0f - contrast_, 1.0f + contrast_);
  float b = rng.uniform(-brightness_, brightness_);
  plan.contrast *= c;
  plan.brightness = plan.brightness * c + b;
  plan.photometric = true;
}
std::string BrightnessContrast::describe() const {
  return "brightness(+-" + fmt(brightness_) + ") contrast(+-" + fmt(contrast_) + ")";
}

Augmentation& Augmentation::add(std::unique_ptr<Transform> transform) {
  GLIA_CHECK(transform != nullptr, "Augmentation::add: null transform");
  transforms_.push_back(std::move(transform));
  return *this;
}

std::string Augmentation::describe() const {
  std::string s;
  for (const auto& t : transforms_) s += (s.empty() ? "" : ", ") + t->describe();
  return s.empty() ? "none" : s;
}

AugmentPlan Augmentation::draw(Rng& rng, int width, int height) const {
  AugmentPlan plan;
  for (const auto& t : transforms_) t->draw(rng, width, height, plan);
  return plan;
}

void Augmentation::apply(const AugmentPlan& plan, cv::Mat& image, cv::Mat* mask) {
  if (mask)
    GLIA_CHECK(mask->rows == image.rows && mask->cols == image.cols,
               "Augmentation::apply: mask " << mask->cols << "x" << mask->rows << " and image " << image.cols
                                            << "x" << image.rows << " (width x height) differ in size");
  const cv::Matx33d& f = plan.forward;
  cv::Matx23d m(f(0, 0), f(0, 1), f(0, 2), f(1, 0), f(1, 1), f(1, 2));
  bool identity = f == cv::Matx33d::eye();
  // A flip (or flip pair) with integer offsets is a pure permutation of pixels: copy
  // exactly instead of interpolating.
  bool axis_flip = std::abs(std::abs(m(0, 0)) - 1) < 1e-12 && std::abs(std::abs(m(1, 1)) - 1) < 1e-12 &&
                   std::abs(m(0, 1)) < 1e-12 && std::abs(m(1, 0)) < 1e-12 && near_integer(m(0, 2)) &&
                   near_integer(m(1, 2)) &&
                   std::abs(m(0, 2) - (m(0, 0) < 0 ? image.cols - 1 : 0)) < 1e-9 &&
                   std::abs(m(1, 2) - (m(1, 1) < 0 ? image.rows - 1 : 0)) < 1e-9;
  if (identity) {
  } else if (axis_flip) {
    int code = m(0, 0) < 0 ? (m(1, 1) < 0 ? -1 : 1) : 0;  // cv::flip: 1 horizontal, 0 vertical, -1 both
    cv::flip(image, image, code);
    if (mask) cv::flip(*mask, *mask, code);
  } else {
    cv::Mat warped;
    cv::warpAffine(image, warped, m, image.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(0));
    image = warped;
    if (mask) {
      cv::Mat warped_mask;
      cv::warpAffine(*mask, warped_mask, m, mask->size(), cv::INTER_NEAREST, cv::BORDER_CONSTANT, cv::Scalar::all(0));
      *mask = warped_mask;
    }
  }
  if (plan.photometric) {  // one pass over the (continuous, float) pixels
    GLIA_CHECK(image.depth() == CV_32F, "Augmentation::apply: brightness/contrast needs a float image");
    if (!image.isContinuous()) image = image.clone();
    float* p = image.ptr<float>(0);
    const size_t n = image.total() * static_cast<size_t>(image.channels());
    for (size_t i = 0; i < n; ++i) p[i] = std::min(1.0f, std::max(0.0f, p[i] * plan.contrast + plan.brightness));
  }
}

Augmentation Augmentation::standard(bool photometric) {
  Augmentation a;
  a.add(std::make_unique<RandomRotation>(15.0f))
      .add(std::make_unique<RandomFlip>(true, 0.5f))
      .add(std::make_unique<RandomFlip>(false, 0.5f))
      .add(std::make_unique<RandomZoom>(0.9f, 1.1f))
      .add(std::make_unique<RandomTranslate>(0.1f));
  if (photometric) a.add(std::make_unique<BrightnessContrast>(0.1f, 0.1f));
  return a;
}

}  // namespace glia::io
