#include "layers/blocks.h"

#include <sstream>

#include "tensor/nn_ops.h"
#include "tensor/ops.h"

namespace glia::nn {

int64_t make_divisible(double v, int64_t divisor, int64_t min_value) {
  if (min_value <= 0) min_value = divisor;
  int64_t rounded = static_cast<int64_t>(v + static_cast<double>(divisor) / 2) / divisor * divisor;
  int64_t out = std::max(min_value, rounded);
  if (static_cast<double>(out) < 0.9 * v) out += divisor;
  return out;
}

std::shared_ptr<Sequential> conv_bn_act(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups,
                                        ActivationKind act, const NormOptions& norm, Generator* gen,
                                        bool same_padding) {
  auto seq = std::make_shared<Sequential>();
  Conv2dOptions co = conv_options(in, out, kernel, stride, (kernel - 1) / 2, groups, false);
  co.same = same_padding;
  seq->add(std::make_shared<Conv2d>(co, gen));
  // ReLU and SiLU run inside batch norm's kernel (no parameters, so the state_dict is
  // torchvision's either way); other activations stay a separate module "2".
  const NormActivation fused = act == ActivationKind::relu   ? NormActivation::relu
                               : act == ActivationKind::silu ? NormActivation::silu
                                                             : NormActivation::identity;
  seq->add(std::make_shared<BatchNorm2d>(out, norm.eps, norm.momentum, fused));
  if (act != ActivationKind::identity && fused == NormActivation::identity) seq->add(std::make_shared<Activation>(act));
  return seq;
}

SqueezeExcitation::SqueezeExcitation(int64_t channels, int64_t squeeze, ActivationKind act, Generator* gen)
    : Module("SqueezeExcitation"), act_(act) {
  register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(1, 1));
  fc1 = register_module("fc1", std::make_shared<Conv2d>(conv_options(channels, squeeze, 1), gen));
  fc2 = register_module("fc2", std::make_shared<Conv2d>(conv_options(squeeze, channels, 1), gen));
  register_module("activation", std::make_shared<Activation>(act));
  register_module("scale_activation", std::make_shared<Activation>(ActivationKind::sigmoid));
}

Tensor SqueezeExcitation::forward(const Tensor& x) {
  Tensor s = (*child("avgpool"))(x);
  s = (*child("activation"))((*fc1)(s));
  s = (*child("scale_activation"))((*fc2)(s));
  return s * x;
}

MBConv::MBConv(const MBConvOptions& o, Generator* gen) : Module("MBConv"), o_(o) {
  GLIA_CHECK(o.stride == 1 || o.stride == 2, "MBConv: stride must be 1 or 2, got " << o.stride);
  use_res_ = o.stride == 1 && o.in_channels == o.out_channels;
  auto block = std::make_shared<Sequential>();
  const int64_t expanded = make_divisible(static_cast<double>(o.in_channels) * o.expand_ratio);
  if (expanded != o.in_channels)
    block->add(conv_bn_act(o.in_channels, expanded, 1, 1, 1, o.activation, o.norm, gen, o.same_padding));
  block->add(conv_bn_act(expanded, expanded, o.kernel, o.stride, expanded, o.activation, o.norm, gen, o.same_padding));
  if (o.squeeze_excite)
    block->add(std::make_shared<SqueezeExcitation>(expanded, std::max<int64_t>(1, o.in_channels / 4), o.activation,
                                                   gen));
  block->add(conv_bn_act(expanded, o.out_channels, 1, 1, 1, ActivationKind::identity, o.norm, gen, o.same_padding));
  block_ = register_module("block", block);
  stochastic_depth_ = register_module("stochastic_depth", std::make_shared<StochasticDepth>(o.stochastic_depth_prob));
}

Tensor MBConv::forward(const Tensor& x) {
  Tensor y = (*block_)(x);
  if (!use_res_) return y;
  return (*stochastic_depth_)(y) + x;
}

std::string MBConv::describe() const {
  std::ostringstream os;
  os << o_.in_channels << "->" << o_.out_channels << " e" << o_.expand_ratio << " k" << o_.kernel << " s" << o_.stride;
  return os.str();
}

ResidualBlock::ResidualBlock(int64_t in, int64_t out, const NormOptions& norm, Generator* gen)
    : Module("ResidualBlock"), in_(in), out_(out) {
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(conv_options(in, out, 3, 1, 1, 1, false), gen));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(out, norm.eps, norm.momentum, NormActivation::relu));
  conv2_ = register_module("conv2", std::make_shared<Conv2d>(conv_options(out, out, 3, 1, 1, 1, false), gen));
  bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(out, norm.eps, norm.momentum));
  if (in != out) {
    auto sc = std::make_shared<Sequential>();
    sc->add(std::make_shared<Conv2d>(conv_options(in, out, 1, 1, 0, 1, false), gen));
    sc->add(std::make_shared<BatchNorm2d>(out, norm.eps, norm.momentum));
    shortcut_ = register_module("shortcut", sc);
  }
}

Tensor ResidualBlock::forward(const Tensor& x) {
  Tensor y = (*bn1_)((*conv1_)(x));  // bn1 applies the ReLU
  Tensor s = shortcut_ != nullptr ? (*shortcut_)(x) : x;
  return bn2_->add_relu((*conv2_)(y), s);  // relu(bn2(conv2(y)) + s) in one pass
}

std::string ResidualBlock::describe() const {
  std::ostringstream os;
  os << in_ << "->" << out_;
  return os.str();
}

}  // namespace glia::nn
