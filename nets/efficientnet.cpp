#include "nets/efficientnet.h"

#include <cmath>
#include <iterator>

#include "tensor/autograd.h"
#include "tensor/ops.h"

namespace glia::nets {
namespace {

struct StageSpec {
  double expand;
  int64_t kernel, stride, in, out, layers;
};
// EfficientNet-B0's stages (paper Table 1, torchvision _efficientnet_conf).
const StageSpec kStages[] = {
    {1, 3, 1, 32, 16, 1},  {6, 3, 2, 16, 24, 2},   {6, 5, 2, 24, 40, 2},   {6, 3, 2, 40, 80, 3},
    {6, 5, 1, 80, 112, 3}, {6, 5, 2, 112, 192, 4}, {6, 3, 1, 192, 320, 1},
};

// torchvision's initialisation: conv kaiming_normal(fan_out), zero conv biases, BN
// ones/zeros, Linear uniform ±1/sqrt(out_features) with zero bias.
void init_like_torchvision(nn::Module& model, Generator* gen) {
  NoGradGuard no_grad;  // in-place writes to parameters
  for (auto& nm : model.named_modules()) {
    if (auto* conv = dynamic_cast<nn::Conv2d*>(nm.second)) {
      const Shape& s = conv->weight.sizes();
      const double fan_out = static_cast<double>(s[0] * s[2] * s[3]);
      conv->weight.copy_(normal(s, 0, std::sqrt(2.0 / fan_out), DType::f32, Device::cpu, gen));
      if (conv->bias.defined()) conv->bias.zero_();
    } else if (auto* lin = dynamic_cast<nn::Linear*>(nm.second)) {
      const double r = 1.0 / std::sqrt(static_cast<double>(lin->out_features));
      lin->weight.copy_(uniform(lin->weight.sizes(), -r, r, DType::f32, Device::cpu, gen));
      if (lin->bias.defined()) lin->bias.zero_();
    }
  }
}

// The paper's head is Keras Dense layers: glorot-uniform weights, zero bias. torchvision's
// ±1/sqrt(out_features) suits its 1000-way classifier but gives the 4-way output layer
// weights up to ±0.5 and initial logits ten times too large (initial loss ~4 instead of
// ln 4), which the first Adam steps then fight.
void init_head_like_keras(nn::Module& head, Generator* gen) {
  NoGradGuard no_grad;
  for (auto& nm : head.named_modules()) {
    if (auto* lin = dynamic_cast<nn::Linear*>(nm.second)) {
      const Shape& s = lin->weight.sizes();  // [out, in]
      const double limit = std::sqrt(6.0 / static_cast<double>(s[0] + s[1]));
      lin->weight.copy_(uniform(s, -limit, limit, DType::f32, Device::cpu, gen));
      if (lin->bias.defined()) lin->bias.zero_();
    }
  }
}

}  // namespace

EfficientNetConfig efficientnet_config(const std::string& variant, int64_t num_classes) {
  std::string v = variant;
  if (v.rfind("efficientnet_", 0) == 0) v = v.substr(13);
  struct Row {
    const char* name;
    double width, depth;
    int64_t resolution;
    double dropout;
  };
  // B: torchvision's _efficientnet_conf and weights' crop sizes. Lite: TensorFlow's
  // efficientnet_lite_params (models/official/efficientnet/lite/efficientnet_lite_builder.py),
  // the same numbers as efficientnet_lite_pytorch's utils.efficientnet_params.
  static const Row rows[] = {
      {"b0", 1.0, 1.0, 224, 0.2},    {"b1", 1.0, 1.1, 240, 0.2},    {"b2", 1.1, 1.2, 288, 0.3},
      {"b3", 1.2, 1.4, 300, 0.3},    {"b4", 1.4, 1.8, 380, 0.4},    {"b5", 1.6, 2.2, 456, 0.4},
      {"b6", 1.8, 2.6, 528, 0.5},    {"b7", 2.0, 3.1, 600, 0.5},    {"lite0", 1.0, 1.0, 224, 0.2},
      {"lite1", 1.0, 1.1, 240, 0.2}, {"lite2", 1.1, 1.2, 260, 0.3}, {"lite3", 1.2, 1.4, 280, 0.3},
      {"lite4", 1.4, 1.8, 300, 0.3},
  };
  for (const Row& r : rows) {
    if (v != r.name) continue;
    EfficientNetConfig c;
    c.name = std::string("efficientnet_") + r.name;
    c.width_mult = r.width;
    c.depth_mult = r.depth;
    c.resolution = r.resolution;
    c.dropout = r.dropout;
    c.num_classes = num_classes;
    if (v.rfind("lite", 0) == 0) {
      // TensorFlow's batch_norm_momentum 0.99 is PyTorch's momentum 0.01; drop-connect
      // 0.2 as in B (TF survival_prob 0.8).
      c.norm = nn::NormOptions{1e-3, 0.01};
      c.activation = nn::ActivationKind::relu6;
      c.squeeze_excite = false;
      c.fixed_stem_head = true;
      c.same_padding = true;
    } else if (v >= "b5") {
      c.norm = nn::NormOptions{1e-3, 0.01};
    }
    return c;
  }
  GLIA_FAIL("efficientnet: unknown variant '" << variant << "' (known: b0, b1, ..., b7, lite0, ..., lite4)");
}

EfficientNetConfig paper_classifier_config(int64_t num_classes) {
  EfficientNetConfig c = efficientnet_config("b1", num_classes);
  c.name = "efficientnet_b1_classifier";
  c.hidden = 512;
  c.dropout = 0.4;
  return c;
}

EfficientNet::EfficientNet(const EfficientNetConfig& c, Generator* gen) : Module("EfficientNet"), config_(c) {
  GLIA_CHECK(c.num_classes > 0, "EfficientNet: num_classes must be positive, got " << c.num_classes);
  GLIA_CHECK(c.input_mean.size() == c.input_std.size() && (c.input_mean.empty() || c.input_mean.size() == 3),
             c.name << ": input normalisation needs 3 means and 3 standard deviations, got " << c.input_mean.size()
                    << " and " << c.input_std.size());
  for (float s : c.input_std)
    GLIA_CHECK(s > 0 && std::isfinite(s), c.name << ": input standard deviation " << s << " must be > 0");
  auto width = [&](int64_t ch) { return nn::make_divisible(static_cast<double>(ch) * c.width_mult); };
  auto depth = [&](int64_t n) { return static_cast<int64_t>(std::ceil(static_cast<double>(n) * c.depth_mult)); };
  const int64_t num_stages = static_cast<int64_t>(std::size(kStages));
  // Lite keeps the first and the last stage at one block (TF's fix_head_stem).
  auto repeats = [&](int64_t stage) {
    const bool fixed = c.fixed_stem_head && (stage == 0 || stage == num_stages - 1);
    return fixed ? kStages[stage].layers : depth(kStages[stage].layers);
  };
  const int64_t stem_channels = c.fixed_stem_head ? kStages[0].in : width(kStages[0].in);

  auto features = std::make_shared<nn::Sequential>();
  features->add(nn::conv_bn_act(3, stem_channels, 3, 2, 1, c.activation, c.norm, gen, c.same_padding));
  int64_t total_blocks = 0;
  for (int64_t s = 0; s < num_stages; ++s) total_blocks += repeats(s);
  int64_t block_id = 0;
  for (int64_t si = 0; si < num_stages; ++si) {
    const StageSpec& s = kStages[si];
    auto stage = std::make_shared<nn::Sequential>();
    for (int64_t i = 0; i < repeats(si); ++i) {
      nn::MBConvOptions o;
      o.in_channels = i > 0 ? width(s.out) : si == 0 ? stem_channels : width(s.in);
      o.out_channels = width(s.out);
      o.expand_ratio = s.expand;
      o.kernel = s.kernel;
      o.stride = i == 0 ? s.stride : 1;
      o.stochastic_depth_prob = c.stochastic_depth_prob * static_cast<double>(block_id) / static_cast<double>(total_blocks);
      o.norm = c.norm;
      o.activation = c.activation;
      o.squeeze_excite = c.squeeze_excite;
      o.same_padding = c.same_padding;
      stage->add(std::make_shared<nn::MBConv>(o, gen));
      ++block_id;
    }
    features->add(stage);
  }
  const int64_t last_in = width(kStages[num_stages - 1].out);
  last_channels_ = c.fixed_stem_head ? 1280 : 4 * last_in;
  features->add(nn::conv_bn_act(last_in, last_channels_, 1, 1, 1, c.activation, c.norm, gen, c.same_padding));
  features_ = register_module("features", features);
  register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(1, 1));

  auto head = std::make_shared<nn::Sequential>();
  if (c.hidden > 0) {
    head->add(std::make_shared<nn::Linear>(last_channels_, c.hidden, true, gen));
    head->add(std::make_shared<nn::Activation>(nn::ActivationKind::relu));
    head->add(std::make_shared<nn::Dropout>(c.dropout, gen));
    head->add(std::make_shared<nn::Linear>(c.hidden, c.num_classes, true, gen));
  } else {
    head->add(std::make_shared<nn::Dropout>(c.dropout, gen));
    head->add(std::make_shared<nn::Linear>(last_channels_, c.num_classes, true, gen));
  }
  classifier_ = register_module("classifier", head);
  init_like_torchvision(*this, gen);
  if (c.hidden > 0) init_head_like_keras(*head, gen);
}

Tensor EfficientNet::feature_map(const Tensor& x) {
  GLIA_CHECK(x.dim() == 4 && x.size(1) == 3,
             config_.name << ": input must be [N, 3, H, W], got " << shape_str(x.sizes()));
  return (*features_)(normalize_input(x));
}

Tensor EfficientNet::forward_features(const Tensor& x) { return (*child("avgpool"))(feature_map(x)).flatten(1); }

Tensor EfficientNet::classify_feature_map(const Tensor& fm) {
  GLIA_CHECK(fm.dim() == 4 && fm.size(1) == last_channels_, config_.name << ": feature map must be [N, "
                                                                         << last_channels_ << ", h, w], got "
                                                                         << shape_str(fm.sizes()));
  return (*classifier_)((*child("avgpool"))(fm).flatten(1));
}

Tensor EfficientNet::normalize_input(const Tensor& x) const {
  if (config_.input_mean.empty()) return x;
  // (x - mean) / std as one multiply-add: x * (1 / std) + (-mean / std).
  std::vector<double> scale(3), shift(3);
  for (size_t c = 0; c < 3; ++c) {
    scale[c] = 1.0 / static_cast<double>(config_.input_std[c]);
    shift[c] = -static_cast<double>(config_.input_mean[c]) * scale[c];
  }
  return x * from_vector(scale, {1, 3, 1, 1}, x.dtype(), x.device()) +
         from_vector(shift, {1, 3, 1, 1}, x.dtype(), x.device());
}

Tensor EfficientNet::forward(const Tensor& x) { return (*classifier_)(forward_features(x)); }

std::shared_ptr<EfficientNet> efficientnet(const std::string& variant, int64_t num_classes, Generator* gen) {
  return std::make_shared<EfficientNet>(efficientnet_config(variant, num_classes), gen);
}

std::shared_ptr<EfficientNet> paper_classifier(int64_t num_classes, bool freeze_base, Generator* gen) {
  auto m = std::make_shared<EfficientNet>(paper_classifier_config(num_classes), gen);
  if (freeze_base) m->freeze_base(true);
  return m;
}

}  // namespace glia::nets
