// tools/export_torchvision.py's output (random torchvision efficientnet_b1, float32,
// written by the refs fixture) loads strictly into glia's EfficientNet-B1 and computes
// torchvision's eval output; its features load into the paper classifier's base.
#include <gtest/gtest.h>

#include "nets/efficientnet.h"
#include "reference.h"
#include "tensor/autograd.h"

namespace glia {
namespace {

TEST(ExportTorchvision, LoadsIntoEfficientNetB1AndMatches) {
  auto weights = test::load_refs("torchvision_efficientnet_b1");
  auto io = test::load_refs("torchvision_efficientnet_b1.io");
  ASSERT_FALSE(weights.empty());
  auto model = nets::efficientnet("b1");
  nn::LoadOptions lo;
  lo.source = test::refs_path("torchvision_efficientnet_b1");
  nn::load_state_dict(*model, weights, lo);
  model->eval();
  NoGradGuard no_grad;
  Tensor out = (*model)(io.at("input"));
  EXPECT_TRUE(test::close(out, io.at("eval.out"), 1e-3, "eval output of the exported model"));
}

TEST(ExportTorchvision, FeaturesLoadIntoThePaperClassifier) {
  auto weights = test::load_refs("torchvision_efficientnet_b1");
  auto model = nets::paper_classifier(4, true);
  nn::LoadOptions lo;
  lo.prefix = "features.";
  nn::load_state_dict(*model, weights, lo);
  auto sd = model->state_dict();
  bool checked = false;
  for (auto& nt : sd) {
    if (nt.first != "features.0.0.weight") continue;
    EXPECT_EQ(nt.second.to_vector<float>(), weights.at("features.0.0.weight").to_vector<float>());
    checked = true;
  }
  EXPECT_TRUE(checked);
  // Without the prefix the head differs: the error names both sides.
  try {
    nn::load_state_dict(*model, weights);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("missing tensor 'classifier.0.weight'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unexpected tensor 'classifier.1.weight'"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace glia
