// Grad-CAM (nets/gradcam.h) against PyTorch: tools/make_gradcam_refs.py computes it for a
// small hand-made network in float64 the way PyTorch users do (the feature map's
// gradient, its spatial mean per channel, ReLU of the weighted sum, F.interpolate
// bilinear with align_corners=False), for every class; glia must agree to round-off.
#include <gtest/gtest.h>

#include "layers/basic.h"
#include "layers/conv.h"
#include "nets/gradcam.h"
#include "reference.h"
#include "tensor/autograd.h"

namespace glia {
namespace {

// The reference network, name for name: features Conv(3,4,3,p1) BN ReLU Conv(4,6,3,s2,p1)
// SiLU; head Conv(6,5,1) ReLU AdaptiveAvgPool(1) Flatten Linear(5,3).
class RefNet : public nn::Module {
 public:
  RefNet() : Module("RefNet") {
    auto f = std::make_shared<nn::Sequential>();
    f->add(std::make_shared<nn::Conv2d>(nn::conv_options(3, 4, 3, 1, 1)));
    f->add(std::make_shared<nn::BatchNorm2d>(4));
    f->add(std::make_shared<nn::Activation>(nn::ActivationKind::relu));
    f->add(std::make_shared<nn::Conv2d>(nn::conv_options(4, 6, 3, 2, 1)));
    f->add(std::make_shared<nn::Activation>(nn::ActivationKind::silu));
    features = register_module("features", f);
    auto h = std::make_shared<nn::Sequential>();
    h->add(std::make_shared<nn::Conv2d>(nn::conv_options(6, 5, 1)));
    h->add(std::make_shared<nn::Activation>(nn::ActivationKind::relu));
    h->add(std::make_shared<nn::AdaptiveAvgPool2d>(1, 1));
    h->add(std::make_shared<nn::Flatten>());
    h->add(std::make_shared<nn::Linear>(5, 3));
    head = register_module("head", h);
  }
  Tensor forward(const Tensor& x) override { return (*head)((*features)(x)); }
  nn::Sequential *features, *head;
};

TEST(GradCamReference, MatchesPyTorchForEveryClass) {
  const auto refs = test::load_refs("gradcam");
  ASSERT_FALSE(refs.empty());
  RefNet net;
  net.to(DType::f64);
  nn::LoadOptions lo;
  lo.source = test::refs_path("gradcam");
  nn::load_state_dict(net, test::initial_state(refs), lo);
  net.eval();
  const Tensor x = refs.at("input");
  Tensor a;
  {
    NoGradGuard no_grad;
    a = (*net.features)(x);
  }
  ASSERT_TRUE(test::close(a, refs.at("feature_map"), 1e-12, "feature map"));
  const auto head = [&net](const Tensor& fm) { return (*net.head)(fm); };
  for (int c = 0; c < 3; ++c) {
    const std::string k = "cam." + std::to_string(c) + ".";
    const nets::GradCam small = nets::grad_cam(a, head, c, 0, 0, &net);
    const nets::GradCam big = nets::grad_cam(a, head, c, x.size(2), x.size(3), &net);
    EXPECT_EQ(big.label, c);
    EXPECT_TRUE(test::close(from_vector(big.logits, {1, 3}), refs.at("logits"), 1e-6, k + "logits"));
    // glia returns float32 maps and weights: float32 round-off of float64 references.
    EXPECT_TRUE(test::close(from_vector(small.weights, {6}), refs.at(k + "weights"), 1e-6, k + "weights"));
    EXPECT_TRUE(test::close(from_vector(small.map, {6, 5}), refs.at(k + "small"), 1e-6, k + "small"));
    EXPECT_TRUE(test::close(from_vector(big.map, {12, 10}), refs.at(k + "map"), 1e-6, k + "map"));
  }
  for (const Tensor& p : net.parameters()) EXPECT_FALSE(p.grad().defined());
}

}  // namespace
}  // namespace glia
