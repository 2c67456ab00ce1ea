#include "layers/conv.h"

#include <cmath>
#include <sstream>

namespace glia::nn {

Conv2dOptions conv_options(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding, int64_t groups,
                           bool bias) {
  Conv2dOptions o;
  o.in_channels = in;
  o.out_channels = out;
  o.kernel_h = o.kernel_w = kernel;
  o.stride = stride;
  o.padding = padding;
  o.groups = groups;
  o.bias = bias;
  return o;
}

Conv2d::Conv2d(const Conv2dOptions& o, Generator* gen) : Module("Conv2d"), o_(o) {
  GLIA_CHECK(o.in_channels > 0 && o.out_channels > 0 && o.groups > 0 && o.in_channels % o.groups == 0 &&
                 o.out_channels % o.groups == 0,
             "Conv2d: channels " << o.in_channels << "->" << o.out_channels << " must be positive and divisible by groups "
                                 << o.groups);
  GLIA_CHECK(o.kernel_h > 0 && o.kernel_w > 0 && o.stride > 0 && o.dilation > 0 && o.padding >= 0,
             "Conv2d: kernel " << o.kernel_h << "x" << o.kernel_w << ", stride " << o.stride << ", dilation "
                               << o.dilation << ", padding " << o.padding << " are invalid");
  const int64_t fan_in = o.in_channels / o.groups * o.kernel_h * o.kernel_w;
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  weight = uniform({o.out_channels, o.in_channels / o.groups, o.kernel_h, o.kernel_w}, -bound, bound, DType::f32,
                   Device::cpu, gen);
  register_parameter("weight", &weight);
  if (o.bias) {
    bias = uniform({o.out_channels}, -bound, bound, DType::f32, Device::cpu, gen);
    register_parameter("bias", &bias);
  }
}

Tensor Conv2d::forward(const Tensor& x) {
  Conv2dArgs a;
  a.stride_h = a.stride_w = o_.stride;
  a.dilation_h = a.dilation_w = o_.dilation;
  a.groups = o_.groups;
  if (o_.same) {
    GLIA_CHECK(x.dim() == 4, "Conv2d: input must be [N, C, H, W], got " << shape_str(x.sizes()));
    a.padding = same_padding_2d(x.size(2), x.size(3), o_.kernel_h, o_.kernel_w, o_.stride, o_.stride, o_.dilation,
                                o_.dilation);
  } else {
    a.padding = Padding2d::symmetric(o_.padding);
  }
  return conv2d(x, weight, bias, a);
}

std::string Conv2d::describe() const {
  std::ostringstream os;
  os << o_.in_channels << "->" << o_.out_channels << " k" << o_.kernel_h;
  if (o_.kernel_w != o_.kernel_h) os << "x" << o_.kernel_w;
  if (o_.stride != 1) os << " s" << o_.stride;
  if (o_.groups != 1) os << " g" << o_.groups;
  return os.str();
}

int64_t Conv2d::macs(const Shape&, const Shape& out) const {
  return shape_numel(out) * (o_.in_channels / o_.groups) * o_.kernel_h * o_.kernel_w;
}

ConvTranspose2d::ConvTranspose2d(const ConvTranspose2dOptions& o, Generator* gen) : Module("ConvTranspose2d"), o_(o) {
  GLIA_CHECK(o.in_channels > 0 && o.out_channels > 0 && o.kernel > 0 && o.stride > 0,
             "ConvTranspose2d: channels " << o.in_channels << "->" << o.out_channels << ", kernel " << o.kernel
                                          << ", stride " << o.stride << " must be positive");
  // PyTorch computes fan_in from weight.size(1) = out_channels for transposed convs.
  const int64_t fan_in = o.out_channels * o.kernel * o.kernel;
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  weight = uniform({o.in_channels, o.out_channels, o.kernel, o.kernel}, -bound, bound, DType::f32, Device::cpu, gen);
  register_parameter("weight", &weight);
  if (o.bias) {
    bias = uniform({o.out_channels}, -bound, bound, DType::f32, Device::cpu, gen);
    register_parameter("bias", &bias);
  }
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  ConvTranspose2dArgs a;
  a.stride_h = a.stride_w = o_.stride;
  a.pad_h = a.pad_w = o_.padding;
  a.output_pad_h = a.output_pad_w = o_.output_padding;
  a.dilation_h = a.dilation_w = o_.dilation;
  return conv_transpose2d(x, weight, bias, a);
}

std::string ConvTranspose2d::describe() const {
  std::ostringstream os;
  os << o_.in_channels << "->" << o_.out_channels << " k" << o_.kernel << " s" << o_.stride;
  return os.str();
}

int64_t ConvTranspose2d::macs(const Shape& in, const Shape&) const {
  return shape_numel(in) * o_.out_channels * o_.kernel * o_.kernel;
}

}  // namespace glia::nn
