// Non-finite outputs are errors naming the layer where the first NaN/inf appeared
// (layers/non_finite.h, train/finite_output.h).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "layers/basic.h"
#include "layers/conv.h"
#include "layers/non_finite.h"
#include "tensor/autograd.h"
#include "tensor/nn_ops.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "train/finite_output.h"

namespace glia {
namespace {

// features: [conv 1->4 + silu], [conv 4->4 + tanh]; then global average pool and a
// linear head. Nested like the real networks, so names are dotted paths.
class SmallNet : public nn::Module {
 public:
  SmallNet() : Module("SmallNet") {
    auto features = std::make_shared<nn::Sequential>();
    for (int64_t in : {int64_t{1}, int64_t{4}}) {
      auto stage = std::make_shared<nn::Sequential>();
      stage->add(std::make_shared<nn::Conv2d>(nn::conv_options(in, 4, 3, 1, 1)));
      stage->add(std::make_shared<nn::Activation>(in == 1 ? nn::ActivationKind::silu : nn::ActivationKind::tanh));
      features->add(stage);
    }
    features_ = register_module("features", features);
    head_ = register_module("head", std::make_shared<nn::Linear>(4, 3));
  }
  Tensor forward(const Tensor& x) override { return (*head_)(global_avg_pool2d((*features_)(x)).flatten(1)); }

 private:
  nn::Sequential* features_;
  nn::Linear* head_;
};

void set_element(const Tensor& t, int64_t index, float value) {
  NoGradGuard no_grad;
  ASSERT_TRUE(t.is_contiguous() && t.dtype() == DType::f32 && t.device() == Device::cpu);
  t.data<float>()[index] = value;
}

Tensor parameter(nn::Module& m, const std::string& name) {
  for (auto& [n, t] : m.state_dict())
    if (n == name) return t;
  ADD_FAILURE() << "no parameter " << name;
  return Tensor();
}

std::string error_of(SmallNet& net, const Tensor& x) {
  NoGradGuard no_grad;
  const Tensor y = net(x);
  try {
    check_finite_output(net, x, y, "test batch");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(FiniteOutput, FiniteOutputPasses) {
  manual_seed(3);
  SmallNet net;
  net.eval();
  EXPECT_EQ(error_of(net, rand({2, 1, 6, 5})), "");
  EXPECT_FALSE(nn::locate_non_finite(net, rand({2, 1, 6, 5})).has_value());
}

TEST(FiniteOutput, NamesTheLayerWhereANaNWeightFirstShows) {
  manual_seed(3);
  SmallNet net;
  net.eval();
  set_element(parameter(net, "features.1.0.weight"), 7, std::numeric_limits<float>::quiet_NaN());
  const std::string msg = error_of(net, rand({2, 1, 6, 5}));
  EXPECT_NE(msg.find("test batch: the model's output [2, 3] holds 6 non-finite value(s)"), std::string::npos) << msg;
  // Not features.1.1 (tanh), features.1, features or head, which all follow it.
  EXPECT_NE(msg.find("first appears in module 'features.1.0' (Conv2d, output [2, 4, 6, 5])"), std::string::npos)
      << msg;
}

TEST(FiniteOutput, AnInfiniteBiasInTheHeadIsNamedToo) {
  manual_seed(3);
  SmallNet net;
  net.eval();
  set_element(parameter(net, "head.bias"), 2, -std::numeric_limits<float>::infinity());
  const std::string msg = error_of(net, rand({1, 1, 4, 4}));
  EXPECT_NE(msg.find("module 'head' (Linear, output [1, 3]): 1 non-finite value(s), the first -inf at element 2"),
            std::string::npos)
      << msg;
}

TEST(FiniteOutput, ANonFiniteInputIsReportedAsTheInput) {
  manual_seed(3);
  SmallNet net;
  net.eval();
  Tensor x = rand({1, 1, 4, 4});
  set_element(x, 5, std::numeric_limits<float>::infinity());
  const std::string msg = error_of(net, x);
  EXPECT_NE(msg.find("already in the input"), std::string::npos) << msg;
}

}  // namespace
}  // namespace glia
