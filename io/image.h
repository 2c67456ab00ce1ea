// Image decoding for the data pipeline: by content (magic numbers), never by file name,
// because real datasets ship PNGs named .jpg. OpenCV does the decoding; this file adds
// the checks OpenCV does not make (empty, unknown, truncated JPEG), converts every
// colour mode (gray, gray+alpha, RGB, RGBA, palette, 16-bit) to the channel count the
// model wants, resizes, scales to [0, 1] and optionally normalises.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace glia::io {

enum class ImageFormat { unknown, png, jpeg, tiff, bmp };
const char* format_name(ImageFormat format);

// The format from the first bytes of the file; unknown when none matches.
ImageFormat detect_format(const uint8_t* data, size_t size);

enum class Interpolation { nearest, linear, area, cubic };
int to_cv_interpolation(Interpolation interpolation);
Interpolation parse_interpolation(const std::string& name);  // "nearest", "linear", "area", "cubic"

// Whole file as bytes. Throws glia::Error naming the file if it cannot be opened or read.
std::vector<uint8_t> read_file_bytes(const std::string& path);

// What the file held before conversion (for reports and tests).
struct DecodedInfo {
  ImageFormat format = ImageFormat::unknown;
  int width = 0, height = 0;
  int channels = 0;    // as decoded by OpenCV: 1 gray, 2 gray+alpha, 3 colour, 4 colour+alpha
  int bit_depth = 0;   // 8, 16 or 32 (float TIFF)
};

// Decodes `data` (named `name` in errors) to a float image in [0, 1] with `channels`
// channels (1 or 3), in RGB order. Alpha is dropped (as PIL's convert("RGB") does), gray
// is replicated to 3 channels, colour goes to gray with ITU-R 601 weights. 16-bit images
// are scaled by 1/65535. With height and width > 0 the image is also resized, in its
// native depth as PIL/torchvision do for uint8 images (so values are multiples of 1/255
// for 8-bit files), before the float conversion and before gray is replicated. Throws
// glia::Error naming `name` and the problem.
cv::Mat decode_image(const uint8_t* data, size_t size, const std::string& name, int channels,
                     DecodedInfo* info = nullptr, int height = 0, int width = 0,
                     Interpolation interpolation = Interpolation::area);

// decode_image in two halves, so the loader can keep the first in memory across epochs
// (io/decoded_cache.h): decode_resized gives the image in its native depth (8/16-bit or
// float), alpha dropped, gray or BGR, resized when height and width are > 0;
// to_float_image converts that to decode_image's float image with `channels` channels.
// to_float_image(decode_resized(...)) is decode_image(...), bit for bit.
cv::Mat decode_resized(const uint8_t* data, size_t size, const std::string& name, DecodedInfo* info = nullptr,
                       int height = 0, int width = 0, Interpolation interpolation = Interpolation::area);
cv::Mat to_float_image(const cv::Mat& native, int channels);

// Decodes a segmentation mask: one channel, 1.0 where any channel of the pixel is
// non-zero, else 0.0.
cv::Mat decode_mask(const uint8_t* data, size_t size, const std::string& name,
                    DecodedInfo* info = nullptr);
// The same mask as 8-bit 0/1 (a quarter of the memory; converts to decode_mask's floats
// exactly).
cv::Mat decode_mask_u8(const uint8_t* data, size_t size, const std::string& name, DecodedInfo* info = nullptr);

// Only the format and size, from the decoded image (used to validate pairs).
DecodedInfo probe_image(const uint8_t* data, size_t size, const std::string& name);

// Resize a float image to height x width (no-op when it already has that size).
cv::Mat resize_image(const cv::Mat& image, int height, int width, Interpolation interpolation);

// Mean/std normalisation per channel: x = (x - mean[c]) / std[c]. Empty vectors: none.
struct Normalization {
  std::vector<float> mean, std;
  bool empty() const { return mean.empty(); }
};
void check_normalization(const Normalization& norm, int channels);

// Copies an HxWxC float image into planar CHW memory at `out`, normalising on the way.
void to_planar(const cv::Mat& image, const Normalization& norm, float* out);

}  // namespace glia::io
