// The small layers: BatchNorm2d, Linear, Dropout, StochasticDepth, activations, pooling,
// Flatten, Identity. PyTorch's parameter/buffer names and default initialisation.
#pragma once
#include "layers/module.h"
#include "tensor/nn_ops.h"  // NormActivation

namespace glia::nn {

// Parameters weight (1) and bias (0); buffers running_mean, running_var,
// num_batches_tracked (int64). Trains with batch statistics (updating the running ones)
// unless in eval mode or frozen. fused_activation (relu or silu) is applied in the same
// kernel pass: what Conv2dNormActivation's separate activation module would do, with one
// read and write of the activations fewer each way.
class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t channels, double eps = 1e-5, double momentum = 0.1,
                       NormActivation fused_activation = NormActivation::identity);
  Tensor forward(const Tensor& x) override;
  // relu(bn(x) + residual) in one kernel pass: a residual block's tail.
  Tensor add_relu(const Tensor& x, const Tensor& residual);
  std::string describe() const override;

  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  double eps, momentum;
  NormActivation fused_activation;

 private:
  Tensor normalize(const Tensor& x, NormActivation act, const Tensor& residual);
};

// y = x W^T + b; W [out, in]; PyTorch init uniform ±1/sqrt(in).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  int64_t macs(const Shape& in, const Shape& out) const override;

  Tensor weight, bias;
  int64_t in_features, out_features;
};

class Dropout : public Module {
 public:
  explicit Dropout(double p, Generator* gen = nullptr) : Module("Dropout"), p(p), gen_(gen) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  double p;

 private:
  Generator* gen_;
};

// Drops a whole sample's branch (torchvision StochasticDepth, mode "row").
class StochasticDepth : public Module {
 public:
  explicit StochasticDepth(double p, Generator* gen = nullptr) : Module("StochasticDepth"), p(p), gen_(gen) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  double p;

 private:
  Generator* gen_;
};

enum class ActivationKind { relu, relu6, silu, sigmoid, tanh, hardswish, identity };
const char* activation_name(ActivationKind kind);
class Activation : public Module {
 public:
  explicit Activation(ActivationKind kind) : Module(activation_name(kind)), kind(kind) {}
  Tensor forward(const Tensor& x) override;
  ActivationKind kind;
};
Tensor activate(ActivationKind kind, const Tensor& x);

class MaxPool2d : public Module {
 public:
  MaxPool2d(int64_t kernel, int64_t stride, int64_t padding = 0)
      : Module("MaxPool2d"), kernel(kernel), stride(stride), padding(padding) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  int64_t kernel, stride, padding;
};

class AvgPool2d : public Module {
 public:
  AvgPool2d(int64_t kernel, int64_t stride, int64_t padding = 0, bool count_include_pad = true)
      : Module("AvgPool2d"), kernel(kernel), stride(stride), padding(padding), count_include_pad(count_include_pad) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  int64_t kernel, stride, padding;
  bool count_include_pad;
};

class AdaptiveAvgPool2d : public Module {
 public:
  AdaptiveAvgPool2d(int64_t out_h, int64_t out_w) : Module("AdaptiveAvgPool2d"), out_h(out_h), out_w(out_w) {}
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  int64_t out_h, out_w;
};

// [N, ...] -> [N, prod(...)] (torch.flatten(x, 1)).
class Flatten : public Module {
 public:
  Flatten() : Module("Flatten") {}
  Tensor forward(const Tensor& x) override;
};

}  // namespace glia::nn
