// EfficientNet-Lite0..4: structure against the reference package efficientnet_lite_pytorch
// (parameter counts of EfficientNet.from_name('efficientnet-liteN'), 1000 classes; Lite0-2
// are also the counts of the PyPI weight files), the family's differences from B0-B7,
// and the input normalisation step. Outputs against PyTorch: tests/reference/lite_test.cpp.
#include <gtest/gtest.h>

#include <cmath>

#include "nets/efficientnet.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace glia {
namespace {

TEST(EfficientNetLite, ParameterCountsMatchTheReferencePackage) {
  const std::pair<const char*, int64_t> expected[] = {
      {"lite0", 4652008}, {"lite1", 5416680}, {"lite2", 6092072}, {"lite3", 8197096},
  };  // lite4: 13006568, checked below
  for (const auto& e : expected) EXPECT_EQ(nets::efficientnet(e.first)->num_parameters(), e.second) << e.first;
  // With the paper's head (GAP, Dense 512, Dropout 0.4, Dense 4) instead of the 1000-way layer.
  nets::EfficientNetConfig c = nets::efficientnet_config("efficientnet_lite1", 4);
  c.hidden = 512;
  EXPECT_EQ(nets::EfficientNet(c).num_parameters(), 5416680 - (1280 * 1000 + 1000) + 1280 * 512 + 512 + 512 * 4 + 4);
}

TEST(EfficientNetLite, ConfigsFollowTensorFlowsLiteBuilder) {
  const auto c = nets::efficientnet_config("lite2");
  EXPECT_EQ(c.name, "efficientnet_lite2");
  EXPECT_EQ(c.resolution, 260);
  EXPECT_EQ(c.dropout, 0.3);
  EXPECT_EQ(c.norm.eps, 1e-3);
  EXPECT_EQ(c.norm.momentum, 0.01);
  EXPECT_EQ(c.activation, nn::ActivationKind::relu6);
  EXPECT_FALSE(c.squeeze_excite);
  EXPECT_TRUE(c.fixed_stem_head && c.same_padding);
  EXPECT_EQ(nets::efficientnet_config("lite4").resolution, 300);
  EXPECT_THROW(nets::efficientnet_config("lite5"), Error);
}

TEST(EfficientNetLite, FixedStemHeadAndEndStagesNoSqueezeExciteRelu6) {
  // Lite4 (width 1.4, depth 1.8) shows every difference from B: stem 32 (not 48), head
  // 1280 (not 4 x 448), first and last stage one block each (not ceil(1.8) = 2).
  auto m = nets::efficientnet("lite4");
  EXPECT_EQ(m->num_parameters(), 13006568);
  EXPECT_EQ(m->feature_channels(), 1280);
  auto* features = m->features();
  auto* stem = dynamic_cast<nn::Conv2d*>(features->at(0)->child("0"));
  ASSERT_NE(stem, nullptr);
  EXPECT_EQ(stem->weight.sizes(), (Shape{32, 3, 3, 3}));
  EXPECT_TRUE(stem->options().same);
  const int64_t expected_blocks[] = {1, 4, 4, 6, 6, 8, 1};  // 1, ceil(2*1.8), ..., ceil(4*1.8), 1
  for (int s = 0; s < 7; ++s)
    EXPECT_EQ(dynamic_cast<nn::Sequential*>(features->at(s + 1))->size(),
              static_cast<size_t>(expected_blocks[s]))
        << "stage " << s;
  int relu6 = 0;
  for (auto& nm : m->named_modules()) {
    EXPECT_EQ(dynamic_cast<nn::SqueezeExcitation*>(nm.second), nullptr) << nm.first;
    if (auto* a = dynamic_cast<nn::Activation*>(nm.second)) {
      EXPECT_EQ(a->kind, nn::ActivationKind::relu6) << nm.first;
      ++relu6;
    }
  }
  EXPECT_GT(relu6, 0);
  for (auto& [name, t] : m->state_dict()) EXPECT_EQ(name.find("fc1"), std::string::npos) << name;
}

TEST(EfficientNetLite, InputNormalisationIsTheFirstStep) {
  nets::EfficientNetConfig plain = nets::efficientnet_config("lite0", 10);
  nets::EfficientNetConfig norm = plain;
  norm.input_mean = {0.4f, 0.5f, 0.6f};
  norm.input_std = {0.2f, 0.25f, 0.5f};
  manual_seed(3);
  nets::EfficientNet a(plain);
  manual_seed(3);
  nets::EfficientNet b(norm);
  a.eval();
  b.eval();
  NoGradGuard no_grad;
  Tensor x = rand({2, 3, 40, 40});
  const Tensor mean = from_vector(std::vector<float>{0.4f, 0.5f, 0.6f}, {1, 3, 1, 1});
  const Tensor stdev = from_vector(std::vector<float>{0.2f, 0.25f, 0.5f}, {1, 3, 1, 1});
  const auto want = a((x - mean) / stdev).to_vector<float>();
  const auto got = b(x).to_vector<float>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4 * (1 + std::fabs(want[i]))) << i;
  // Without normalisation the outputs differ: the step is not a no-op.
  EXPECT_NE(a(x).to_vector<float>(), got);

  norm.input_std = {0.2f, 0.0f, 0.5f};
  EXPECT_THROW(nets::EfficientNet{norm}, Error);
  norm.input_std = {0.2f, 0.5f};
  EXPECT_THROW(nets::EfficientNet{norm}, Error);
}

}  // namespace
}  // namespace glia
