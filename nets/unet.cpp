#include "nets/unet.h"

#include "tensor/nn_ops.h"
#include "tensor/ops.h"

namespace glia::nets {

namespace {
// A container that only names its children (nn.ModuleList): never called itself.
class ModuleList : public nn::Module {
 public:
  ModuleList() : Module("ModuleList") {}
  template <class M>
  M* add(std::shared_ptr<M> m) {
    return register_module(std::to_string(n_++), std::move(m));
  }
  Tensor forward(const Tensor&) override { GLIA_FAIL("ModuleList is a container and cannot be called"); }

 private:
  int64_t n_ = 0;
};
}  // namespace

UNet::UNet(const UNetConfig& c, Generator* gen) : Module("UNet"), config_(c) {
  GLIA_CHECK(c.in_channels > 0 && c.out_channels > 0 && c.width > 0 && c.depth >= 1 && c.depth <= 8,
             "UNet: in_channels " << c.in_channels << ", out_channels " << c.out_channels << ", width " << c.width
                                  << ", depth " << c.depth << " (depth 1..8, others positive)");
  auto encoders = std::make_shared<ModuleList>();
  int64_t prev = c.in_channels;
  std::vector<int64_t> widths;
  for (int64_t i = 0; i < c.depth; ++i) {
    const int64_t w = c.width << i;
    widths.push_back(w);
    encoders_.push_back(encoders->add(std::make_shared<nn::ResidualBlock>(prev, w, c.norm, gen)));
    prev = w;
  }
  register_module("encoders", encoders);
  bottleneck_ = register_module("bottleneck", std::make_shared<nn::ResidualBlock>(prev, 2 * prev, c.norm, gen));
  auto upconvs = std::make_shared<ModuleList>();
  auto decoders = std::make_shared<ModuleList>();
  for (auto it = widths.rbegin(); it != widths.rend(); ++it) {
    nn::ConvTranspose2dOptions o;
    o.in_channels = 2 * *it;
    o.out_channels = *it;
    o.kernel = 2;
    o.stride = 2;
    upconvs_.push_back(upconvs->add(std::make_shared<nn::ConvTranspose2d>(o, gen)));
    decoders_.push_back(decoders->add(std::make_shared<nn::ResidualBlock>(2 * *it, *it, c.norm, gen)));
  }
  register_module("upconvs", upconvs);
  register_module("decoders", decoders);
  head_ = register_module("head", std::make_shared<nn::Conv2d>(nn::conv_options(c.width, c.out_channels, 1), gen));
}

Tensor UNet::forward(const Tensor& input) {
  const int64_t factor = int64_t{1} << config_.depth;
  GLIA_CHECK(input.dim() == 4 && input.size(1) == config_.in_channels && input.size(2) % factor == 0 &&
                 input.size(3) % factor == 0,
             "UNet: input must be [N, " << config_.in_channels << ", H, W] with H and W divisible by " << factor
                                        << " (depth " << config_.depth << "), got " << shape_str(input.sizes()));
  Tensor x = input;
  std::vector<Tensor> skips;
  for (auto* enc : encoders_) {
    x = (*enc)(x);
    skips.push_back(x);
    x = max_pool2d(x, 2, 2);
  }
  x = (*bottleneck_)(x);
  for (size_t i = 0; i < decoders_.size(); ++i) {
    Tensor up = (*upconvs_[i])(x);
    x = (*decoders_[i])(concat({skips[skips.size() - 1 - i], up}, 1));
  }
  return (*head_)(x);
}

}  // namespace glia::nets
