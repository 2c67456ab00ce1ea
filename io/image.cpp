#include "io/image.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "io/image_header.h"
#include "kernels/error.h"

namespace glia::io {

const char* format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::png: return "PNG";
    case ImageFormat::jpeg: return "JPEG";
    case ImageFormat::tiff: return "TIFF";
    case ImageFormat::bmp: return "BMP";
    default: return "unknown";
  }
}

ImageFormat detect_format(const uint8_t* d, size_t n) {
  static const uint8_t png[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (n >= 8 && std::memcmp(d, png, 8) == 0) return ImageFormat::png;
  if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return ImageFormat::jpeg;
  // Classic TIFF only (II*\0 / MM\0*); BigTIFF is not something OpenCV 4.6 decodes.
  if (n >= 4 && ((d[0] == 'I' && d[1] == 'I' && d[2] == 42 && d[3] == 0) ||
                 (d[0] == 'M' && d[1] == 'M' && d[2] == 0 && d[3] == 42)))
    return ImageFormat::tiff;
  if (n >= 14 && d[0] == 'B' && d[1] == 'M') return ImageFormat::bmp;
  return ImageFormat::unknown;
}

int to_cv_interpolation(Interpolation interpolation) {
  switch (interpolation) {
    case Interpolation::nearest: return cv::INTER_NEAREST_EXACT;
    case Interpolation::linear: return cv::INTER_LINEAR;
    case Interpolation::area: return cv::INTER_AREA;
    case Interpolation::cubic: return cv::INTER_CUBIC;
  }
  return cv::INTER_LINEAR;
}

Interpolation parse_interpolation(const std::string& name) {
  if (name == "nearest") return Interpolation::nearest;
  if (name == "linear" || name == "bilinear") return Interpolation::linear;
  if (name == "area") return Interpolation::area;
  if (name == "cubic" || name == "bicubic") return Interpolation::cubic;
  GLIA_FAIL("unknown interpolation '" << name << "' (expected nearest, linear, area or cubic)");
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  GLIA_CHECK(std::filesystem::exists(status), path << ": no such file");
  GLIA_CHECK(!std::filesystem::is_directory(status), path << ": is a directory, not an image file");
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  GLIA_CHECK(file, path << ": cannot open for reading");
  std::streamoff size = file.tellg();
  GLIA_CHECK(size >= 0, path << ": cannot read (not a regular file?)");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  file.seekg(0);
  if (size > 0) file.read(reinterpret_cast<char*>(bytes.data()), size);
  GLIA_CHECK(file, path << ": read failed after " << file.gcount() << " of " << size << " bytes");
  return bytes;
}

namespace {

std::string first_bytes_hex(const uint8_t* d, size_t n) {
  std::ostringstream s;
  for (size_t i = 0; i < n && i < 8; ++i)
    s << (i ? " " : "") << std::hex << std::setw(2) << std::setfill('0') << int(d[i]);
  return s.str();
}

// libjpeg decodes a truncated file without an error (it pads with gray and warns on
// stderr), so check that the last scan (SOS, FF DA) is followed by an end-of-image
// marker (FF D9). Entropy-coded data stuffs every FF with 00, so neither marker can
// appear inside a scan; an EXIF thumbnail's markers come before the main image's scans.
bool jpeg_has_end_marker(const uint8_t* d, size_t n) {
  size_t last_sos = 0;
  bool found = false;
  for (size_t i = 2; i + 1 < n; ++i)
    if (d[i] == 0xFF && d[i + 1] == 0xDA) last_sos = i, found = true;
  if (!found) return false;
  for (size_t i = last_sos + 2; i + 1 < n; ++i)
    if (d[i] == 0xFF && d[i + 1] == 0xD9) return true;
  return false;
}

// Decodes to OpenCV's native layout (BGR[A] or gray, 8/16-bit or float) after the checks.
cv::Mat decode_raw(const uint8_t* data, size_t size, const std::string& name, DecodedInfo& info) {
  GLIA_CHECK(size > 0, name << ": empty file (0 bytes), not an image");
  info.format = detect_format(data, size);
  GLIA_CHECK(info.format != ImageFormat::unknown,
             name << ": not an image glia can read (first bytes " << first_bytes_hex(data, size)
                  << " match no PNG, JPEG, TIFF or BMP signature; the file name's extension is "
                     "ignored)");
  if (info.format == ImageFormat::jpeg)
    GLIA_CHECK(jpeg_has_end_marker(data, size),
               name << ": truncated or corrupt JPEG (" << size << " bytes, no end-of-image marker "
                    << "after the last scan)");
  GLIA_CHECK(size <= static_cast<size_t>(INT32_MAX), name << ": " << size << " bytes is too large to decode");
  check_image_budget(data, size, info.format, name);  // before OpenCV allocates what the header claims
  cv::Mat raw;
  try {
    // imdecode takes a non-const Mat header but does not write to it.
    cv::Mat buffer(1, static_cast<int>(size), CV_8UC1, const_cast<uint8_t*>(data));
    // UNCHANGED: keep the depth, the channels (alpha, gray) and the pixel order (no EXIF
    // rotation), and convert here, the same way for every format.
    raw = cv::imdecode(buffer, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    GLIA_FAIL(name << ": corrupt " << format_name(info.format) << " (" << size
                   << " bytes), OpenCV says: " << e.what());
  }
  GLIA_CHECK(!raw.empty(), name << ": corrupt or truncated " << format_name(info.format) << " ("
                                << size << " bytes): the decoder returned no image");
  info.width = raw.cols;
  info.height = raw.rows;
  info.channels = raw.channels();
  switch (raw.depth()) {
    case CV_8U: info.bit_depth = 8; break;
    case CV_16U: info.bit_depth = 16; break;
    case CV_32F: info.bit_depth = 32; break;
    default:
      GLIA_FAIL(name << ": unsupported pixel depth (OpenCV depth code " << raw.depth() << ") in "
                     << format_name(info.format) << "; expected 8-bit, 16-bit or float");
  }
  GLIA_CHECK(info.channels >= 1 && info.channels <= 4,
             name << ": unsupported channel count " << info.channels);
  return raw;
}

double depth_scale(int depth) {
  if (depth == CV_8U) return 1.0 / 255.0;
  if (depth == CV_16U) return 1.0 / 65535.0;
  return 1.0;  // float images are taken as already in [0, 1]
}

}  // namespace

cv::Mat decode_image(const uint8_t* data, size_t size, const std::string& name, int channels,
                     DecodedInfo* info_out, int height, int width, Interpolation interpolation) {
  GLIA_CHECK(channels == 1 || channels == 3,
             name << ": can convert images to 1 or 3 channels, not " << channels);
  return to_float_image(decode_resized(data, size, name, info_out, height, width, interpolation), channels);
}

cv::Mat decode_resized(const uint8_t* data, size_t size, const std::string& name, DecodedInfo* info_out, int height,
                       int width, Interpolation interpolation) {
  DecodedInfo info;
  cv::Mat raw = decode_raw(data, size, name, info);
  // Drop alpha and resize in the native depth (8/16-bit: as PIL and torchvision resize
  // uint8 images, and several times faster than in float), then convert to float.
  if (raw.channels() == 2) cv::extractChannel(raw, raw, 0);
  else if (raw.channels() == 4) cv::cvtColor(raw, raw, cv::COLOR_BGRA2BGR);
  if (height > 0 && width > 0) raw = resize_image(raw, height, width, interpolation);
  if (info_out) *info_out = info;
  return raw;
}

cv::Mat to_float_image(const cv::Mat& native, int channels) {
  GLIA_CHECK(channels == 1 || channels == 3, "can convert images to 1 or 3 channels, not " << channels);
  cv::Mat img;
  native.convertTo(img, CV_32F, depth_scale(native.depth()));
  if (channels == 1 && img.channels() == 3) cv::cvtColor(img, img, cv::COLOR_BGR2GRAY);
  // Gray is replicated to 3 channels last: a third of the work for gray files.
  if (channels == 3) cv::cvtColor(img, img, img.channels() == 1 ? cv::COLOR_GRAY2RGB : cv::COLOR_BGR2RGB);
  return img;
}

cv::Mat decode_mask_u8(const uint8_t* data, size_t size, const std::string& name, DecodedInfo* info_out) {
  DecodedInfo info;
  cv::Mat raw = decode_raw(data, size, name, info);
  cv::Mat any_nonzero = cv::Mat::zeros(raw.rows, raw.cols, CV_8UC1);
  std::vector<cv::Mat> planes;
  cv::split(raw, planes);
  for (const cv::Mat& plane : planes) any_nonzero |= (plane != 0);
  if (info_out) *info_out = info;
  return any_nonzero / 255;  // (plane != 0) is 0 or 255
}

cv::Mat decode_mask(const uint8_t* data, size_t size, const std::string& name, DecodedInfo* info_out) {
  cv::Mat out;
  decode_mask_u8(data, size, name, info_out).convertTo(out, CV_32F);
  return out;
}

DecodedInfo probe_image(const uint8_t* data, size_t size, const std::string& name) {
  DecodedInfo info;
  decode_raw(data, size, name, info);
  return info;
}

cv::Mat resize_image(const cv::Mat& image, int height, int width, Interpolation interpolation) {
  // Works on any depth; the loader resizes 8/16-bit images before converting to float.
  GLIA_CHECK(height > 0 && width > 0, "resize_image: target size " << width << "x" << height
                                                                   << " (width x height) must be positive");
  if (image.rows == height && image.cols == width) return image;
  cv::Mat out;
  cv::resize(image, out, cv::Size(width, height), 0, 0, to_cv_interpolation(interpolation));
  return out;
}

void check_normalization(const Normalization& norm, int channels) {
  if (norm.empty() && norm.std.empty()) return;
  GLIA_CHECK(static_cast<int>(norm.mean.size()) == channels &&
                 static_cast<int>(norm.std.size()) == channels,
             "normalisation needs one mean and one std per channel (" << channels << "), got "
                 << norm.mean.size() << " means and " << norm.std.size() << " stds");
  for (float s : norm.std) GLIA_CHECK(s > 0, "normalisation std " << s << " must be positive");
}

void to_planar(const cv::Mat& image, const Normalization& norm, float* out) {
  GLIA_CHECK(image.depth() == CV_32F, "to_planar: expected a float image");
  const int c = image.channels(), h = image.rows, w = image.cols;
  const size_t plane = static_cast<size_t>(h) * w;
  for (int y = 0; y < h; ++y) {
    const float* row = image.ptr<float>(y);
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k) {
        float v = row[x * c + k];
        if (!norm.empty()) v = (v - norm.mean[k]) / norm.std[k];
        out[k * plane + static_cast<size_t>(y) * w + x] = v;
      }
  }
}

}  // namespace glia::io
