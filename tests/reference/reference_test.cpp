// glia's networks against PyTorch (correctness rung 3). tools/make_refs.py writes, for
// torchvision's efficientnet_b0, the paper's B1 classifier and the residual U-Net of
// tools/unet.py: weights, an input, eval and train outputs, the gradient of
// sum(out * probe) for every parameter, batch-norm statistics after the train forward,
// and the parameters after 3 Adam steps. These tests load the same weights into glia's
// models and compare, in float64 (sharp) and once in float32 (looser).
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>

#include "kernels/conv2d.h"
#include "kernels/conv_transpose2d.h"
#include "kernels/copy.h"
#include "kernels/gemm.h"
#include "kernels/optim.h"
#include "kernels/reduce.h"
#include "kernels/elementwise.h"
#include "nets/efficientnet.h"
#include "nets/unet.h"
#include "reference.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "tests/support/devices.h"
#include "train/optimizer.h"

namespace glia {
namespace {

struct Case {
  std::string model;
  DType dtype;
  Device device;
  double out_rtol, grad_rtol;
  double atol;  // floor for tensors that are mathematically zero (see test::close)
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.model << " " << dtype_name(c.dtype) << " on " << device_name(c.device);
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.model + "_" + dtype_name(info.param.dtype) + "_" + device_name(info.param.device);
}

// The models of tools/make_refs.py, with dropout and stochastic depth at 0 as there.
std::shared_ptr<nn::Module> build(const std::string& name) {
  if (name == "efficientnet_b0" || name == "efficientnet_b1_classifier") {
    nets::EfficientNetConfig c =
        name == "efficientnet_b0" ? nets::efficientnet_config("b0") : nets::paper_classifier_config(4);
    c.dropout = 0;
    c.stochastic_depth_prob = 0;
    return std::make_shared<nets::EfficientNet>(c);
  }
  if (name == "unet") {
    nets::UNetConfig c;
    c.width = 8;
    c.depth = 3;
    return std::make_shared<nets::UNet>(c);
  }
  GLIA_FAIL("reference test: unknown model " << name);
}

// Skips (with the reason) a device whose kernels are not written yet.
bool device_ready(Device d, const std::string& model, std::string& why) {
  if (!device_available(d)) {
    why = std::string("device ") + device_name(d) + " is not available in this build/machine";
    return false;
  }
  const Backend b = hand_backend(d);
  // The kernels the three networks cannot do without (batch norm and pooling fall back
  // to compositions of these when their own kernels are missing).
  const std::pair<const char*, bool> needed[] = {
      {"conv2d", kernels::conv2d_kernel.has(b)},
      {"conv2d_backward_input", kernels::conv2d_backward_input_kernel.has(b)},
      {"conv2d_backward_weight", kernels::conv2d_backward_weight_kernel.has(b)},
      {"conv2d_backward_bias", kernels::conv2d_backward_bias_kernel.has(b)},
      {"conv_transpose2d", kernels::conv_transpose2d_kernel.has(b)},
      {"conv_transpose2d_backward_input", kernels::conv_transpose2d_backward_input_kernel.has(b)},
      {"conv_transpose2d_backward_weight", kernels::conv_transpose2d_backward_weight_kernel.has(b)},
      {"gemm", kernels::gemm_kernel.has(b)},
      {"binary", kernels::binary_kernel.has(b)},
      {"unary", kernels::unary_kernel.has(b)},
      {"unary_backward", kernels::unary_backward_kernel.has(b)},
      {"reduce", kernels::reduce_kernel.has(b)},
      {"copy", kernels::copy_kernel.has(b)},
  };
  for (const auto& k : needed) {
    const bool transposed = std::string(k.first).rfind("conv_transpose2d", 0) == 0;
    if (!k.second && (model == "unet" || !transposed)) {
      why = std::string("kernel ") + k.first + " has no " + backend_name(b) + " implementation yet";
      return false;
    }
  }
  return true;
}

class Reference : public ::testing::TestWithParam<Case> {};

TEST_P(Reference, ForwardBackwardStatisticsAndAdam) {
  const Case& c = GetParam();
  std::string why;
  if (!device_ready(c.device, c.model, why)) GTEST_SKIP() << why;
  auto refs = test::load_refs(c.model);
  ASSERT_FALSE(refs.empty());
  auto ref = [&](const std::string& name) {
    auto it = refs.find(name);
    GLIA_CHECK(it != refs.end(), "reference file for " << c.model << " has no tensor '" << name << "'");
    return it->second.to(c.dtype).to(c.device);
  };
  auto model = build(c.model);
  model->to(DType::f64);
  nn::LoadOptions lo;
  lo.source = test::refs_path(c.model);
  nn::load_state_dict(*model, test::initial_state(refs), lo);  // strict: every name must match
  model->to(c.dtype);
  model->to(c.device);
  const Tensor x = ref("input"), probe = ref("probe");

  model->eval();
  {
    NoGradGuard no_grad;
    EXPECT_TRUE(test::close((*model)(x), ref("eval.out"), c.out_rtol, "eval output"));
  }

  model->train();
  Tensor out = (*model)(x);
  EXPECT_TRUE(test::close(out, ref("train.out"), c.out_rtol, "train output"));
  sum(out * probe).backward();
  for (auto& p : model->named_parameters()) {
    ASSERT_TRUE(p.second.grad().defined()) << "no gradient reached " << p.first;
    EXPECT_TRUE(test::close(p.second.grad(), ref("grad." + p.first), c.grad_rtol, "gradient of " + p.first, c.atol));
  }
  for (auto& b : model->named_buffers())
    EXPECT_TRUE(test::close(b.second, ref("train.buffer." + b.first), c.out_rtol, "buffer " + b.first, c.atol));

  // float32: Adam's m / sqrt(v) turns the round-off of near-zero gradients into O(lr)
  // changes of single weights, so only the float64 runs compare the Adam steps.
  if (c.dtype != DType::f64) return;
  if (!kernels::adam_step_kernel.has(hand_backend(c.device))) {
    std::cout << "[ NOTE     ] Adam steps not compared on " << device_name(c.device)
              << ": kernel adam_step has no implementation there yet\n";
    return;
  }
  // A parameter whose gradient is round-off only (see test::close) moves by
  // lr * noise / (|noise| + eps), up to ~1e-8 per step; real changes are ~1e-3.
  constexpr double kAdamNoise = 1e-6;
  // PyTorch: Adam(lr 1e-3, weight_decay 1e-4 as L2); 3 x (zero_grad, train forward, backward, step).
  // Compared as the change from the initial weights, so a wrong update cannot hide
  // behind the much larger weights themselves.
  std::map<std::string, Tensor> initial;
  for (auto& p : model->named_parameters()) initial[p.first] = p.second.detach().clone();
  Adam::Options ao;
  ao.lr = 1e-3;
  ao.weight_decay = 1e-4;
  Adam adam(model->named_parameters(), ao);
  for (int step = 0; step < 3; ++step) {
    adam.zero_grad();
    sum((*model)(x) * probe).backward();
    adam.step();
  }
  for (auto& p : model->named_parameters()) {
    const Tensor expected = ref("adam3.param." + p.first);
    EXPECT_TRUE(test::close(sub(p.second.detach(), initial[p.first]), sub(expected, initial[p.first]), c.grad_rtol,
                            "Adam change of " + p.first, kAdamNoise));
  }
}

// Every case on cpu; on other devices the U-Net, and the EfficientNets only when
// GLIA_REFERENCE_ALL_DEVICES=1: under the emulator B0 at 64x64 takes minutes
// (it matched PyTorch there in forward and backward when tried).
std::vector<Case> cases() {
  const char* all = std::getenv("GLIA_REFERENCE_ALL_DEVICES");
  const bool all_devices = all != nullptr && std::string(all) == "1";
  std::vector<Case> out;
  for (Device d : test::devices()) {  // cpu, sim when built, cuda when a GPU is present
    for (const char* m : {"efficientnet_b0", "efficientnet_b1_classifier", "unet"})
      if (d == Device::cpu || all_devices || std::string(m) == "unet")
        out.push_back(Case{m, DType::f64, d, 1e-4, 1e-3, 1e-10});
    // float32: rounding of ~1e-7 per op grows through 80+ layers and BN divisions.
    out.push_back(Case{"unet", DType::f32, d, 1e-3, 1e-2, 1e-5});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Nets, Reference, ::testing::ValuesIn(cases()), case_name);

}  // namespace
}  // namespace glia
