#include "io/heatmap.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "kernels/error.h"

namespace glia::io {

cv::Mat heatmap_overlay_image(const float* chw, int channels, int height, int width, const float* heat) {
  GLIA_CHECK(channels == 1 || channels == 3, "heat map overlay: " << channels << " channels, need 1 or 3");
  GLIA_CHECK(height > 0 && width > 0, "heat map overlay: empty image " << height << " x " << width);
  const size_t plane = static_cast<size_t>(height) * width;
  float top = 0;
  for (size_t i = 0; i < plane; ++i) {
    GLIA_CHECK(std::isfinite(heat[i]) && heat[i] >= 0, "heat map overlay: value " << heat[i] << " at pixel " << i
                                                                                  << " is not finite and >= 0");
    top = std::max(top, heat[i]);
  }
  auto to8 = [](float v) { return static_cast<uint8_t>(std::clamp(v, 0.0f, 1.0f) * 255.0f + 0.5f); };
  cv::Mat level(height, width, CV_8UC1), image(height, width, CV_8UC3);
  for (size_t i = 0; i < plane; ++i) {
    level.data[i] = top > 0 ? to8(heat[i] / top) : 0;
    uint8_t* px = image.data + 3 * i;
    if (channels == 1) {
      px[0] = px[1] = px[2] = to8(chw[i]);
    } else {
      px[0] = to8(chw[2 * plane + i]);
      px[1] = to8(chw[plane + i]);
      px[2] = to8(chw[i]);
    }
  }
  cv::Mat colour, blended;
  cv::applyColorMap(level, colour, cv::COLORMAP_JET);
  cv::addWeighted(image, 0.5, colour, 0.5, 0.0, blended);
  const int scale = std::max(1, 256 / std::max(height, width));
  if (scale > 1) cv::resize(blended, blended, cv::Size(width * scale, height * scale), 0, 0, cv::INTER_NEAREST);
  return blended;
}

}  // namespace glia::io
