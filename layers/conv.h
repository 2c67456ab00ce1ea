// Conv2d and ConvTranspose2d modules (PyTorch names: weight, bias). Default init is
// PyTorch's: weight and bias uniform in ±1/sqrt(fan_in), drawn from `gen` (the default
// generator when null).
#pragma once
#include "layers/module.h"
#include "tensor/nn_ops.h"

namespace glia::nn {

struct Conv2dOptions {
  int64_t in_channels = 0, out_channels = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride = 1;
  int64_t padding = 0;   // symmetric
  bool same = false;     // TensorFlow "same" padding (asymmetric when needed), overrides padding
  int64_t dilation = 1;
  int64_t groups = 1;
  bool bias = true;
};
Conv2dOptions conv_options(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1, int64_t padding = 0,
                           int64_t groups = 1, bool bias = true);

class Conv2d : public Module {
 public:
  explicit Conv2d(const Conv2dOptions& o, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  int64_t macs(const Shape& in, const Shape& out) const override;
  const Conv2dOptions& options() const { return o_; }

  Tensor weight;  // [out, in/groups, kh, kw]
  Tensor bias;    // [out] or undefined

 private:
  Conv2dOptions o_;
};

struct ConvTranspose2dOptions {
  int64_t in_channels = 0, out_channels = 0;
  int64_t kernel = 2, stride = 2, padding = 0, output_padding = 0, dilation = 1;
  bool bias = true;
};

class ConvTranspose2d : public Module {
 public:
  explicit ConvTranspose2d(const ConvTranspose2dOptions& o, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;
  int64_t macs(const Shape& in, const Shape& out) const override;

  Tensor weight;  // [in, out, k, k]
  Tensor bias;

 private:
  ConvTranspose2dOptions o_;
};

}  // namespace glia::nn
