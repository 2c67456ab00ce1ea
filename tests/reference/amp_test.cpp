// glia's bf16 autocast forward against PyTorch's CPU autocast (torch.autocast('cpu',
// dtype=torch.bfloat16)), both judged against the float64 truth (tools/make_amp_refs.py).
//
// The tolerance, derived: bf16 keeps 8 significant bits (unit round-off u = 2^-9 = 2e-3),
// so no bf16 forward can match another one to better than a few u times the network's
// amplification of round-off, and the two engines round different values: PyTorch rounds
// every op's output to bf16, glia only the products' operands (its activations stay f32,
// tensor/README.md "Mixed precision"). Both round the same operands (f32 weights and the
// products' inputs) with the same round-to-nearest-even. So glia's error against the truth
// should be at most PyTorch's own bf16 error on the same tensor, e_torch (measured here, per
// tensor: it adapts to each part's conditioning, 0.8-6% of the tensor's largest value for
// B1's stages, 1% for the U-Net); kTimesTorch = 1.5 allows for the rounding of the same
// operand falling the other way after an f32 difference upstream. By the triangle
// inequality glia then lies within 2.5 e_torch of PyTorch's bf16 output.
// Measured (this CPU, 2026-12-06): glia's error is 0.56-1.09 e_torch on every part.
// Meaningful both ways: an fp32 forward (no autocast) is ~1e-6 of the scale, below the floor
// kAtLeast = 0.1 e_torch that says the products really ran in bf16; truncation instead of
// rounding doubles the error, and f16 operands (10-bit mantissa) quarter it.
//
// A random EfficientNet amplifies round-off layer by layer (PyTorch's own bf16 logits of the
// whole B1 are off by 15x their size), so B1 is compared part by part: each entry of
// `features` (stem, 7 stages, head conv) and the classifier head runs on the float64 output
// of the part before it. The U-Net is conditioned well enough to compare whole.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "layers/state_dict.h"
#include "nets/efficientnet.h"
#include "nets/unet.h"
#include "tensor/autocast.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "tests/reference/reference.h"

namespace glia {
namespace {

constexpr double kTimesTorch = 1.5, kAtLeast = 0.1;

// max |a - truth| / max |truth|
double error_of(const Tensor& a, const Tensor& truth) {
  const auto x = a.to_vector<double>(), t = truth.to_vector<double>();
  double err = 0, scale = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    err = std::max(err, std::isnan(x[i]) ? INFINITY : std::fabs(x[i] - t[i]));
    scale = std::max(scale, std::fabs(t[i]));
  }
  return err / scale;
}

// glia's bf16 forward of `part` on the float64 input `in` (rounded to f32 as PyTorch's is).
Tensor bf16_forward(nn::Module& part, const Tensor& in) {
  NoGradGuard no_grad;
  AutocastGuard autocast(DType::bf16);
  return part(in.to(DType::f32));
}

void check(const std::string& what, const Tensor& glia_out, const Tensor& torch_out, const Tensor& truth) {
  ASSERT_EQ(glia_out.sizes(), truth.sizes()) << what;
  EXPECT_EQ(glia_out.dtype(), DType::f32) << what;
  const double e_torch = error_of(torch_out, truth), e_glia = error_of(glia_out, truth);
  const double e_between = error_of(glia_out, torch_out);
  std::cout << "  " << what << ": glia bf16 error " << e_glia << ", PyTorch bf16 error " << e_torch
            << ", glia vs PyTorch " << e_between << "\n";
  EXPECT_LE(e_glia, kTimesTorch * e_torch) << what;
  EXPECT_GE(e_glia, kAtLeast * e_torch) << what << ": no larger than an f32 error; did the products run in bf16?";
  EXPECT_LE(e_between, (1 + kTimesTorch) * e_torch) << what;
}

void load(nn::Module& model, const std::map<std::string, Tensor>& refs, const std::string& name) {
  model.to(DType::f64);
  nn::LoadOptions lo;
  lo.source = test::refs_path(name);
  nn::load_state_dict(model, test::initial_state(refs), lo);
  model.to(DType::f32);  // exact: the weights are float32 numbers
  model.eval();
}

TEST(AmpReference, EfficientNetB1PartByPartAgainstPyTorchCpuAutocast) {
  const std::string name = "amp_efficientnet_b1_classifier";
  const auto refs = test::load_refs(name);
  ASSERT_FALSE(refs.empty());
  nets::EfficientNetConfig c = nets::paper_classifier_config(4);
  c.dropout = 0;
  c.stochastic_depth_prob = 0;
  nets::EfficientNet model(c);
  load(model, refs, name);
  auto* features = dynamic_cast<nn::Sequential*>(model.child("features"));
  ASSERT_NE(features, nullptr);
  int parts = 0;
  for (int64_t i = 0; refs.count("stage" + std::to_string(i) + ".in"); ++i, ++parts) {
    const std::string s = "stage" + std::to_string(i);
    check(s, bf16_forward(*features->at(i), refs.at(s + ".in")), refs.at(s + ".out.bf16"), refs.at(s + ".out.f64"));
  }
  EXPECT_EQ(parts, 9);  // stem, 7 stages, head conv
  check("head", bf16_forward(*model.child("classifier"), refs.at("head.in")), refs.at("head.out.bf16"),
        refs.at("head.out.f64"));
}

TEST(AmpReference, UNetAgainstPyTorchCpuAutocast) {
  const std::string name = "amp_unet";
  const auto refs = test::load_refs(name);
  ASSERT_FALSE(refs.empty());
  nets::UNetConfig c;
  c.width = 8;
  c.depth = 3;
  nets::UNet model(c);
  load(model, refs, name);
  check("output", bf16_forward(model, refs.at("input")), refs.at("out.bf16"), refs.at("out.f64"));
}

}  // namespace
}  // namespace glia
