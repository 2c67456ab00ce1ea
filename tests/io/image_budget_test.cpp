// The pixel budget: image headers are read before decoding (io/image_header.h) and
// images claiming more pixels than GLIA_MAX_IMAGE_PIXELS are refused before OpenCV
// allocates anything.
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "io/image.h"
#include "io/image_header.h"
#include "kernels/error.h"
#include "tests/support/scoped_env.h"

namespace glia::io {
namespace {

// A complete, valid 74-byte PNG whose IHDR claims 30000x30000 RGB (generated with
// Python's zlib: IHDR, one stored-deflate IDAT of 6 bytes, IEND, correct CRCs).
// Decoding it would need 2.7 GB.
const std::vector<uint8_t> kBombPng = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x75,
    0x30, 0x00, 0x00, 0x75, 0x30, 0x08, 0x02, 0x00, 0x00, 0x00, 0xe9, 0x45, 0x6f, 0xed, 0x00, 0x00, 0x00, 0x11, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x01, 0x01, 0x06, 0x00, 0xf9, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00,
    0x01, 0xac, 0xd4, 0x55, 0xfa, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

using test::ScopedEnv;

std::vector<uint8_t> encode(const std::string& ext, int width, int height, const std::vector<int>& params = {}) {
  cv::Mat m(height, width, CV_8UC3, cv::Scalar(10, 200, 30));
  std::vector<uint8_t> out;
  EXPECT_TRUE(cv::imencode(ext, m, out, params));
  return out;
}

TEST(ImageBudget, ForgedPngHeaderIsRefusedFastWithSizeAndBudget) {
  ASSERT_EQ(kBombPng.size(), 74u);
  const auto start = std::chrono::steady_clock::now();
  try {
    decode_image(kBombPng.data(), kBombPng.size(), "bomb.png", 3);
    FAIL() << "decoded a 30000x30000 claim";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("bomb.png: the PNG header claims 30000x30000 pixels (width x height) = 900000000 pixels, "
                       "over the budget of 67108864 pixels"),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("GLIA_MAX_IMAGE_PIXELS"), std::string::npos) << msg;
  }
  EXPECT_THROW(decode_mask(kBombPng.data(), kBombPng.size(), "bomb.png"), Error);
  EXPECT_THROW(probe_image(kBombPng.data(), kBombPng.size(), "bomb.png"), Error);
  // Nothing was allocated or inflated: far below the time OpenCV takes to touch 2.7 GB.
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 0.5);
}

TEST(ImageBudget, ClaimsBeyondSixtyFourBitsOfPixelsAreRefusedToo) {
  // Found by fuzzing: two 32-bit sizes multiplied in int64_t overflowed (undefined
  // behaviour) and could wrap below the budget. Little-endian TIFF, both sizes LONG 2^32-1.
  const std::vector<uint8_t> ii = {'I', 'I', 42, 0, 8, 0, 0, 0, 2, 0,                      //
                                   0, 1, 4, 0, 1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,          // 256 LONG
                                   1, 1, 4, 0, 1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0};  // 257 LONG
  try {
    decode_image(ii.data(), ii.size(), "huge.tif", 1);
    FAIL() << "decoded a 2^64-pixel claim";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("huge.tif: the TIFF header claims 4294967295x4294967295 pixels (width x "
                                         "height) = 18446744065119617025 pixels, over the budget"),
              std::string::npos)
        << e.what();
  }
}

TEST(ImageBudget, HeadersOfEveryFormatGiveWidthAndHeight) {
  struct Case {
    std::string ext;
    ImageFormat format;
    std::vector<int> params;
  };
  for (const Case& c : {Case{".png", ImageFormat::png, {}}, Case{".jpg", ImageFormat::jpeg, {}},
                        Case{".bmp", ImageFormat::bmp, {}},
                        Case{".tif", ImageFormat::tiff, {cv::IMWRITE_TIFF_COMPRESSION, 1}}}) {
    const std::vector<uint8_t> bytes = encode(c.ext, 37, 23, c.params);
    ASSERT_EQ(detect_format(bytes.data(), bytes.size()), c.format) << c.ext;
    const auto dims = read_image_dimensions(bytes.data(), bytes.size(), c.format);
    ASSERT_TRUE(dims.has_value()) << c.ext;
    EXPECT_EQ(dims->width, 37) << c.ext;
    EXPECT_EQ(dims->height, 23) << c.ext;
  }
  // Big-endian TIFF, written by hand: header MM, IFD at 8 with ImageWidth (SHORT 300)
  // and ImageLength (LONG 70000).
  const std::vector<uint8_t> mm = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 2,                   //
                                   1, 0, 0, 3, 0, 0, 0, 1, 0x01, 0x2C, 0, 0,            // 256 SHORT 300
                                   1, 1, 0, 4, 0, 0, 0, 1, 0, 0x01, 0x11, 0x70};        // 257 LONG 70000
  const auto t = read_image_dimensions(mm.data(), mm.size(), ImageFormat::tiff);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->width, 300);
  EXPECT_EQ(t->height, 70000);
}

TEST(ImageBudget, JpegDimensionsComeFromTheImageNotAnEmbeddedThumbnail) {
  // An APP1 segment holding what looks like a SOF0 of 60000x60000, inserted after SOI:
  // libjpeg skips the segment by its length, and so must the header reader.
  std::vector<uint8_t> jpg = encode(".jpg", 41, 19);
  const std::vector<uint8_t> app1 = {0xFF, 0xE1, 0x00, 0x0D, 0xFF, 0xC0, 0x00, 0x11, 0x08,
                                     0xEA, 0x60, 0xEA, 0x60, 0x03, 0x01};
  jpg.insert(jpg.begin() + 2, app1.begin(), app1.end());
  const auto dims = read_image_dimensions(jpg.data(), jpg.size(), ImageFormat::jpeg);
  ASSERT_TRUE(dims.has_value());
  EXPECT_EQ(dims->width, 41);
  EXPECT_EQ(dims->height, 19);
  DecodedInfo info;
  decode_image(jpg.data(), jpg.size(), "thumb.jpg", 3, &info);
  EXPECT_EQ(info.width, 41);
}

TEST(ImageBudget, BudgetComesFromTheEnvironment) {
  const std::vector<uint8_t> png = encode(".png", 37, 23);  // 851 pixels
  {
    ScopedEnv env("GLIA_MAX_IMAGE_PIXELS", "851");
    EXPECT_EQ(max_image_pixels(), 851);
    EXPECT_NO_THROW(decode_image(png.data(), png.size(), "a.png", 3));
  }
  {
    ScopedEnv env("GLIA_MAX_IMAGE_PIXELS", "850");
    try {
      decode_image(png.data(), png.size(), "a.png", 3);
      FAIL() << "851 pixels passed a budget of 850";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("37x23 pixels (width x height) = 851 pixels, over the budget of 850"),
                std::string::npos)
          << e.what();
    }
  }
  {
    ScopedEnv env("GLIA_MAX_IMAGE_PIXELS", "lots");
    try {
      max_image_pixels();
      FAIL() << "accepted 'lots'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("GLIA_MAX_IMAGE_PIXELS='lots'"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(max_image_pixels(), kDefaultMaxImagePixels);
}

}  // namespace
}  // namespace glia::io
