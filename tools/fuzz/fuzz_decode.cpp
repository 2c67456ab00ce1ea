// libFuzzer target for glia's decode path: any bytes must give an image or a glia::Error,
// never a crash, a hang or a sanitizer report. Built and run only by scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>

#include "io/image.h"
#include "kernels/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glia::io;
  try {
    cv::Mat rgb = decode_image(data, size, "fuzz input", 3, nullptr, 13, 17, Interpolation::area);
    if (rgb.rows != 13 || rgb.cols != 17 || rgb.channels() != 3) __builtin_trap();
  } catch (const glia::Error&) {
  }
  try {
    cv::Mat gray = decode_image(data, size, "fuzz input", 1);
    if (gray.channels() != 1) __builtin_trap();
  } catch (const glia::Error&) {
  }
  try {
    cv::Mat mask = decode_mask(data, size, "fuzz input");
    for (int y = 0; y < mask.rows; ++y)
      for (int x = 0; x < mask.cols; ++x) {
        float v = mask.at<float>(y, x);
        if (v != 0.0f && v != 1.0f) __builtin_trap();
      }
  } catch (const glia::Error&) {
  }
  return 0;
}
