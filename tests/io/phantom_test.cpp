// Phantoms: the mask matches the class (location, size, emptiness) and the tumour's look.
#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "io/classification_dataset.h"
#include "io/image.h"
#include "io/phantom.h"
#include "kernels/error.h"
#include "tests/io/io_test_util.h"

namespace glia::io {
namespace {

struct MaskStats {
  double area = 0, cx = 0, cy = 0, mean_inside = 0, mean_brain = 0;
};

MaskStats stats_of(const Phantom& p) {
  MaskStats s;
  const int n = p.image.rows;
  double brain_sum = 0;
  int brain_count = 0;
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      float v = p.image.at<float>(y, x);
      if (p.mask.at<uint8_t>(y, x)) {
        s.area += 1, s.cx += x, s.cy += y, s.mean_inside += v;
      } else if (std::hypot(x - n / 2.0, y - n / 2.0) < n * 0.25) {
        brain_sum += v, ++brain_count;
      }
    }
  if (s.area > 0) s.cx /= s.area, s.cy /= s.area, s.mean_inside /= s.area;
  s.mean_brain = brain_sum / std::max(1, brain_count);
  return s;
}

TEST(Phantom, MaskMatchesClass) {
  const int n = 128;
  for (uint64_t i = 0; i < 8; ++i) {
    Phantom none = make_phantom({2, n, 1, i, i, 1.0f});
    EXPECT_EQ(cv::countNonZero(none.mask), 0) << "notumor must have an empty mask";

    MaskStats g = stats_of(make_phantom({0, n, 1, i, i, 1.0f}));
    ASSERT_GT(g.area, 0);
    EXPECT_GT(std::abs(g.cx - n / 2.0), n * 0.08) << "glioma lies in one hemisphere";

    MaskStats m = stats_of(make_phantom({1, n, 1, i, i, 1.0f}));
    ASSERT_GT(m.area, 0);
    EXPECT_GT(std::hypot(m.cx - n / 2.0, m.cy - n / 2.0), n * 0.25) << "meningioma sits at the brain surface";
    EXPECT_GT(m.mean_inside, m.mean_brain + 0.2) << "meningioma is bright";

    MaskStats p = stats_of(make_phantom({3, n, 1, i, i, 1.0f}));
    ASSERT_GT(p.area, 0);
    EXPECT_LT(std::abs(p.cx - n / 2.0), n * 0.05) << "pituitary is on the midline";
    EXPECT_GT(p.cy, n / 2.0 + n * 0.08) << "pituitary is below the centre";
    EXPECT_LT(p.area, g.area + m.area) << "pituitary is small";
    EXPECT_LT(p.area, 0.02 * n * n);
  }
}

TEST(Phantom, DeterministicAndInRange) {
  Phantom a = make_phantom({0, 64, 9, 2, 5, 1.0f}), b = make_phantom({0, 64, 9, 2, 5, 1.0f});
  Phantom c = make_phantom({0, 64, 10, 2, 5, 1.0f}), d = make_phantom({0, 64, 9, 2, 6, 1.0f});
  EXPECT_EQ(cv::norm(a.image, b.image, cv::NORM_INF), 0.0);
  EXPECT_EQ(cv::norm(a.mask, b.mask, cv::NORM_INF), 0.0);
  EXPECT_GT(cv::norm(a.image, c.image, cv::NORM_INF), 0.0);
  EXPECT_GT(cv::norm(a.image, d.image, cv::NORM_INF), 0.0);          // other noise
  EXPECT_EQ(cv::norm(a.mask, d.mask, cv::NORM_INF), 0.0);            // same anatomy
  double lo, hi;
  cv::minMaxLoc(a.image, &lo, &hi);
  EXPECT_GE(lo, 0.0);
  EXPECT_LE(hi, 1.0);
  EXPECT_EQ(cv::countNonZero(make_phantom({0, 64, 9, 2, 5, 0.0f}).mask), 0);  // scale 0: no tumour
  EXPECT_THROW(make_phantom({4, 64, 0, 0, 0, 1.0f}), Error);
}

TEST(Phantom, WrittenInTheRealLayouts) {
  test::TempDir dir;
  write_classification_phantoms(dir.str(), 2, 1, 40, 3);
  auto bytes = read_file_bytes(dir / "Training/glioma/Tr-gl_0.jpg");
  EXPECT_EQ(detect_format(bytes.data(), bytes.size()), ImageFormat::png);  // PNG named .jpg
  EXPECT_TRUE(std::filesystem::exists(dir / "Testing/pituitary/Te-pi_0.jpg"));
  write_segmentation_phantoms(dir / "lgg", 1, 3, 40, 3);
  auto tif = read_file_bytes(dir / "lgg/TCGA_PH_0000_20000101/TCGA_PH_0000_20000101_2_mask.tif");
  EXPECT_EQ(detect_format(tif.data(), tif.size()), ImageFormat::tiff);
  DecodedInfo info;
  auto img = read_file_bytes(dir / "lgg/TCGA_PH_0000_20000101/TCGA_PH_0000_20000101_2.tif");
  decode_image(img.data(), img.size(), "img", 3, &info);
  EXPECT_EQ(info.channels, 3);
}

// The classification look (glia demo's segmenter): each slice is the classification
// phantom of its patient's tumour class, gray in all three channels, and the mask is its
// tumour.
TEST(Phantom, SegmentationPhantomsInTheClassificationLook) {
  test::TempDir dir;
  write_segmentation_phantoms(dir.str(), 3, 3, 40, 7, true, SegmentationPhantomLook::classification);
  const int labels[3] = {0, 1, 3};
  for (int pt = 0; pt < 3; ++pt) {
    const std::string stem = dir.str() + "/TCGA_PH_000" + std::to_string(pt) + "_20000101/TCGA_PH_000" +
                             std::to_string(pt) + "_20000101_2";
    const Phantom want = make_phantom({labels[pt], 40, 7, static_cast<uint64_t>(pt), pt * 10000u + 2, 1.0f});
    ASSERT_GT(cv::countNonZero(want.mask), 0) << "patient " << pt;
    auto img = read_file_bytes(stem + ".tif"), msk = read_file_bytes(stem + "_mask.tif");
    const cv::Mat rgb = decode_image(img.data(), img.size(), stem, 3);  // float, [0, 1]
    const cv::Mat mask = decode_image(msk.data(), msk.size(), stem, 1);
    double worst = 0;
    int mask_diff = 0;
    for (int y = 0; y < 40; ++y)
      for (int x = 0; x < 40; ++x) {
        const cv::Vec3f v = rgb.at<cv::Vec3f>(y, x);
        for (int c = 0; c < 3; ++c) worst = std::max(worst, static_cast<double>(std::abs(v[c] - want.image.at<float>(y, x))));
        mask_diff += (mask.at<float>(y, x) > 0.5f) != (want.mask.at<uint8_t>(y, x) != 0);
      }
    EXPECT_LE(worst, 0.5 / 255 + 1e-6) << "patient " << pt << ": not the gray classification phantom";
    EXPECT_EQ(mask_diff, 0) << "patient " << pt;
  }
}

}  // namespace
}  // namespace glia::io
