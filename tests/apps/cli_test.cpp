// The glia command line end to end on tiny synthetic phantoms (io/phantom.h): train,
// evaluate and predict through main_cli exactly as a user types it, bit-exact --resume,
// and every kind of bad input with its exit code and a message naming the culprit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "apps/app.h"
#include "io/phantom.h"
#include "tensor/json.h"
#include "train/checkpoint.h"
#include "tests/apps/cli_harness.h"

namespace glia {
namespace {
namespace fs = std::filesystem;

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = test::fresh_temp_dir("glia_cli_test");
    cls_ = root_ + "/cls";
    seg_ = root_ + "/seg";
    io::write_classification_phantoms(cls_, 5, 2, 40, 3);
    io::write_segmentation_phantoms(seg_, 4, 4, 32, 3);
  }
  void TearDown() override { fs::remove_all(root_); }

  // Runs `glia args...`; returns the exit code and keeps stderr in err_.
  int glia(std::vector<std::string> args) {
    const test::CliResult r = test::run_cli(std::move(args), /*capture_stdout=*/false);
    err_ = r.err;
    return r.code;
  }
  std::vector<std::string> train_cls(const std::string& out, int epochs) {
    return {"train-cls", "--data", cls_, "--out", out, "--model", "b0", "--image-size", "32", "--epochs",
            std::to_string(epochs), "--batch-size", "4", "--max-batches", "2", "--threads", "2", "--quiet"};
  }
  std::vector<std::string> train_seg(const std::string& out, int epochs) {
    return {"train-seg", "--data", seg_, "--out", out, "--width", "4", "--depth", "2", "--image-size", "32",
            "--epochs", std::to_string(epochs), "--batch-size", "4", "--max-batches", "2", "--val-fraction", "0.25",
            "--test-fraction", "0.25", "--threads", "2", "--quiet"};
  }
  static std::string read(const std::string& path) { return test::read_text(path); }
  static size_t lines(const std::string& path) {
    const std::string t = read(path);
    return static_cast<size_t>(std::count(t.begin(), t.end(), '\n'));
  }

  std::string root_, cls_, seg_, err_;
};

TEST_F(Cli, TrainEvaluatePredictOnPhantoms) {
  const std::string c = root_ + "/run-cls", s = root_ + "/run-seg";
  ASSERT_EQ(glia(train_cls(c, 2)), 0) << err_;
  for (const char* f : {"run.json", "history.csv", "metrics.json", "curves.png", "confusion.png", "confusion_test.png",
                        "last.ckpt", "best.ckpt"})
    EXPECT_TRUE(fs::exists(c + "/" + f)) << f;
  EXPECT_EQ(lines(c + "/history.csv"), 3u);  // header + 2 epochs
  const Json m = Json::parse(read(c + "/metrics.json"));
  const double acc = m.at("test").at("accuracy").as_number();
  EXPECT_GE(acc, 0.0);
  EXPECT_LE(acc, 1.0);

  ASSERT_EQ(glia({"eval-cls", "--checkpoint", c + "/best.ckpt", "--data", cls_, "--out", root_ + "/eval-cls",
                  "--quiet"}),
            0)
      << err_;
  // Same weights, same test images: the same accuracy as the training run's final test.
  EXPECT_EQ(Json::parse(read(root_ + "/eval-cls/metrics.json")).at("test").at("accuracy").as_number(), acc);

  ASSERT_EQ(glia(train_seg(s, 2)), 0) << err_;
  for (const char* f : {"history.csv", "metrics.json", "curves.png", "last.ckpt", "best.ckpt"})
    EXPECT_TRUE(fs::exists(s + "/" + f)) << f;
  const Json sm = Json::parse(read(s + "/metrics.json"));
  EXPECT_GE(sm.at("test").at("dice").as_number(), 0.0);
  EXPECT_LE(sm.at("test").at("dice").as_number(), 1.0);
  EXPECT_TRUE(fs::exists(s + "/examples"));
  ASSERT_EQ(glia({"eval-seg", "--checkpoint", s + "/best.ckpt", "--data", seg_, "--out", root_ + "/eval-seg",
                  "--val-fraction", "0.25", "--test-fraction", "0.25", "--quiet"}),
            0)
      << err_;
  EXPECT_DOUBLE_EQ(Json::parse(read(root_ + "/eval-seg/metrics.json")).at("test").at("dice").as_number(),
                   sm.at("test").at("dice").as_number());

  ASSERT_EQ(glia({"predict", cls_ + "/Testing/glioma", cls_ + "/Testing/notumor", "--classifier", c + "/best.ckpt",
                  "--segmenter", s + "/best.ckpt", "--out", root_ + "/pred", "--quiet"}),
            0)
      << err_;
  EXPECT_EQ(lines(root_ + "/pred/predictions.csv"), 5u);  // header + 4 images
  EXPECT_TRUE(fs::exists(root_ + "/pred/Te-gl_0_overlay.png"));
  EXPECT_TRUE(fs::exists(root_ + "/pred/Te-no_1_mask.png"));
}

// Every model and optimizer tensor of two checkpoints is the same, bit for bit.
void expect_same_state(const std::string& path_a, const std::string& path_b) {
  const Checkpoint ka = load_checkpoint(path_a), kb = load_checkpoint(path_b);
  const auto kb_model = as_map(kb.model_state), kb_optimizer = as_map(kb.optimizer_tensors);
  ASSERT_EQ(ka.model_state.size(), kb_model.size());
  ASSERT_FALSE(ka.model_state.empty());
  for (const auto& [name, t] : ka.model_state) {
    const Tensor& u = kb_model.at(name);
    ASSERT_EQ(t.sizes(), u.sizes()) << name;
    EXPECT_EQ(std::memcmp(t.data_ptr(), u.data_ptr(), static_cast<size_t>(t.numel()) * t.itemsize()), 0) << name;
  }
  ASSERT_EQ(ka.optimizer_tensors.size(), kb_optimizer.size());
  for (const auto& [name, t] : ka.optimizer_tensors)
    EXPECT_EQ(std::memcmp(t.data_ptr(), kb_optimizer.at(name).data_ptr(), static_cast<size_t>(t.numel()) * t.itemsize()),
              0)
        << name;
}

TEST_F(Cli, ResumeContinuesBitForBit) {
  const std::string a = root_ + "/a", b = root_ + "/b";
  ASSERT_EQ(glia(train_cls(a, 3)), 0) << err_;
  ASSERT_EQ(glia(train_cls(b, 2)), 0) << err_;  // "interrupted" after epoch 2
  auto resume = train_cls(b, 3);
  resume.push_back("--resume");
  ASSERT_EQ(glia(resume), 0) << err_;
  expect_same_state(a + "/last.ckpt", b + "/last.ckpt");
  EXPECT_EQ(lines(b + "/history.csv"), 4u);
}

// The U-Net's run (batch norm, BCE + Dice, its patient split and oversampling order)
// resumes as exactly as the classifier's; its plateau patience of 1 makes the schedule
// change inside the run, so the restored schedule state matters too.
TEST_F(Cli, SegmenterResumeContinuesBitForBit) {
  const std::string a = root_ + "/a", b = root_ + "/b";
  auto run = [&](const std::string& out, int epochs) {
    auto args = train_seg(out, epochs);
    for (const char* f : {"--lr-patience", "1", "--positive-repeat", "2"}) args.push_back(f);
    return args;
  };
  ASSERT_EQ(glia(run(a, 3)), 0) << err_;
  ASSERT_EQ(glia(run(b, 2)), 0) << err_;
  auto resume = run(b, 3);
  resume.push_back("--resume");
  ASSERT_EQ(glia(resume), 0) << err_;
  expect_same_state(a + "/last.ckpt", b + "/last.ckpt");
  EXPECT_EQ(lines(b + "/history.csv"), 4u);
}

// Mixed precision resumes as exactly as fp32 (train/precision.h): the f32 master weights and
// Adam state are in the checkpoint as always, and fp16's loss scaler state (scale, clean-step
// count) comes back with them; run.json and the checkpoint record the precision, and a
// resume that asks for another one is refused before anything is written.
TEST_F(Cli, MixedPrecisionRunsResumeBitForBit) {
  for (const char* precision : {"bf16", "fp16"}) {
    SCOPED_TRACE(precision);
    const std::string a = root_ + "/a-" + precision, b = root_ + "/b-" + precision;
    auto cls = [&](const std::string& out, int epochs) {
      auto args = train_cls(out, epochs);
      for (const char* f : {"--precision", precision}) args.push_back(f);
      return args;
    };
    ASSERT_EQ(glia(cls(a, 3)), 0) << err_;
    ASSERT_EQ(glia(cls(b, 2)), 0) << err_;
    auto resume = cls(b, 3);
    resume.push_back("--resume");
    ASSERT_EQ(glia(resume), 0) << err_;
    expect_same_state(a + "/last.ckpt", b + "/last.ckpt");
    EXPECT_EQ(Json::parse(read(b + "/run.json")).at("config").at("precision").as_string(), precision);
    const Json state = load_checkpoint(b + "/last.ckpt").trainer_state;
    EXPECT_EQ(state.at("precision").as_string(), precision);
    EXPECT_EQ(state.contains("grad_scaler"), std::string(precision) == "fp16");

    auto seg = [&](const std::string& out, int epochs) {
      auto args = train_seg(out, epochs);
      for (const char* f : {"--lr-patience", "1", "--precision", precision}) args.push_back(f);
      return args;
    };
    const std::string sa = root_ + "/sa-" + precision, sb = root_ + "/sb-" + precision;
    ASSERT_EQ(glia(seg(sa, 3)), 0) << err_;
    ASSERT_EQ(glia(seg(sb, 2)), 0) << err_;
    auto seg_resume = seg(sb, 3);
    seg_resume.push_back("--resume");
    ASSERT_EQ(glia(seg_resume), 0) << err_;
    expect_same_state(sa + "/last.ckpt", sb + "/last.ckpt");
  }
}

TEST_F(Cli, ResumeWithAnotherPrecisionIsRefused) {
  const std::string run = root_ + "/run";
  ASSERT_EQ(glia(train_cls(run, 1)), 0) << err_;
  EXPECT_EQ(Json::parse(read(run + "/run.json")).at("config").at("precision").as_string(), "fp32");
  auto resume = train_cls(run, 2);
  for (const char* f : {"--precision", "bf16", "--resume"}) resume.push_back(f);
  EXPECT_NE(glia(resume), 0);
  EXPECT_NE(err_.find("--precision: the run has fp32, this command gives bf16"), std::string::npos) << err_;
  EXPECT_EQ(lines(run + "/history.csv"), 2u) << "the refused resume trained";
  auto bad = train_cls(root_ + "/bad", 1);
  for (const char* f : {"--precision", "fp8"}) bad.push_back(f);
  EXPECT_NE(glia(bad), 0);
  EXPECT_NE(err_.find("--precision 'fp8'"), std::string::npos) << err_;
}

// --adamw trains (a success path, not only a parsed flag): it is recorded, and with weight
// decay it moves the weights differently from Adam's L2 from the same start.
TEST_F(Cli, AdamWTrainsAndDiffersFromAdam) {
  const std::string adam = root_ + "/adam", adamw = root_ + "/adamw";
  auto args = train_cls(adam, 1);
  for (const char* f : {"--weight-decay", "0.1"}) args.push_back(f);
  ASSERT_EQ(glia(args), 0) << err_;
  args = train_cls(adamw, 1);
  for (const char* f : {"--weight-decay", "0.1", "--adamw"}) args.push_back(f);
  ASSERT_EQ(glia(args), 0) << err_;
  EXPECT_TRUE(Json::parse(read(adamw + "/run.json")).at("config").at("decoupled_weight_decay").as_bool());
  const Checkpoint ka = load_checkpoint(adam + "/last.ckpt"), kw = load_checkpoint(adamw + "/last.ckpt");
  const auto kw_model = as_map(kw.model_state);
  size_t differing = 0;
  for (const auto& [name, t] : ka.model_state) {
    const Tensor& u = kw_model.at(name);
    if (std::memcmp(t.data_ptr(), u.data_ptr(), static_cast<size_t>(t.numel()) * t.itemsize()) != 0) ++differing;
  }
  EXPECT_GT(differing, 0u) << "--adamw trained the same weights as Adam with L2";
}

// `glia demo`, the README's first command, end to end on its phantoms (one epoch each):
// both networks trained and evaluated, and the integrated prediction written.
TEST_F(Cli, DemoTrainsBothNetworksAndPredicts) {
  const std::string d = root_ + "/demo";
  ASSERT_EQ(glia({"demo", "--out", d, "--epochs", "1", "--threads", "2", "--quiet"}), 0) << err_;
  for (const char* f : {"classifier/metrics.json", "classifier/best.ckpt", "segmenter/metrics.json",
                        "segmenter/best.ckpt", "predict/predictions.csv"})
    EXPECT_TRUE(fs::exists(d + "/" + f)) << f;
  const Json cls = Json::parse(read(d + "/classifier/metrics.json"));
  EXPECT_EQ(cls.at("epochs").as_integer(), 1);
  EXPECT_GT(lines(d + "/predict/predictions.csv"), 1u);
}

TEST_F(Cli, UsageErrorsExitWithTwoAndNameTheFlag) {
  EXPECT_EQ(glia({"train-cls", "--data", cls_, "--bogus-flag", "1"}), 2);
  EXPECT_NE(err_.find("--bogus-flag"), std::string::npos) << err_;
  EXPECT_EQ(glia({"train-cls"}), 2);
  EXPECT_NE(err_.find("--data"), std::string::npos) << err_;
  EXPECT_EQ(glia({"frobnicate"}), 2);
  EXPECT_EQ(glia({"train-cls", "--data", root_ + "/no/such/dir", "--out", root_ + "/x"}), 2);
  EXPECT_NE(err_.find(root_ + "/no/such/dir"), std::string::npos) << err_;
  EXPECT_EQ(glia({"train-seg", "--data", seg_, "--out", root_ + "/x", "--image-size", "30", "--depth", "2"}), 2);
  EXPECT_NE(err_.find("--image-size 30"), std::string::npos) << err_;
  EXPECT_EQ(glia({"train-cls", "--data", cls_, "--out", root_ + "/x", "--image-size", "16"}), 2);
  EXPECT_NE(err_.find("--image-size 16"), std::string::npos) << err_;
  EXPECT_EQ(glia({"train-cls", "--data", cls_, "--out", root_ + "/x", "--model", "b9"}), 2);
  EXPECT_NE(err_.find("b9"), std::string::npos) << err_;
  EXPECT_EQ(glia({"train-cls", "--data", cls_, "--out", root_ + "/x", "--device", "tpu"}), 2);
  EXPECT_NE(err_.find("tpu"), std::string::npos) << err_;
  if (device_available(Device::sim)) {  // sim has bf16 kernels, not fp16 ones: refused up front
    EXPECT_EQ(glia({"train-seg", "--data", seg_, "--out", root_ + "/x", "--device", "sim", "--precision", "fp16"}), 2);
    EXPECT_NE(err_.find("--precision fp16 on --device sim"), std::string::npos) << err_;
    EXPECT_NE(err_.find("float16"), std::string::npos) << err_;
  }
  EXPECT_FALSE(fs::exists(root_ + "/x")) << "a refused command created its output directory";
}

TEST_F(Cli, ExistingOutputDirectoryIsNeverOverwrittenSilently) {
  const std::string out = root_ + "/mine";
  fs::create_directories(out);
  { std::ofstream(out + "/notes.txt") << "precious"; }
  EXPECT_EQ(glia(train_cls(out, 1)), 2);
  EXPECT_NE(err_.find("already exists"), std::string::npos) << err_;
  auto overwrite = train_cls(out, 1);
  overwrite.push_back("--overwrite");
  EXPECT_EQ(glia(overwrite), 2);  // not a glia run: refused even with --overwrite
  EXPECT_NE(err_.find("not a glia run directory"), std::string::npos) << err_;
  EXPECT_EQ(read(out + "/notes.txt"), "precious");
  auto resume = train_cls(out, 1);
  resume.push_back("--resume");
  EXPECT_EQ(glia(resume), 2);
  EXPECT_NE(err_.find("last.ckpt"), std::string::npos) << err_;
}

TEST_F(Cli, CheckpointOfAnotherModelIsRefused) {
  const std::string s = root_ + "/seg-run", c = root_ + "/cls-run";
  ASSERT_EQ(glia(train_seg(s, 1)), 0) << err_;
  EXPECT_EQ(glia({"eval-cls", "--checkpoint", s + "/best.ckpt", "--data", cls_, "--out", root_ + "/e"}), 1);
  EXPECT_NE(err_.find("unet"), std::string::npos) << err_;
  EXPECT_NE(err_.find(s + "/best.ckpt"), std::string::npos) << err_;
  EXPECT_FALSE(fs::exists(root_ + "/e"));
  // Resuming a run with another architecture names both.
  auto resume = train_seg(s, 2);
  resume[std::find(resume.begin(), resume.end(), "--width") - resume.begin() + 1] = "8";
  resume.push_back("--resume");
  EXPECT_EQ(glia(resume), 2);  // a flag that cannot change on --resume: a usage error
  EXPECT_NE(err_.find("unet:4:2:32"), std::string::npos) << err_;
  EXPECT_NE(err_.find("unet:8:2:32"), std::string::npos) << err_;
  // A file that is not a checkpoint at all.
  { std::ofstream(root_ + "/junk.ckpt") << "not a checkpoint"; }
  EXPECT_EQ(glia({"predict", cls_ + "/Testing/glioma", "--classifier", root_ + "/junk.ckpt", "--out", root_ + "/p"}), 1);
  EXPECT_NE(err_.find("junk.ckpt"), std::string::npos) << err_;
}

TEST_F(Cli, InfoPrintsTheSummary) {
  testing::internal::CaptureStdout();
  EXPECT_EQ(glia({"info", "--model", "unet", "--width", "4", "--depth", "2", "--image-size", "32"}), 0) << err_;
  const std::string out = testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("GFLOPs"), std::string::npos) << out;
  EXPECT_NE(out.find("head"), std::string::npos) << out;
  EXPECT_EQ(glia({"info", "--model", "unet", "--depth", "3", "--image-size", "36"}), 2);
}

// ---- schedules, fine-tuning, time budget ------------------------------------------------

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

void expect_same_checkpoints(const std::string& a, const std::string& b) {
  const Checkpoint ka = load_checkpoint(a), kb = load_checkpoint(b);
  const auto kb_model = as_map(kb.model_state), kb_optimizer = as_map(kb.optimizer_tensors);
  ASSERT_EQ(ka.model_state.size(), kb_model.size());
  for (const auto& [name, t] : ka.model_state)
    EXPECT_EQ(std::memcmp(t.data_ptr(), kb_model.at(name).data_ptr(), static_cast<size_t>(t.numel()) * t.itemsize()), 0)
        << name;
  ASSERT_EQ(ka.optimizer_tensors.size(), kb_optimizer.size());
  for (const auto& [name, t] : ka.optimizer_tensors)
    EXPECT_EQ(std::memcmp(t.data_ptr(), kb_optimizer.at(name).data_ptr(), static_cast<size_t>(t.numel()) * t.itemsize()),
              0)
        << name;
}

// A run stopped by its time budget (after epoch 1 of 3) and resumed ends bit for bit as
// the uninterrupted one: the cosine schedule's position is in the checkpoint.
TEST_F(Cli, CosineRunStoppedByTheTimeLimitResumesBitForBit) {
  const std::string a = root_ + "/a", b = root_ + "/b";
  const std::vector<std::string> cosine = {"--lr-schedule", "cosine", "--warmup-epochs", "0.5", "--min-lr", "1e-5"};
  ASSERT_EQ(glia(with(train_cls(a, 3), cosine)), 0) << err_;
  EXPECT_EQ(Json::parse(read(a + "/metrics.json")).at("stopped").as_string(), "epochs");
  ASSERT_EQ(glia(with(train_cls(b, 3), with(cosine, {"--time-limit", "0.00001"}))), 0) << err_;
  EXPECT_EQ(Json::parse(read(b + "/metrics.json")).at("stopped").as_string(), "time_limit");
  EXPECT_EQ(lines(b + "/history.csv"), 2u);  // header + the one epoch that started in time
  ASSERT_EQ(glia(with(train_cls(b, 3), with(cosine, {"--resume"}))), 0) << err_;
  expect_same_checkpoints(a + "/last.ckpt", b + "/last.ckpt");
  auto lr_column = [&](const std::string& dir) {  // lr of each epoch, as written
    std::vector<std::string> out;
    std::stringstream in(read(dir + "/history.csv"));
    for (std::string line; std::getline(in, line);) out.push_back(line.substr(0, line.find(',', line.find(',') + 1)));
    return out;
  };
  EXPECT_EQ(lr_column(a), lr_column(b));
  EXPECT_EQ(lines(b + "/history.csv"), 4u);
  const Json config = Json::parse(read(a + "/run.json")).at("config");
  EXPECT_EQ(config.at("lr_schedule").as_string(), "cosine");
  EXPECT_EQ(config.at("warmup_epochs").as_number(), 0.5);

  const std::string s = root_ + "/seg-onecycle";
  ASSERT_EQ(glia(with(train_seg(s, 4), {"--lr-schedule", "onecycle", "--time-limit", "0.00001"})), 0) << err_;
  EXPECT_EQ(Json::parse(read(s + "/metrics.json")).at("stopped").as_string(), "time_limit");
  EXPECT_EQ(lines(s + "/history.csv"), 2u);
}

// Head phase, then fine-tuning: history.csv's phase column, and a resume inside phase 2
// (the run ended after its first fine-tuning epoch) continues it bit for bit.
TEST_F(Cli, FineTuningPhaseAfterTheFrozenBaseResumesInsidePhaseTwo) {
  const std::string a = root_ + "/a", b = root_ + "/b";
  const std::vector<std::string> recipe = {"--freeze-base", "--fine-tune-lr", "3e-4"};
  ASSERT_EQ(glia(with(train_cls(a, 1), with(recipe, {"--fine-tune-epochs", "2"}))), 0) << err_;
  const std::string history = read(a + "/history.csv");
  std::vector<std::vector<std::string>> rows;
  std::stringstream in(history);
  for (std::string line; std::getline(in, line);) {
    rows.emplace_back();
    std::stringstream fields(line);
    for (std::string f; std::getline(fields, f, ',');) rows.back().push_back(f);
  }
  ASSERT_FALSE(rows.empty());
  const auto column = std::find(rows[0].begin(), rows[0].end(), "phase");
  ASSERT_NE(column, rows[0].end()) << history;
  std::vector<std::string> phases;
  for (const auto& row : rows) phases.push_back(row.at(static_cast<size_t>(column - rows[0].begin())));
  EXPECT_EQ(phases, (std::vector<std::string>{"phase", "1", "2", "2"})) << history;
  EXPECT_EQ(Json::parse(read(a + "/run.json")).at("config").at("fine_tune_epochs").as_integer(), 2);

  ASSERT_EQ(glia(with(train_cls(b, 1), with(recipe, {"--fine-tune-epochs", "1"}))), 0) << err_;
  ASSERT_EQ(glia(with(train_cls(b, 1), with(recipe, {"--fine-tune-epochs", "2", "--resume"}))), 0) << err_;
  expect_same_checkpoints(a + "/last.ckpt", b + "/last.ckpt");
  EXPECT_EQ(lines(b + "/history.csv"), 4u);

  // Only the last two entries of the base (the last stage and the 1x1 head convolution)
  // fine-tune, with frozen batch norms: the stem keeps its initial weights and no running
  // statistic of the base moves.
  const std::string c = root_ + "/c";
  ASSERT_EQ(glia(with(train_cls(c, 1), with(recipe, {"--fine-tune-epochs", "1", "--fine-tune-blocks", "2",
                                                       "--fine-tune-bn", "frozen"}))),
            0)
      << err_;
  app::ModelSpec spec;
  spec.kind = "classifier";
  spec.variant = "b0";
  spec.image_size = 32;
  const auto initial = app::build_model(spec, 0)->state_dict();
  const auto trained = as_map(load_checkpoint(c + "/last.ckpt").model_state);
  auto same = [&](const std::string& name) {
    for (const auto& [n, t] : initial)
      if (n == name)
        return std::memcmp(t.data_ptr(), trained.at(n).data_ptr(), static_cast<size_t>(t.numel()) * t.itemsize()) == 0;
    ADD_FAILURE() << "no tensor " << name;
    return false;
  };
  EXPECT_TRUE(same("features.0.0.weight"));
  EXPECT_FALSE(same("features.8.0.weight"));
  EXPECT_TRUE(same("features.8.1.running_mean"));
  EXPECT_TRUE(same("features.8.1.weight"));  // batch norm scale, frozen
}

TEST_F(Cli, ScheduleAndFineTuningFlagsAreCheckedUpFront) {
  const std::string x = root_ + "/x";
  EXPECT_EQ(glia(with(train_cls(x, 2), {"--lr-schedule", "step"})), 2);
  EXPECT_NE(err_.find("--lr-schedule 'step'"), std::string::npos) << err_;
  EXPECT_EQ(glia(with(train_cls(x, 2), {"--lr-schedule", "onecycle", "--warmup-epochs", "1"})), 2);
  EXPECT_NE(err_.find("--warmup-epochs"), std::string::npos) << err_;
  EXPECT_EQ(glia(with(train_cls(x, 2), {"--lr-factor", "1.5"})), 2);
  EXPECT_NE(err_.find("--lr-factor 1.5"), std::string::npos) << err_;
  EXPECT_EQ(glia(with(train_cls(x, 2), {"--lr-schedule", "cosine", "--min-lr", "0.1"})), 2);
  EXPECT_NE(err_.find("--min-lr 0.1"), std::string::npos) << err_;
  EXPECT_EQ(glia(with(train_cls(x, 2), {"--time-limit", "-1"})), 2);
  EXPECT_NE(err_.find("--time-limit -1"), std::string::npos) << err_;
  EXPECT_EQ(glia(with(train_cls(x, 2), {"--fine-tune-epochs", "2"})), 2);
  EXPECT_NE(err_.find("--freeze-base"), std::string::npos) << err_;
  EXPECT_EQ(glia(with(train_cls(x, 2), {"--fine-tune-lr", "1e-4"})), 2);
  EXPECT_NE(err_.find("need --fine-tune-epochs"), std::string::npos) << err_;
  EXPECT_EQ(glia(with(train_cls(x, 2), {"--freeze-base", "--fine-tune-epochs", "1", "--fine-tune-blocks", "20"})), 2);
  EXPECT_NE(err_.find("--fine-tune-blocks 20"), std::string::npos) << err_;
  EXPECT_EQ(glia(with(train_cls(x, 2), {"--freeze-base", "--fine-tune-epochs", "1", "--fine-tune-bn", "eval"})), 2);
  EXPECT_NE(err_.find("--fine-tune-bn 'eval'"), std::string::npos) << err_;
  EXPECT_EQ(glia(with(train_seg(x, 2), {"--fine-tune-epochs", "1"})), 2);  // train-cls only
  EXPECT_FALSE(fs::exists(x)) << "a refused command created its output directory";
}

}  // namespace
}  // namespace glia
