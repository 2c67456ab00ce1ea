// PNG reports drawn with OpenCV for the run directory (apps/: they draw train/'s
// metrics and history, so they sit above both io/ and train/): the confusion matrix, training
// curves (loss and the monitored metric per epoch, train and validation) and segmentation
// overlays (the predicted mask's outline, and optionally the true mask's, on the image).
#pragma once
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "train/classification_metrics.h"
#include "train/trainer.h"

namespace glia::app {

// A grid coloured by row-normalised counts (recall per true class), with the counts written
// in the cells; rows are true classes, columns predictions.
void write_confusion_png(const std::string& path, const ConfusionMatrix& confusion,
                         const std::vector<std::string>& class_names);

// Two panels side by side: loss and `metric_name` per epoch (train solid, validation dashed
// look: a second colour). Needs at least one row.
void write_curves_png(const std::string& path, const std::vector<HistoryRow>& history, const std::string& metric_name);

// BGR 8-bit image of a CHW float image in [0, 1] (the first channel for 1, RGB for 3;
// for 3 channels the middle channel, e.g. FLAIR of the LGG slices, is shown as gray when
// `gray_channel` >= 0) with the outline of `mask` (h*w, non-zero = foreground) in red and,
// when given, the outline of `truth` in green. Images under 256 px are enlarged by an
// integer factor (nearest) so the outlines stay visible.
cv::Mat overlay_image(const float* chw, int channels, int height, int width, const uint8_t* mask,
                      const uint8_t* truth = nullptr, int gray_channel = -1);

// Writes a 0/255 single-channel PNG of an h*w mask.
void write_mask_png(const std::string& path, const uint8_t* mask, int height, int width);

// cv::imwrite with an error naming the file when it fails.
void write_png(const std::string& path, const cv::Mat& image);

}  // namespace glia::app
