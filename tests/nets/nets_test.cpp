// Network structure: parameter counts and names against torchvision's published numbers,
// shapes, modes, freezing, summaries and state_dict round trips.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "layers/state_dict.h"
#include "nets/efficientnet.h"
#include "nets/unet.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace glia {
namespace {

// torchvision's own counts (EfficientNet_B*_Weights.meta["num_params"], 1000 classes).
TEST(EfficientNet, ParameterCountsMatchTorchvision) {
  const std::pair<const char*, int64_t> expected[] = {
      {"b0", 5288548}, {"b1", 7794184}, {"b2", 9109994},
  };
  for (const auto& e : expected) {
    auto m = nets::efficientnet(e.first);
    EXPECT_EQ(m->num_parameters(), e.second) << e.first;
  }
}

TEST(EfficientNet, LargeVariantsUseTorchvisionNormSettings) {
  EXPECT_EQ(nets::efficientnet_config("b4").norm.eps, 1e-5);
  EXPECT_EQ(nets::efficientnet_config("b5").norm.eps, 1e-3);
  EXPECT_EQ(nets::efficientnet_config("b7").norm.momentum, 0.01);
  EXPECT_EQ(nets::efficientnet_config("b1").resolution, 240);
  EXPECT_THROW(nets::efficientnet_config("b9"), Error);
}

TEST(EfficientNet, StateDictNamesFollowTorchvision) {
  auto m = nets::efficientnet("b0");
  auto sd = m->state_dict();
  ASSERT_FALSE(sd.empty());
  EXPECT_EQ(sd.front().first, "features.0.0.weight");
  EXPECT_EQ(sd.back().first, "classifier.1.bias");
  bool found_se = false, found_nbt = false;
  for (auto& nt : sd) {
    found_se = found_se || nt.first == "features.1.0.block.1.fc1.weight";
    found_nbt = found_nbt || nt.first == "features.2.0.block.0.1.num_batches_tracked";
  }
  EXPECT_TRUE(found_se);
  EXPECT_TRUE(found_nbt);
}

TEST(EfficientNet, PaperClassifierShapesAndFreezing) {
  auto m = nets::paper_classifier(4, true);
  // Only the head trains: Linear 1280->512 and 512->4.
  EXPECT_EQ(m->num_parameters(true), 1280 * 512 + 512 + 512 * 4 + 4);
  m->train();
  Tensor x = rand({2, 3, 32, 32});
  Tensor y = (*m)(x);
  EXPECT_EQ(y.sizes(), (Shape{2, 4}));
  // A frozen base keeps its batch-norm statistics while the model trains.
  auto* bn = dynamic_cast<nn::BatchNorm2d*>(m->features()->at(0)->child("1"));
  ASSERT_NE(bn, nullptr);
  EXPECT_EQ(bn->running_mean.to_vector<float>()[0], 0.0f);
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 0);
  sum(y).backward();
  EXPECT_FALSE(m->features()->at(0)->child("0")->named_parameters()[0].second.grad().defined());
  m->freeze_base(false);
  (*m)(x);
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 1);
}

TEST(UNet, DefaultHasTheBottleneckAndCounts) {
  nets::UNet net;  // width 64, depth 4
  auto sd = net.state_dict();
  bool bottleneck_1024 = false;
  for (auto& nt : sd)
    if (nt.first == "bottleneck.conv2.weight") bottleneck_1024 = nt.second.size(0) == 1024;
  EXPECT_TRUE(bottleneck_1024);
}

TEST(UNet, ShapesAndBadInput) {
  nets::UNetConfig c;
  c.width = 4;
  c.depth = 2;
  nets::UNet net(c);
  Tensor y = net(rand({1, 3, 12, 8}));
  EXPECT_EQ(y.sizes(), (Shape{1, 1, 12, 8}));
  EXPECT_THROW(net(rand({1, 3, 10, 8})), Error);
}

TEST(Summary, CountsParametersAndMacs) {
  nets::UNetConfig c;
  c.width = 4;
  c.depth = 1;
  nets::UNet net(c);
  nn::Summary s = nn::summarize(net, {1, 3, 8, 8});
  EXPECT_EQ(s.total_params, net.num_parameters());
  int64_t sum_params = 0;
  for (auto& r : s.rows) sum_params += r.params;
  EXPECT_EQ(sum_params, s.total_params);
  // encoder conv1: 3->4 3x3 on 8x8 = 64*4*27 MACs is among the rows.
  bool found = false;
  for (auto& r : s.rows) found = found || (r.name == "encoders.0.conv1" && r.macs == 64 * 4 * 27);
  EXPECT_TRUE(found) << s.to_string();
  EXPECT_TRUE(net.training_flag());
}

TEST(StateDict, RoundTripAndMismatchErrors) {
  nets::UNetConfig c;
  c.width = 4;
  c.depth = 1;
  nets::UNet a(c), b(c);
  const std::string path = (std::filesystem::temp_directory_path() / "glia_nets_state_dict.safetensors").string();
  nn::save_state_dict(a, path);
  nn::load_state_dict(b, path);
  auto sa = a.state_dict(), sb = b.state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i)
    EXPECT_EQ(sa[i].second.to_vector<double>(), sb[i].second.to_vector<double>()) << sa[i].first;

  auto tensors = nn::read_tensors(path);
  tensors["head.weight"] = zeros({2, 4, 1, 1});
  tensors.erase("bottleneck.bn1.running_var");
  tensors["extra.weight"] = zeros({3});
  try {
    nn::load_state_dict(b, tensors);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("shape mismatch for 'head.weight': source [2, 4, 1, 1], model [1, 4, 1, 1]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing tensor 'bottleneck.bn1.running_var'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unexpected tensor 'extra.weight'"), std::string::npos) << msg;
  }
  tensors = nn::read_tensors(path);
  tensors["head.bias"] = zeros({1}, DType::f64);
  EXPECT_THROW(nn::load_state_dict(b, tensors), Error);

  // A truncated file is refused by the reader with the file named.
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 5);
  try {
    nn::load_state_dict(b, path);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  std::remove(path.c_str());
}

}  // namespace
}  // namespace glia

namespace glia {
namespace {

// PyTorch's counts from tools/count_params_flops.py (forward hooks on torchvision's /
// tools/unet.py's modules; conv, transposed conv and linear MACs of one image).
TEST(Summary, EfficientNetB1At240MatchesPyTorchCounts) {
  // torchvision's efficientnet_b1 (1000 classes): 7794184 parameters (checked above) and
  // 686802832 MACs = the paper model's + the heads' difference (1280*1000 - 1280*512 - 512*4).
  auto paper = nets::paper_classifier(4);
  nn::Summary p = nn::summarize(*paper, {1, 3, 240, 240});
  EXPECT_EQ(p.total_params, 7171108);
  EXPECT_EQ(p.total_macs, 686180240);
  EXPECT_EQ(p.total_macs + 1280 * 1000 - 1280 * 512 - 512 * 4, 686802832);
}

TEST(Summary, DefaultUNetMatchesPyTorchCounts) {
  nets::UNet net;  // width 64, depth 4
  // Every layer of the U-Net scales with H x W, so 32x32 is 1/64 of PyTorch's 256x256 count
  // (50864324608 MACs) without a 100-GFLOP forward in a unit test.
  nn::Summary s = nn::summarize(net, {1, 3, 32, 32});
  EXPECT_EQ(s.total_params, 32436353);
  EXPECT_EQ(s.total_macs * 64, 50864324608);
}

}  // namespace
}  // namespace glia

namespace glia {
namespace {

// The layer count documented in nets/README.md (paper: "23 convolutional layers").
TEST(UNet, LayerCountsAsDocumented) {
  nets::UNet net;
  int conv3 = 0, conv1 = 0, transposed = 0, blocks = 0;
  for (auto& nm : net.named_modules()) {
    if (auto* c = dynamic_cast<nn::Conv2d*>(nm.second)) (c->options().kernel_h == 3 ? conv3 : conv1)++;
    if (dynamic_cast<nn::ConvTranspose2d*>(nm.second) != nullptr) ++transposed;
    if (dynamic_cast<nn::ResidualBlock*>(nm.second) != nullptr) ++blocks;
  }
  EXPECT_EQ(conv3, 18);
  EXPECT_EQ(conv1, 10);  // 9 shortcut projections + the output layer
  EXPECT_EQ(transposed, 4);
  EXPECT_EQ(conv3 + transposed + 1, 23);
  EXPECT_EQ(blocks, 9);
}

}  // namespace
}  // namespace glia

namespace glia {
namespace {

TEST(Layers, PyTorchDefaultInitIsBoundedAndSeeded) {
  Generator g1(5), g2(5);
  nn::Conv2d a(nn::conv_options(6, 4, 3, 1, 1, 2), &g1), b(nn::conv_options(6, 4, 3, 1, 1, 2), &g2);
  const double bound = 1.0 / std::sqrt(3.0 * 9.0);  // fan_in = in/groups * k * k
  auto w = a.weight.to_vector<double>();
  double largest = 0;
  for (double v : w) largest = std::max(largest, std::fabs(v));
  EXPECT_LE(largest, bound);
  EXPECT_GT(largest, 0.8 * bound);  // uniform over the whole range, not a narrower one
  EXPECT_EQ(w, b.weight.to_vector<double>());
  nn::Linear lin(10, 3);
  EXPECT_EQ(lin.num_parameters(), 33);
  EXPECT_EQ(lin(zeros({2, 10})).sizes(), (Shape{2, 3}));
  EXPECT_THROW(lin(zeros({2, 9})), Error);
}

TEST(Layers, TrainEvalAndFreezeModes) {
  nn::Sequential seq;
  auto* bn = seq.add(std::make_shared<nn::BatchNorm2d>(2));
  seq.add(std::make_shared<nn::Dropout>(0.5));
  Tensor x = rand({4, 2, 3, 3});
  seq.eval();
  Tensor y = seq(x);  // running stats (0, 1): y = x / sqrt(1 + eps)
  EXPECT_NEAR(y.to_vector<double>()[0], x.to_vector<double>()[0] / std::sqrt(1 + 1e-5), 1e-6);
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 0);
  seq.train();
  seq(x);
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 1);
  bn->freeze();
  EXPECT_FALSE(bn->weight.requires_grad());
  EXPECT_EQ(seq.num_parameters(true), 0);
  seq(x);
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 1);  // frozen: inference mode
  bn->freeze(false);
  EXPECT_TRUE(bn->weight.requires_grad());
}

}  // namespace
}  // namespace glia
