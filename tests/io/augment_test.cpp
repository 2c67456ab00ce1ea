// Augmentation: exact flips, one transform for image and mask, binary masks, seeded draws.
#include <cmath>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "io/augment.h"
#include "io/phantom.h"
#include "kernels/error.h"

namespace glia::io {
namespace {

cv::Mat random_image(int h, int w, int channels, uint64_t seed) {
  cv::Mat m(h, w, CV_32FC(channels));
  Rng rng(seed, RngDomain::augment, 0, 999);
  float* p = m.ptr<float>(0);
  for (size_t i = 0; i < m.total() * channels; ++i) p[i] = 0.05f + 0.9f * rng.uniform();
  return m;
}

AugmentPlan draw_one(const Transform& t, int w, int h, uint64_t index = 0) {
  Rng rng(1, RngDomain::augment, 0, index);
  AugmentPlan plan;
  t.draw(rng, w, h, plan);
  return plan;
}

TEST(Augment, FlipsAreExact) {
  const int h = 7, w = 9;
  cv::Mat src = random_image(h, w, 3, 1);
  for (bool horizontal : {true, false}) {
    cv::Mat img = src.clone();
    cv::Mat mask = (random_image(h, w, 1, 2) > 0.5f) / 255;
    mask.convertTo(mask, CV_32F);
    cv::Mat mask_src = mask.clone();
    Augmentation::apply(draw_one(RandomFlip(horizontal, 1.0f), w, h), img, &mask);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        int sy = horizontal ? y : h - 1 - y, sx = horizontal ? w - 1 - x : x;
        for (int k = 0; k < 3; ++k) ASSERT_EQ(img.at<cv::Vec3f>(y, x)[k], src.at<cv::Vec3f>(sy, sx)[k]);
        ASSERT_EQ(mask.at<float>(y, x), mask_src.at<float>(sy, sx));
      }
  }
  // p = 0 never flips.
  cv::Mat img = src.clone();
  Augmentation::apply(draw_one(RandomFlip(true, 0.0f), w, h), img, nullptr);
  EXPECT_EQ(cv::norm(img, src, cv::NORM_INF), 0.0);
}

TEST(Augment, ComposedFlipsAreExact) {
  // hflip then vflip compose (about the centre) into a 180-degree rotation, which must
  // come out as a pure permutation of pixels.
  const int h = 6, w = 5;
  cv::Mat src = random_image(h, w, 1, 3), img = src.clone();
  Augmentation a;
  a.add(std::make_unique<RandomFlip>(true, 1.0f)).add(std::make_unique<RandomFlip>(false, 1.0f));
  Rng rng(0, RngDomain::augment, 0, 0);
  Augmentation::apply(a.draw(rng, w, h), img, nullptr);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) ASSERT_EQ(img.at<float>(y, x), src.at<float>(h - 1 - y, w - 1 - x));
}

TEST(Augment, IntegerTranslationShiftsPixels) {
  const int h = 8, w = 10;
  cv::Mat src = random_image(h, w, 1, 4), img = src.clone();
  AugmentPlan plan;
  plan.forward = cv::Matx33d(1, 0, 2, 0, 1, -1, 0, 0, 1);  // x + 2, y - 1
  Augmentation::apply(plan, img, nullptr);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      int sx = x - 2, sy = y + 1;
      float want = (sx >= 0 && sy < h) ? src.at<float>(sy, sx) : 0.0f;
      ASSERT_NEAR(img.at<float>(y, x), want, 1e-6) << y << "," << x;
    }
}

TEST(Augment, SameTransformOnImageAndMaskAndMaskStaysBinary) {
  // A meningioma phantom: a bright (0.85-0.95) tumour exactly under its mask.
  Phantom p = make_phantom({1, 96, 21, 3, 3, 1.0f});
  cv::Mat mask0;
  p.mask.convertTo(mask0, CV_32F);
  const double area0 = cv::countNonZero(p.mask);
  ASSERT_GT(area0, 30);
  Augmentation aug = Augmentation::standard(false);
  for (uint64_t i = 0; i < 12; ++i) {
    cv::Mat img = p.image.clone(), mask = mask0.clone();
    Rng rng(5, RngDomain::augment, 0, i);
    AugmentPlan plan = aug.draw(rng, 96, 96);
    Augmentation::apply(plan, img, &mask);
    int ones = 0, others = 0;
    double inside = 0;
    int bright_inside = 0;
    for (int y = 0; y < 96; ++y)
      for (int x = 0; x < 96; ++x) {
        float m = mask.at<float>(y, x);
        if (m == 1.0f) {
          ++ones;
          inside += img.at<float>(y, x);
          bright_inside += img.at<float>(y, x) > 0.7f;
        } else if (m != 0.0f) {
          ++others;
        }
      }
    ASSERT_EQ(others, 0) << "mask not binary, sample " << i;
    ASSERT_GT(ones, 0);
    // Zoom is 0.9..1.1, so the area changes by at most ~1.21x (plus pixel rounding);
    // part of the tumour may leave the frame only through translation.
    EXPECT_LT(ones, area0 * 1.3 + 10);
    // The image under the moved mask is the moved tumour: bright, not brain (~0.5).
    EXPECT_GT(inside / ones, 0.78) << "sample " << i;
    EXPECT_GT(bright_inside, 0.85 * ones) << "sample " << i;
    // Control: the untransformed mask over the transformed image is a worse fit
    // whenever the plan moved things noticeably.
    double off = 0;
    for (int y = 0; y < 96; ++y)
      for (int x = 0; x < 96; ++x)
        if (mask0.at<float>(y, x) == 1.0f) off += img.at<float>(y, x);
    if (cv::norm(mask, mask0, cv::NORM_L1) > area0) {
      EXPECT_LT(off / area0, inside / ones) << "sample " << i;
    }
  }
}

TEST(Augment, DrawsAreSeededPerSample) {
  Augmentation aug = Augmentation::standard(true);
  auto draw = [&](uint64_t seed, uint64_t epoch, uint64_t index) {
    Rng rng(seed, RngDomain::augment, epoch, index);
    return aug.draw(rng, 64, 48);
  };
  AugmentPlan a = draw(3, 1, 7), b = draw(3, 1, 7), c = draw(3, 1, 8), d = draw(3, 2, 7), e = draw(4, 1, 7);
  EXPECT_EQ(a.forward, b.forward);
  EXPECT_EQ(a.contrast, b.contrast);
  EXPECT_NE(a.forward, c.forward);
  EXPECT_NE(a.forward, d.forward);
  EXPECT_NE(a.forward, e.forward);
}

TEST(Augment, RotationAngleWithinRange) {
  for (uint64_t i = 0; i < 50; ++i) {
    AugmentPlan p = draw_one(RandomRotation(10.0f), 31, 31, i);
    double angle = std::atan2(p.forward(1, 0), p.forward(0, 0)) * 180 / M_PI;
    EXPECT_LE(std::abs(angle), 10.0 + 1e-9);
    // A rotation about the centre keeps the centre pixel fixed.
    cv::Vec3d centre = p.forward * cv::Vec3d(15, 15, 1);
    EXPECT_NEAR(centre[0], 15, 1e-9);
    EXPECT_NEAR(centre[1], 15, 1e-9);
  }
}

TEST(Augment, BrightnessContrastTouchesImageOnlyAndClamps) {
  const int h = 5, w = 6;
  cv::Mat src = random_image(h, w, 3, 6), img = src.clone();
  cv::Mat mask = cv::Mat::zeros(h, w, CV_32F);
  mask.at<float>(2, 3) = 1;
  cv::Mat mask_src = mask.clone();
  AugmentPlan plan;
  plan.photometric = true;
  plan.contrast = 1.3f;
  plan.brightness = 0.1f;
  Augmentation::apply(plan, img, &mask);
  EXPECT_EQ(cv::norm(mask, mask_src, cv::NORM_INF), 0.0);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < 3; ++k) {
        double want = std::min(1.0, std::max(0.0, src.at<cv::Vec3f>(y, x)[k] * 1.3 + 0.1));
        EXPECT_NEAR(img.at<cv::Vec3f>(y, x)[k], want, 1e-6);
      }
  AugmentPlan drawn = draw_one(BrightnessContrast(0.2f, 0.3f), w, h);
  EXPECT_TRUE(drawn.photometric);
  EXPECT_GE(drawn.contrast, 0.7f);
  EXPECT_LE(drawn.contrast, 1.3f);
  EXPECT_LE(std::abs(drawn.brightness), 0.2f);
}

TEST(Augment, MaskOfOtherSizeIsAnError) {
  cv::Mat img = random_image(4, 4, 1, 7), mask = cv::Mat::zeros(4, 5, CV_32F);
  EXPECT_THROW(Augmentation::apply(AugmentPlan{}, img, &mask), Error);
  EXPECT_NE(Augmentation::standard(true).describe().find("rotation"), std::string::npos);
}

}  // namespace
}  // namespace glia::io
