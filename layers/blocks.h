// Composite blocks of the two networks, with torchvision's / tools/unet.py's child names:
//   conv_bn_act        torchvision Conv2dNormActivation: Sequential(0 conv, 1 bn[, 2 act]);
//                      ReLU/SiLU are fused into bn (BatchNorm2d::fused_activation)
//   SqueezeExcitation  avgpool, fc1 (1x1 conv), activation, fc2 (1x1 conv), sigmoid scale
//   MBConv             block = Sequential([expand], depthwise, [se], project), stochastic
//                      depth on the residual branch, skip when stride 1 and in == out
//                      (EfficientNet-Lite: no se, ReLU6, TensorFlow "same" padding)
//   ResidualBlock      conv1 bn1 relu conv2 bn2 (+ identity or shortcut = 1x1 conv + bn), relu
//                      (the first relu fused into bn1, add + relu into bn2.add_relu)
#pragma once
#include "layers/basic.h"
#include "layers/conv.h"

namespace glia::nn {

struct NormOptions {
  double eps = 1e-5, momentum = 0.1;
};

// torchvision's _make_divisible: round to a multiple of `divisor`, never below
// min_value (default divisor) and never more than 10% below v.
int64_t make_divisible(double v, int64_t divisor = 8, int64_t min_value = 0);

// Conv (no bias, padding (k-1)/2, or TensorFlow "same" when same_padding: asymmetric for
// strided convs of even inputs) -> BatchNorm -> activation (none when identity).
std::shared_ptr<Sequential> conv_bn_act(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups,
                                        ActivationKind act, const NormOptions& norm, Generator* gen = nullptr,
                                        bool same_padding = false);

class SqueezeExcitation : public Module {
 public:
  SqueezeExcitation(int64_t channels, int64_t squeeze_channels, ActivationKind act = ActivationKind::silu,
                    Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  Conv2d* fc1;
  Conv2d* fc2;

 private:
  ActivationKind act_;
};

struct MBConvOptions {
  int64_t in_channels = 0, out_channels = 0;
  double expand_ratio = 1;
  int64_t kernel = 3, stride = 1;
  double stochastic_depth_prob = 0;
  NormOptions norm;
  ActivationKind activation = ActivationKind::silu;  // Lite: relu6
  bool squeeze_excite = true;                        // Lite: none
  bool same_padding = false;                         // Lite: TensorFlow "same" (its weights' convention)
};

class MBConv : public Module {
 public:
  explicit MBConv(const MBConvOptions& o, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  bool use_residual() const { return use_res_; }
  std::string describe() const override;

 private:
  MBConvOptions o_;
  bool use_res_;
  Sequential* block_;
  StochasticDepth* stochastic_depth_;
};

class ResidualBlock : public Module {
 public:
  ResidualBlock(int64_t in_channels, int64_t out_channels, const NormOptions& norm = {}, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  bool has_projection() const { return shortcut_ != nullptr; }

 private:
  int64_t in_, out_;
  Conv2d *conv1_, *conv2_;
  BatchNorm2d *bn1_, *bn2_;
  Sequential* shortcut_ = nullptr;
};

}  // namespace glia::nn
