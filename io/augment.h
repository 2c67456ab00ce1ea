// Seeded augmentation. Each transform is a small object that draws its parameters from
// an Rng; a pipeline (Augmentation) is a list of them. All geometric transforms compose
// into one 2x3 affine matrix, so an image is warped once (one interpolation, not one per
// transform), and a segmentation mask gets the very same matrix with nearest-neighbour
// sampling so it stays binary. Photometric transforms touch the image only.
//
// Angles are in degrees; geometry is about the image centre; pixels that come from
// outside the image are 0 (black, like the background of an MRI slice).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "io/random.h"

namespace glia::io {

// What one draw of the pipeline does to one sample.
struct AugmentPlan {
  // Maps input pixel (x, y) to output pixel (x', y'), as cv::warpAffine takes it
  // without WARP_INVERSE_MAP. Starts as the identity.
  cv::Matx33d forward = cv::Matx33d::eye();
  float contrast = 1.0f;    // x' = x * contrast + brightness, then clamped to [0, 1]
  float brightness = 0.0f;
  bool photometric = false;
};

class Transform {
 public:
  virtual ~Transform() = default;
  // Draws this transform's parameters and composes them into `plan` (applied after the
  // transforms before it). width/height are the size of the image being augmented.
  virtual void draw(Rng& rng, int width, int height, AugmentPlan& plan) const = 0;
  virtual std::string describe() const = 0;
};

// Rotation by an angle uniform in [-max_degrees, max_degrees].
class RandomRotation : public Transform {
 public:
  explicit RandomRotation(float max_degrees) : max_degrees_(max_degrees) {}
  void draw(Rng& rng, int width, int height, AugmentPlan& plan) const override;
  std::string describe() const override;
 private:
  float max_degrees_;
};

// Mirror left-right (horizontal) or top-bottom (vertical) with probability p.
class RandomFlip : public Transform {
 public:
  RandomFlip(bool horizontal, float p) : horizontal_(horizontal), p_(p) {}
  void draw(Rng& rng, int width, int height, AugmentPlan& plan) const override;
  std::string describe() const override;
 private:
  bool horizontal_;
  float p_;
};

// Isotropic scale uniform in [min_scale, max_scale] (> 1 zooms in).
class RandomZoom : public Transform {
 public:
  RandomZoom(float min_scale, float max_scale) : min_(min_scale), max_(max_scale) {}
  void draw(Rng& rng, int width, int height, AugmentPlan& plan) const override;
  std::string describe() const override;
 private:
  float min_, max_;
};

// Shift by up to max_fraction of the width (x) and height (y), uniform in each axis.
class RandomTranslate : public Transform {
 public:
  explicit RandomTranslate(float max_fraction) : max_fraction_(max_fraction) {}
  void draw(Rng& rng, int width, int height, AugmentPlan& plan) const override;
  std::string describe() const override;
 private:
  float max_fraction_;
};

// x' = x * c + b with c uniform in [1 - contrast, 1 + contrast] and b uniform in
// [-brightness, brightness]; image only.
class BrightnessContrast : public Transform {
 public:
  BrightnessContrast(float brightness, float contrast) : brightness_(brightness), contrast_(contrast) {}
  void draw(Rng& rng, int width, int height, AugmentPlan& plan) const override;
  std::string describe() const override;
 private:
  float brightness_, contrast_;
};

class Augmentation {
 public:
  Augmentation& add(std::unique_ptr<Transform> transform);
  bool empty() const { return transforms_.empty(); }
  std::string describe() const;

  AugmentPlan draw(Rng& rng, int width, int height) const;

  // Applies `plan` in place: `image` (float, any channels) with bilinear sampling,
  // `mask` (float 0/1, may be null) with nearest. Pure flips are exact copies.
  static void apply(const AugmentPlan& plan, cv::Mat& image, cv::Mat* mask);

  // The paper's training augmentation: rotation +-15 degrees, both flips (p = 0.5),
  // zoom 0.9-1.1, translation up to 10 %, and brightness/contrast +-0.1 when asked.
  static Augmentation standard(bool photometric);

 private:
  std::vector<std::shared_ptr<const Transform>> transforms_;
};

}  // namespace glia::io
