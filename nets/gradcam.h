// Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
// Gradient-based Localization", ICCV 2017): where in the image a classifier found the
// evidence for a class. With A the last convolutional feature map [C, h, w] and y_c the
// class score (the logit, before softmax):
//   alpha_k = mean over (i, j) of dy_c / dA_k[i, j]      one weight per channel
//   L       = ReLU(sum_k alpha_k A_k)                     [h, w], >= 0
// then L is up-sampled bilinearly (PyTorch's align_corners=False) to the image size.
//
// Only the head (A -> logits) is differentiated: A is computed without recording, then
// becomes a leaf, so the base's activations are not kept for a backward. Parameters get
// no gradient from it (their requires_grad is switched off for the backward), so it can
// run between training steps without touching the optimiser's gradients.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "layers/module.h"
#include "nets/efficientnet.h"

namespace glia::nets {

struct GradCam {
  int label = -1;              // the class explained
  std::vector<float> logits;   // [num_classes] of the image
  std::vector<float> weights;  // alpha_k, [C]
  int64_t height = 0, width = 0;
  std::vector<float> map;      // L up-sampled to height x width, row-major, >= 0
  float max() const;           // the map's largest value (0 when the class has no positive evidence)
};

// Grad-CAM of one image from its feature map [1, C, h, w] and a head that maps such a map
// to logits [1, K]. class_index < 0 explains the predicted class (the largest logit).
// out_h, out_w: the size of `map` (0: the feature map's own h x w). `params`: the
// parameters the head reads, kept free of gradients (may be null).
GradCam grad_cam(const Tensor& feature_map, const std::function<Tensor(const Tensor&)>& head,
                 int class_index = -1, int64_t out_h = 0, int64_t out_w = 0, nn::Module* params = nullptr);

// EfficientNet: A is the head conv's activation output (features.8, before pooling).
// image [1, 3, H, W] as the model takes it; the map is up-sampled to out_h x out_w
// (0: H x W). Runs the model in its current mode (call eval() first for a prediction).
GradCam grad_cam(EfficientNet& model, const Tensor& image, int class_index = -1, int64_t out_h = 0,
                 int64_t out_w = 0);

// The map's peak: the mean position (x, y in pixels) of the points within a relative
// 1e-6 of the maximum. Bilinear up-sampling leaves a flat maximum where the largest cell
// lies on the border, so a first-argmax would sit on the image edge instead of the cell.
struct MapPeak {
  double x = 0, y = 0;
};
MapPeak map_peak(const GradCam& cam);

}  // namespace glia::nets
