// Image sizes from file headers, read before decoding. OpenCV allocates whatever a
// header claims (its own cap, OPENCV_IO_MAX_IMAGE_PIXELS, is 2^30 pixels and read once
// when the library loads), so a 74-byte PNG claiming 30000x30000 made it try 2.7 GB.
// glia reads width and height itself and refuses images above a pixel budget first.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "io/image.h"

namespace glia::io {

struct ImageDimensions {
  int64_t width = 0, height = 0;  // each in [0, 2^32)
};

// What the header of a PNG (IHDR), JPEG (first SOF segment), BMP (info header) or
// classic TIFF (first IFD) claims, without decoding anything; std::nullopt when the
// header is too damaged to say (the decoder then reports the damage).
std::optional<ImageDimensions> read_image_dimensions(const uint8_t* data, size_t size, ImageFormat format);

// The budget: GLIA_MAX_IMAGE_PIXELS when set (a positive integer; anything else is an
// Error naming the variable), else 64 Mi pixels (67108864; an 8192x8192 image).
int64_t max_image_pixels();
constexpr int64_t kDefaultMaxImagePixels = int64_t{64} << 20;

// Error naming `name`, its claimed width x height and the budget when the header claims
// more pixels than max_image_pixels().
void check_image_budget(const uint8_t* data, size_t size, ImageFormat format, const std::string& name);

}  // namespace glia::io
