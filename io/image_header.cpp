#include "io/image_header.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "kernels/error.h"

namespace glia::io {
namespace {

uint32_t be32(const uint8_t* p) { return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3]; }
uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t le32(const uint8_t* p) { return uint32_t{p[3]} << 24 | uint32_t{p[2]} << 16 | uint32_t{p[1]} << 8 | p[0]; }
uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[1] << 8 | p[0]); }

std::optional<ImageDimensions> png_dimensions(const uint8_t* d, size_t n) {
  // Signature (8), then the first chunk must be IHDR: length (4), type (4), width, height.
  if (n < 24 || std::memcmp(d + 12, "IHDR", 4) != 0) return std::nullopt;
  return ImageDimensions{be32(d + 16), be32(d + 20)};
}

bool is_sof(uint8_t m) {
  // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range.
  return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

std::optional<ImageDimensions> jpeg_dimensions(const uint8_t* d, size_t n) {
  // Walk the marker segments as libjpeg does: bytes that are not a marker are skipped
  // (libjpeg warns "extraneous bytes" and goes on), segments are skipped by length, so
  // an EXIF thumbnail inside APP1 is never mistaken for the image.
  size_t i = 2;
  while (i + 1 < n) {
    if (d[i] != 0xFF) {
      ++i;
      continue;
    }
    while (i + 1 < n && d[i + 1] == 0xFF) ++i;  // fill bytes
    if (i + 1 >= n) break;
    const uint8_t m = d[i + 1];
    i += 2;
    if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD8)) continue;  // no length
    if (m == 0xD9 || m == 0xDA) return std::nullopt;                    // image data before any SOF
    if (i + 2 > n) break;
    const size_t length = be16(d + i);
    if (is_sof(m)) {
      if (length < 7 || i + 7 > n) return std::nullopt;
      return ImageDimensions{be16(d + i + 5), be16(d + i + 3)};  // precision, height, width
    }
    if (length < 2) return std::nullopt;
    i += length;
  }
  return std::nullopt;
}

std::optional<ImageDimensions> bmp_dimensions(const uint8_t* d, size_t n) {
  if (n < 26) return std::nullopt;
  const uint32_t header = le32(d + 14);
  if (header == 12) return ImageDimensions{le16(d + 18), le16(d + 20)};  // OS/2 BITMAPCOREHEADER
  int32_t w, h;
  std::memcpy(&w, d + 18, 4);  // little-endian hosts only, as the rest of glia
  std::memcpy(&h, d + 22, 4);
  // A negative height means rows stored top-down; OpenCV takes the absolute value.
  return ImageDimensions{std::llabs(w), std::llabs(h)};
}

std::optional<ImageDimensions> tiff_dimensions(const uint8_t* d, size_t n) {
  if (n < 8) return std::nullopt;
  const bool le = d[0] == 'I';
  auto u16 = [&](size_t at) { return le ? le16(d + at) : be16(d + at); };
  auto u32 = [&](size_t at) { return le ? le32(d + at) : be32(d + at); };
  const size_t ifd = u32(4);
  if (ifd > n || n - ifd < 2) return std::nullopt;
  const size_t count = u16(ifd);
  int64_t width = -1, height = -1;
  for (size_t k = 0; k < count; ++k) {
    const size_t e = ifd + 2 + 12 * k;
    if (e + 12 > n) break;
    const uint16_t tag = u16(e), type = u16(e + 2);
    if (tag != 256 && tag != 257) continue;
    int64_t v;
    if (type == 3) v = u16(e + 8);        // SHORT
    else if (type == 4) v = u32(e + 8);   // LONG
    else return std::nullopt;
    (tag == 256 ? width : height) = v;
  }
  if (width < 0 || height < 0) return std::nullopt;
  return ImageDimensions{width, height};
}

}  // namespace

std::optional<ImageDimensions> read_image_dimensions(const uint8_t* data, size_t size, ImageFormat format) {
  switch (format) {
    case ImageFormat::png: return png_dimensions(data, size);
    case ImageFormat::jpeg: return jpeg_dimensions(data, size);
    case ImageFormat::bmp: return bmp_dimensions(data, size);
    case ImageFormat::tiff: return tiff_dimensions(data, size);
    default: return std::nullopt;
  }
}

int64_t max_image_pixels() {
  const char* env = std::getenv("GLIA_MAX_IMAGE_PIXELS");
  if (env == nullptr || *env == '\0') return kDefaultMaxImagePixels;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(env, &end, 10);
  GLIA_CHECK(errno == 0 && end != env && *end == '\0' && v > 0,
             "GLIA_MAX_IMAGE_PIXELS='" << env << "': expected a positive whole number of pixels (default "
                                       << kDefaultMaxImagePixels << ")");
  return v;
}

void check_image_budget(const uint8_t* data, size_t size, ImageFormat format, const std::string& name) {
  const auto dims = read_image_dimensions(data, size, format);
  if (!dims) return;
  const int64_t budget = max_image_pixels();
  // Both sizes are below 2^32 (the headers hold at most 32 bits), so the product fits in
  // 64 unsigned bits, though not always in int64_t (fuzzing found a TIFF claiming more).
  const uint64_t pixels = static_cast<uint64_t>(dims->width) * static_cast<uint64_t>(dims->height);
  GLIA_CHECK(pixels <= static_cast<uint64_t>(budget), name << ": the " << format_name(format) << " header claims " << dims->width << "x"
                                    << dims->height << " pixels (width x height) = " << pixels
                                    << " pixels, over the budget of " << budget
                                    << " pixels; not decoded (set GLIA_MAX_IMAGE_PIXELS to allow larger images)");
}

}  // namespace glia::io
