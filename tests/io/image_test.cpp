// Decoding by content, colour-mode conversion, resize/normalise, and bad input.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "io/image.h"
#include "kernels/error.h"
#include "tests/io/io_test_util.h"

namespace glia::io {
namespace {

using test::TempDir;

// A small odd-sized BGR image of distinct random-ish values (never all zero).
cv::Mat pattern_bgr(int h, int w) {
  cv::Mat m(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      m.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uint8_t>((37 * x + 11 * y + 5) % 256),
                                        static_cast<uint8_t>((71 * x + 3 * y + 101) % 256),
                                        static_cast<uint8_t>((13 * x + 59 * y + 200) % 256));
  return m;
}

cv::Mat decode_file(const std::string& path, int channels, DecodedInfo* info = nullptr) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  return decode_image(bytes.data(), bytes.size(), path, channels, info);
}

// Expects decode_image(file) to throw a glia::Error that names the file and contains `what`.
void expect_decode_error(const std::string& path, const std::string& what) {
  try {
    decode_file(path, 3);
    FAIL() << "no error for " << path;
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  }
}

// Every pixel of a decoded float RGB image against the BGR source (exact for lossless).
void expect_rgb_equals(const cv::Mat& rgb, const cv::Mat& bgr_u8, double tolerance) {
  ASSERT_EQ(rgb.type(), CV_32FC3);
  ASSERT_EQ(rgb.size(), bgr_u8.size());
  for (int y = 0; y < rgb.rows; ++y)
    for (int x = 0; x < rgb.cols; ++x)
      for (int k = 0; k < 3; ++k)
        ASSERT_NEAR(rgb.at<cv::Vec3f>(y, x)[k], bgr_u8.at<cv::Vec3b>(y, x)[2 - k] / 255.0, tolerance)
            << "pixel " << y << "," << x << " channel " << k;
}

TEST(Image, DetectsFormatByMagicNumbers) {
  const uint8_t png[] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0};
  const uint8_t jpg[] = {0xFF, 0xD8, 0xFF, 0xE0};
  const uint8_t tif_le[] = {'I', 'I', 42, 0}, tif_be[] = {'M', 'M', 0, 42};
  const uint8_t text[] = {'h', 'e', 'l', 'l', 'o'};
  EXPECT_EQ(detect_format(png, sizeof png), ImageFormat::png);
  EXPECT_EQ(detect_format(jpg, sizeof jpg), ImageFormat::jpeg);
  EXPECT_EQ(detect_format(tif_le, sizeof tif_le), ImageFormat::tiff);
  EXPECT_EQ(detect_format(tif_be, sizeof tif_be), ImageFormat::tiff);
  EXPECT_EQ(detect_format(text, sizeof text), ImageFormat::unknown);
  EXPECT_EQ(detect_format(png, 4), ImageFormat::unknown);  // too short to be sure
}

TEST(Image, PngNamedJpgDecodesByContent) {
  TempDir dir;
  cv::Mat src = pattern_bgr(7, 5);
  std::vector<uint8_t> png;
  ASSERT_TRUE(cv::imencode(".png", src, png));
  std::string path = dir / "really_png.jpg";
  test::write_bytes(path, png);
  DecodedInfo info;
  cv::Mat rgb = decode_file(path, 3, &info);
  EXPECT_EQ(info.format, ImageFormat::png);
  EXPECT_EQ(info.channels, 3);
  EXPECT_EQ(info.bit_depth, 8);
  EXPECT_EQ(info.width, 5);
  EXPECT_EQ(info.height, 7);
  expect_rgb_equals(rgb, src, 1e-6);
}

TEST(Image, JpegDecodes) {
  TempDir dir;
  cv::Mat src(9, 11, CV_8UC3, cv::Scalar(40, 120, 200));  // flat, so JPEG is near-exact
  std::string path = dir / "flat.jpg";
  ASSERT_TRUE(cv::imwrite(path, src, {cv::IMWRITE_JPEG_QUALITY, 100}));
  DecodedInfo info;
  cv::Mat rgb = decode_file(path, 3, &info);
  EXPECT_EQ(info.format, ImageFormat::jpeg);
  expect_rgb_equals(rgb, src, 3.0 / 255);
}

TEST(Image, GrayscaleToThreeAndOneChannels) {
  TempDir dir;
  cv::Mat gray(5, 3, CV_8UC1);
  for (int i = 0; i < 15; ++i) gray.data[i] = static_cast<uint8_t>(17 * i + 3);
  std::string path = dir / "gray.png";
  ASSERT_TRUE(cv::imwrite(path, gray));
  cv::Mat rgb = decode_file(path, 3), one = decode_file(path, 1);
  ASSERT_EQ(one.type(), CV_32FC1);
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 3; ++x) {
      float want = gray.at<uint8_t>(y, x) / 255.0f;
      EXPECT_FLOAT_EQ(one.at<float>(y, x), want);
      for (int k = 0; k < 3; ++k) EXPECT_FLOAT_EQ(rgb.at<cv::Vec3f>(y, x)[k], want);
    }
}

TEST(Image, ColourToGrayUsesItuWeights) {
  TempDir dir;
  cv::Mat src = pattern_bgr(3, 4);
  std::string path = dir / "colour.png";
  ASSERT_TRUE(cv::imwrite(path, src));
  cv::Mat one = decode_file(path, 1);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x) {
      cv::Vec3b p = src.at<cv::Vec3b>(y, x);
      double want = (0.299 * p[2] + 0.587 * p[1] + 0.114 * p[0]) / 255.0;
      EXPECT_NEAR(one.at<float>(y, x), want, 1e-5);
    }
}

TEST(Image, RgbaDropsAlpha) {
  TempDir dir;
  cv::Mat bgr = pattern_bgr(6, 5), bgra;
  cv::cvtColor(bgr, bgra, cv::COLOR_BGR2BGRA);
  for (int y = 0; y < 6; ++y) bgra.at<cv::Vec4b>(y, 0)[3] = static_cast<uint8_t>(y * 40);  // some transparency
  std::string path = dir / "rgba.png";
  ASSERT_TRUE(cv::imwrite(path, bgra));
  DecodedInfo info;
  cv::Mat rgb = decode_file(path, 3, &info);
  EXPECT_EQ(info.channels, 4);
  expect_rgb_equals(rgb, bgr, 1e-6);
}

TEST(Image, PaletteImageExpands) {
  TempDir dir;
  std::vector<std::array<uint8_t, 3>> palette = {{10, 20, 30}, {250, 128, 3}, {0, 255, 77}};
  const int w = 5, h = 3;
  std::vector<uint8_t> indices(w * h);
  for (int i = 0; i < w * h; ++i) indices[i] = static_cast<uint8_t>((i * 7) % 3);
  std::string path = dir / "palette.png";
  test::write_bytes(path, test::palette_png(w, h, palette, indices));
  DecodedInfo info;
  cv::Mat rgb = decode_file(path, 3, &info);
  EXPECT_EQ(info.format, ImageFormat::png);
  ASSERT_EQ(rgb.rows, h);
  ASSERT_EQ(rgb.cols, w);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < 3; ++k)
        EXPECT_FLOAT_EQ(rgb.at<cv::Vec3f>(y, x)[k], palette[indices[y * w + x]][k] / 255.0f);
}

TEST(Image, SixteenBitScalesBy65535) {
  TempDir dir;
  cv::Mat g16(4, 7, CV_16UC1);
  for (int i = 0; i < 28; ++i) reinterpret_cast<uint16_t*>(g16.data)[i] = static_cast<uint16_t>(2341 * i + 17);
  std::string path = dir / "deep.png";
  ASSERT_TRUE(cv::imwrite(path, g16));
  DecodedInfo info;
  cv::Mat one = decode_file(path, 1, &info);
  EXPECT_EQ(info.bit_depth, 16);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 7; ++x) EXPECT_NEAR(one.at<float>(y, x), g16.at<uint16_t>(y, x) / 65535.0, 1e-7);
}

TEST(Image, TiffDeflateAndUncompressed) {
  TempDir dir;
  cv::Mat src = pattern_bgr(8, 6);
  for (int compression : {1, 8}) {  // 1 none, 8 Adobe deflate
    std::string path = dir / ("img_" + std::to_string(compression) + ".tif");
    ASSERT_TRUE(cv::imwrite(path, src, {cv::IMWRITE_TIFF_COMPRESSION, compression}));
    DecodedInfo info;
    cv::Mat rgb = decode_file(path, 3, &info);
    EXPECT_EQ(info.format, ImageFormat::tiff);
    expect_rgb_equals(rgb, src, 1e-6);
  }
}

TEST(Image, MaskIsAnyNonZero) {
  TempDir dir;
  cv::Mat m = cv::Mat::zeros(3, 4, CV_8UC3);
  m.at<cv::Vec3b>(0, 1) = {255, 255, 255};
  m.at<cv::Vec3b>(1, 2) = {1, 0, 0};  // would round to 0 in a gray conversion
  m.at<cv::Vec3b>(2, 3) = {0, 0, 7};
  std::string path = dir / "mask.tif";
  ASSERT_TRUE(cv::imwrite(path, m, {cv::IMWRITE_TIFF_COMPRESSION, 8}));
  std::vector<uint8_t> bytes = read_file_bytes(path);
  cv::Mat mask = decode_mask(bytes.data(), bytes.size(), path);
  ASSERT_EQ(mask.type(), CV_32FC1);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 4; ++x) {
      bool on = (y == 0 && x == 1) || (y == 1 && x == 2) || (y == 2 && x == 3);
      EXPECT_EQ(mask.at<float>(y, x), on ? 1.0f : 0.0f) << y << "," << x;
    }
}

TEST(Image, BadInputNamesTheFile) {
  TempDir dir;
  cv::Mat src = pattern_bgr(40, 30);
  std::vector<uint8_t> png, jpg;
  ASSERT_TRUE(cv::imencode(".png", src, png));
  ASSERT_TRUE(cv::imencode(".jpg", src, jpg));

  test::write_bytes(dir / "empty.jpg", {});
  expect_decode_error(dir / "empty.jpg", "empty file");

  test::write_text(dir / "notes.jpg", "this is a text file, not a picture\n");
  expect_decode_error(dir / "notes.jpg", "not an image");

  test::write_bytes(dir / "cut.png", std::vector<uint8_t>(png.begin(), png.begin() + png.size() / 2));
  expect_decode_error(dir / "cut.png", "PNG");

  test::write_bytes(dir / "cut.jpg", std::vector<uint8_t>(jpg.begin(), jpg.begin() + jpg.size() * 2 / 3));
  expect_decode_error(dir / "cut.jpg", "truncated or corrupt JPEG");

  std::vector<uint8_t> garbage(png.begin(), png.begin() + 8);  // PNG signature, then noise
  for (int i = 0; i < 300; ++i) garbage.push_back(static_cast<uint8_t>(i * 91 + 7));
  test::write_bytes(dir / "garbage.png", garbage);
  expect_decode_error(dir / "garbage.png", "PNG");

  test::write_bytes(dir / "header.tif", {'I', 'I', 42, 0, 8, 0, 0, 0, 0, 0});
  expect_decode_error(dir / "header.tif", "TIFF");

  try {
    read_file_bytes(dir / "missing.png");
    FAIL() << "no error for a missing file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.png"), std::string::npos);
  }
  EXPECT_THROW(read_file_bytes(dir.str()), Error);  // a directory is not a file
}

TEST(Image, ResizeNearestKeepsMaskBinaryAndAreaAverages) {
  cv::Mat mask(9, 13, CV_32FC1);
  for (int y = 0; y < 9; ++y)
    for (int x = 0; x < 13; ++x) mask.at<float>(y, x) = ((x * 3 + y * 5) % 7) < 3 ? 1.0f : 0.0f;
  cv::Mat small = resize_image(mask, 5, 6, Interpolation::nearest);
  ASSERT_EQ(small.rows, 5);
  ASSERT_EQ(small.cols, 6);
  for (int i = 0; i < 30; ++i) EXPECT_TRUE(small.at<float>(i) == 0.0f || small.at<float>(i) == 1.0f);
  // Area from 4x4 to 2x2 is the mean of each 2x2 block.
  cv::Mat img(4, 4, CV_32FC1);
  for (int i = 0; i < 16; ++i) img.at<float>(i) = 0.05f * i + 0.01f;
  cv::Mat half = resize_image(img, 2, 2, Interpolation::area);
  for (int by = 0; by < 2; ++by)
    for (int bx = 0; bx < 2; ++bx) {
      double sum = 0;
      for (int y = 0; y < 2; ++y)
        for (int x = 0; x < 2; ++x) sum += img.at<float>(2 * by + y, 2 * bx + x);
      EXPECT_NEAR(half.at<float>(by, bx), sum / 4, 1e-6);
    }
  EXPECT_THROW(parse_interpolation("lanczos7"), Error);
  EXPECT_EQ(parse_interpolation("bilinear"), Interpolation::linear);
}

TEST(Image, DecodeWithResizeMatchesResizeInFloat) {
  // decode_image resizes 8-bit images before the float conversion (as PIL does); it must
  // agree with resizing the float image to within 8-bit precision, for gray and colour.
  TempDir dir;
  cv::Mat bgr(37, 45, CV_8UC3), gray(37, 45, CV_8UC1);
  cv::randu(bgr, 0, 255);
  cv::randu(gray, 0, 255);
  for (const cv::Mat& src : {bgr, gray}) {
    std::vector<uint8_t> png;
    ASSERT_TRUE(cv::imencode(".png", src, png));
    for (Interpolation interp : {Interpolation::area, Interpolation::linear}) {
      cv::Mat direct = decode_image(png.data(), png.size(), "mem", 3, nullptr, 16, 20, interp);
      cv::Mat reference = resize_image(decode_image(png.data(), png.size(), "mem", 3), 16, 20, interp);
      ASSERT_EQ(direct.size(), cv::Size(20, 16));
      ASSERT_EQ(direct.type(), CV_32FC3);
      // OpenCV resizes 8-bit images in fixed point: within one 8-bit step.
      EXPECT_LE(cv::norm(direct, reference, cv::NORM_INF), 1.0 / 255);
    }
  }
}

TEST(Image, PlanarWithNormalisation) {
  const int h = 3, w = 5, c = 3;
  cv::Mat img(h, w, CV_32FC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k) img.at<cv::Vec3f>(y, x)[k] = 0.01f * (y * 31 + x * 7 + k * 3 + 1);
  Normalization norm{{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
  std::vector<float> out(c * h * w, std::nanf(""));
  to_planar(img, norm, out.data());
  for (int k = 0; k < c; ++k)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        double want = (static_cast<double>(img.at<cv::Vec3f>(y, x)[k]) - norm.mean[k]) / norm.std[k];
        EXPECT_NEAR(out[(k * h + y) * w + x], want, 1e-5);
      }
  EXPECT_THROW(check_normalization(Normalization{{0.5f}, {0.5f}}, 3), Error);
  EXPECT_THROW(check_normalization(Normalization{{0.5f, 0.5f, 0.5f}, {0.5f, 0.0f, 0.5f}}, 3), Error);
}

}  // namespace
}  // namespace glia::io
