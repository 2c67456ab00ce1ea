#include "layers/basic.h"

#include <cmath>
#include <sstream>

#include "layers/layer_span.h"
#include "tensor/autograd.h"
#include "tensor/nn_ops.h"
#include "tensor/ops.h"

namespace glia::nn {

BatchNorm2d::BatchNorm2d(int64_t channels, double eps, double momentum, NormActivation fused_activation)
    : Module("BatchNorm2d"), eps(eps), momentum(momentum), fused_activation(fused_activation) {
  GLIA_CHECK(channels > 0, "BatchNorm2d: channels must be positive, got " << channels);
  weight = ones({channels});
  bias = zeros({channels});
  running_mean = zeros({channels});
  running_var = ones({channels});
  num_batches_tracked = zeros({}, DType::i64);
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
  register_buffer("running_mean", &running_mean);
  register_buffer("running_var", &running_var);
  register_buffer("num_batches_tracked", &num_batches_tracked);
}

Tensor BatchNorm2d::forward(const Tensor& x) { return normalize(x, fused_activation, Tensor()); }

Tensor BatchNorm2d::add_relu(const Tensor& x, const Tensor& residual) {
  GLIA_CHECK(fused_activation == NormActivation::identity,
             "BatchNorm2d::add_relu: this layer already fuses " << kernels::norm_activation_name(fused_activation));
  LayerSpan span(*this);  // add_relu bypasses operator()
  return recorded(x, normalize(x, NormActivation::relu, residual));
}

Tensor BatchNorm2d::normalize(const Tensor& x, NormActivation act, const Tensor& residual) {
  const bool training = is_training();
  if (training) {
    NoGradGuard no_grad;
    // A host read-modify-write: integer tensors have no add kernel, and the counter is tiny.
    num_batches_tracked.fill_(static_cast<double>(num_batches_tracked.item<int64_t>() + 1));
  }
  return batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps, act, residual);
}

std::string BatchNorm2d::describe() const {
  std::ostringstream os;
  os << weight.numel();
  if (fused_activation != NormActivation::identity) os << " +" << kernels::norm_activation_name(fused_activation);
  return os.str();
}

Linear::Linear(int64_t in, int64_t out, bool with_bias, Generator* gen)
    : Module("Linear"), in_features(in), out_features(out) {
  GLIA_CHECK(in > 0 && out > 0, "Linear: features " << in << "->" << out << " must be positive");
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  weight = uniform({out, in}, -bound, bound, DType::f32, Device::cpu, gen);
  register_parameter("weight", &weight);
  if (with_bias) {
    bias = uniform({out}, -bound, bound, DType::f32, Device::cpu, gen);
    register_parameter("bias", &bias);
  }
}

Tensor Linear::forward(const Tensor& x) {
  GLIA_CHECK(x.dim() >= 1 && x.size(-1) == in_features,
             "Linear(" << in_features << "->" << out_features << "): input " << shape_str(x.sizes()) << " must end in "
                       << in_features);
  return linear(x, weight, bias);
}

std::string Linear::describe() const {
  std::ostringstream os;
  os << in_features << "->" << out_features;
  return os.str();
}

int64_t Linear::macs(const Shape&, const Shape& out) const { return shape_numel(out) * in_features; }

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, is_training(), gen_); }
std::string Dropout::describe() const {
  std::ostringstream os;
  os << "p=" << p;
  return os.str();
}

Tensor StochasticDepth::forward(const Tensor& x) { return stochastic_depth(x, p, is_training(), gen_); }
std::string StochasticDepth::describe() const {
  std::ostringstream os;
  os << "p=" << p;
  return os.str();
}

const char* activation_name(ActivationKind kind) {
  switch (kind) {
    case ActivationKind::relu: return "ReLU";
    case ActivationKind::relu6: return "ReLU6";
    case ActivationKind::silu: return "SiLU";
    case ActivationKind::sigmoid: return "Sigmoid";
    case ActivationKind::tanh: return "Tanh";
    case ActivationKind::hardswish: return "Hardswish";
    case ActivationKind::identity: return "Identity";
  }
  return "?";
}

Tensor activate(ActivationKind kind, const Tensor& x) {
  switch (kind) {
    case ActivationKind::relu: return relu(x);
    case ActivationKind::relu6: return relu6(x);
    case ActivationKind::silu: return silu(x);
    case ActivationKind::sigmoid: return sigmoid(x);
    case ActivationKind::tanh: return glia::tanh(x);
    case ActivationKind::hardswish: return hardswish(x);
    case ActivationKind::identity: return x;
  }
  return x;
}

Tensor Activation::forward(const Tensor& x) { return activate(kind, x); }

Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, kernel, stride, padding); }
std::string MaxPool2d::describe() const {
  std::ostringstream os;
  os << "k" << kernel << " s" << stride;
  return os.str();
}

Tensor AvgPool2d::forward(const Tensor& x) { return avg_pool2d(x, kernel, stride, padding, count_include_pad); }
std::string AvgPool2d::describe() const {
  std::ostringstream os;
  os << "k" << kernel << " s" << stride;
  return os.str();
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) { return adaptive_avg_pool2d(x, out_h, out_w); }
std::string AdaptiveAvgPool2d::describe() const {
  std::ostringstream os;
  os << out_h << "x" << out_w;
  return os.str();
}

Tensor Flatten::forward(const Tensor& x) { return x.flatten(1); }

}  // namespace glia::nn
