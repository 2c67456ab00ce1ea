#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "kernels/error.h"
#include "tensor/finite.h"
#include "tensor/safetensors.h"
#include "train/checkpoint.h"
#include "train/trainer_checkpoint.h"

namespace fs = std::filesystem;

namespace glia {
namespace {

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("glia_ckpt_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& n) const { return (dir_ / n).string(); }

  static Checkpoint sample() {
    Checkpoint c;
    c.model = "segmenter/resunet";
    c.model_config["width"] = Json(8);
    c.model_state = {{"encoders.0.conv1.weight", from_vector<float>({1, 2, 3, 4}, {2, 2})},
                     {"encoders.0.bn1.num_batches_tracked", from_vector<int64_t>({5}, {})}};
    c.optimizer_tensors = {{"exp_avg.encoders.0.conv1.weight", from_vector<float>({0.5f, 0, 0, 1}, {2, 2})}};
    c.optimizer_state["type"] = Json("adam");
    c.trainer_state["epoch"] = Json(3);
    c.trainer_state["rng"]["offset"] = Json(int64_t{123456789012});
    return c;
  }
  fs::path dir_;
};

TEST_F(CheckpointTest, RoundTripsTensorsAndState) {
  std::string p = path("last.ckpt");
  save_checkpoint(p, sample());
  Checkpoint c = load_checkpoint(p);
  EXPECT_EQ(c.model, "segmenter/resunet");
  EXPECT_EQ(c.model_config.at("width").as_integer(), 8);
  ASSERT_EQ(c.model_state.size(), 2u);
  auto m = as_map(c.model_state);
  EXPECT_EQ(m.at("encoders.0.conv1.weight").to_vector<float>(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(m.at("encoders.0.bn1.num_batches_tracked").item<int64_t>(), 5);
  EXPECT_EQ(as_map(c.optimizer_tensors).at("exp_avg.encoders.0.conv1.weight").to_vector<float>()[3], 1.0f);
  EXPECT_EQ(c.trainer_state.at("rng").at("offset").as_integer(), 123456789012);
  EXPECT_EQ(c.optimizer_state.at("type").as_string(), "adam");
}

TEST_F(CheckpointTest, WrongModelIsNamed) {
  save_checkpoint(path("a.ckpt"), sample());
  Checkpoint c = load_checkpoint(path("a.ckpt"));
  try {
    require_model(c, "classifier/efficientnet_b1", path("a.ckpt"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("segmenter/resunet"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("classifier/efficientnet_b1"), std::string::npos);
  }
}

TEST_F(CheckpointTest, PlainWeightsFileAndTruncationAreClearErrors) {
  float v = 1;
  write_safetensors(path("weights.safetensors"), {{"w", DType::f32, {1}, &v}});
  try {
    load_checkpoint(path("weights.safetensors"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a glia checkpoint"), std::string::npos) << e.what();
  }
  save_checkpoint(path("t.ckpt"), sample());
  fs::resize_file(path("t.ckpt"), fs::file_size(path("t.ckpt")) - 3);
  EXPECT_THROW(load_checkpoint(path("t.ckpt")), Error);
}

TEST_F(CheckpointTest, FailedSaveKeepsThePreviousCheckpoint) {
  std::string p = path("last.ckpt");
  save_checkpoint(p, sample());
  Checkpoint bad = sample();
  bad.model_state.push_back(bad.model_state[0]);  // duplicate name: the write is refused
  EXPECT_THROW(save_checkpoint(p, bad), Error);
  EXPECT_EQ(load_checkpoint(p).model_state.size(), 2u);
  for (auto& entry : fs::directory_iterator(dir_))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
}

// Byte offset of tensor `name`'s data in a safetensors file.
size_t data_offset(const std::string& p, const std::string& name) {
  SafetensorsReader r(p);
  std::ifstream f(p, std::ios::binary);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<uint8_t>(f.get())) << (8 * i);
  return static_cast<size_t>(8 + n + r.entry(name).begin);
}

std::string load_error(const std::string& p) {
  try {
    load_checkpoint(p);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST_F(CheckpointTest, SixteenFlippedBytesInTensorDataAreALoadErrorNamingTheTensor) {
  const std::string p = path("flipped.ckpt");
  save_checkpoint(p, sample());
  const size_t at = data_offset(p, "model/encoders.0.conv1.weight");  // its 16 bytes: 4 floats
  {
    std::fstream f(p, std::ios::binary | std::ios::in | std::ios::out);
    f.seekg(static_cast<std::streamoff>(at));
    char bytes[16];
    f.read(bytes, 16);
    for (char& b : bytes) b = static_cast<char>(~b);
    f.seekp(static_cast<std::streamoff>(at));
    f.write(bytes, 16);
  }
  const std::string msg = load_error(p);
  EXPECT_NE(msg.find("flipped.ckpt: tensor 'model/encoders.0.conv1.weight' is corrupt"), std::string::npos) << msg;
  EXPECT_THROW(read_model_weights(p), Error);
}

TEST_F(CheckpointTest, NonFiniteWeightsAreALoadErrorNamingTheTensorUnlessAllowed) {
  Checkpoint c = sample();
  c.model_state[0].second = from_vector<float>({1, NAN, 3, 4}, {2, 2});
  const std::string p = path("nan.ckpt");
  save_checkpoint(p, c);
  std::string msg = load_error(p);
  EXPECT_NE(msg.find("nan.ckpt: tensor 'model/encoders.0.conv1.weight' [2, 2] holds 1 non-finite value(s), the "
                     "first NaN at element 1"),
            std::string::npos)
      << msg;
  EXPECT_THROW(read_model_weights(p), Error);
  // Optimizer moments too: a resumed step would spread them into the weights.
  Checkpoint m = sample();
  m.optimizer_tensors[0].second = from_vector<float>({0, 0, INFINITY, 0}, {2, 2});
  save_checkpoint(path("moments.ckpt"), m);
  msg = load_error(path("moments.ckpt"));
  EXPECT_NE(msg.find("'optimizer/exp_avg.encoders.0.conv1.weight'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("+inf"), std::string::npos) << msg;
  // A plain weights file (--pretrained) is checked the same way.
  const float w[2] = {1, -INFINITY};
  write_safetensors(path("plain.safetensors"), {{"features.0.weight", DType::f32, {2}, w}});
  try {
    read_model_weights(path("plain.safetensors"));
    FAIL() << "loaded -inf";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'features.0.weight'"), std::string::npos) << e.what();
  }
  allow_non_finite_weights(true);  // the debugging switch
  EXPECT_TRUE(std::isnan(as_map(load_checkpoint(p).model_state).at("encoders.0.conv1.weight").to_vector<float>()[1]));
  EXPECT_EQ(read_model_weights(path("plain.safetensors")).size(), 1u);
  allow_non_finite_weights(false);
}

}  // namespace
}  // namespace glia
