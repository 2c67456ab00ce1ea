// Heat maps over images (Grad-CAM, nets/gradcam.h): the map normalised to its maximum,
// coloured with the jet colour map (blue = none, red = the most) and blended half and
// half with the image, as the Grad-CAM paper and pytorch-grad-cam show them.
#pragma once
#include <cstdint>

#include <opencv2/core.hpp>

namespace glia::io {

// BGR 8-bit image: `heat` (height*width, row-major, >= 0) over a CHW float image in
// [0, 1] with 1 or 3 channels (RGB), the same size. An all-zero map (no positive
// evidence) shows as uniform blue. Images under 256 px are enlarged by an integer factor
// like io::overlay_image, so the two sit side by side at the same scale.
cv::Mat heatmap_overlay_image(const float* chw, int channels, int height, int width, const float* heat);

}  // namespace glia::io
