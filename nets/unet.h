// The residual U-Net of the paper, layer for layer and name for name the PyTorch
// reference tools/unet.py (its docstring is the spec):
//   encoders.i      ResidualBlock(prev, width*2^i), then max-pool 2x2
//   bottleneck      ResidualBlock(width*2^(depth-1), width*2^depth)   (64, 4 -> 1024 filters)
//   upconvs.i       ConvTranspose2d(2w -> w, k2 s2), deepest level first
//   decoders.i      ResidualBlock(2w -> w) on concat[skip, up]
//   head            Conv2d 1x1 (width -> out_channels) with bias; logits (sigmoid in the loss)
// See nets/README.md for how this counts against the paper's "23 convolutional layers,
// 10 residual blocks".
#pragma once
#include "layers/blocks.h"

namespace glia::nets {

struct UNetConfig {
  int64_t in_channels = 3;
  int64_t out_channels = 1;
  int64_t width = 64;  // filters of the first level
  int64_t depth = 4;   // down-sampling levels; the input's H and W must divide by 2^depth
  nn::NormOptions norm;
};

class UNet : public nn::Module {
 public:
  explicit UNet(const UNetConfig& config = {}, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;  // logits [N, out_channels, H, W]
  const UNetConfig& config() const { return config_; }

 private:
  UNetConfig config_;
  std::vector<nn::ResidualBlock*> encoders_, decoders_;
  std::vector<nn::ConvTranspose2d*> upconvs_;
  nn::ResidualBlock* bottleneck_;
  nn::Conv2d* head_;
};

}  // namespace glia::nets
