// Inputs left out are reported (issue 13, item 9): train-cls and eval-cls say how many
// images they found, used and dropped and why, in their output and in metrics.json;
// --keep-duplicates evaluates (and trains on) the folders as published.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "apps/app.h"
#include "io/phantom.h"
#include "tensor/json.h"
#include "tests/apps/cli_harness.h"

namespace glia {
namespace {
namespace fs = std::filesystem;

std::string read(const std::string& path) { return test::read_text(path); }

class InputsReport : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = test::fresh_temp_dir("glia_inputs_test");
    cls_ = root_ + "/cls";
    io::write_classification_phantoms(cls_, 5, 2, 40, 3);  // 20 Training, 8 Testing images
    // A copy inside Testing, a copy inside Training, and a Training copy of a Testing image.
    fs::copy_file(cls_ + "/Testing/glioma/Te-gl_0.jpg", cls_ + "/Testing/glioma/Te-gl_copy.jpg");
    fs::copy_file(cls_ + "/Training/notumor/Tr-no_0.jpg", cls_ + "/Training/notumor/Tr-no_copy.jpg");
    fs::copy_file(cls_ + "/Testing/meningioma/Te-me_1.jpg", cls_ + "/Training/meningioma/Tr-me_leak.jpg");
  }
  void TearDown() override { fs::remove_all(root_); }

  // Runs `glia args...`; returns the exit code, keeps stdout and stderr.
  int glia(std::vector<std::string> args) {
    const test::CliResult r = test::run_cli(std::move(args));
    out_ = r.out;
    err_ = r.err;
    return r.code;
  }
  std::vector<std::string> train(const std::string& out) const {
    return {"train-cls", "--data", cls_, "--out", out, "--model", "b0", "--image-size", "32", "--epochs", "1",
            "--batch-size", "4", "--max-batches", "2", "--max-images", "10", "--threads", "2"};
  }
  static int64_t count(const Json& report, const std::string& key) {
    return report.contains(key) ? report.at(key).as_integer() : 0;
  }
  // found = used + dropped + outside the split, whatever the reasons.
  static void expect_balanced(const Json& report) {
    int64_t dropped = 0;
    for (const auto& [reason, n] : report.at("dropped").members()) dropped += n.as_integer();
    EXPECT_EQ(count(report, "found"), count(report, "used") + dropped + count(report, "outside_split"))
        << report.dump();
  }

  std::string root_, cls_, out_, err_;
};

TEST_F(InputsReport, TrainAndEvalSayWhatTheyDroppedAndKeepDuplicatesKeepsIt) {
  const std::string run = root_ + "/run";
  ASSERT_EQ(glia(train(run)), 0) << err_;
  const Json m = Json::parse(read(run + "/metrics.json"));
  const Json& training = m.at("inputs").at("Training");
  EXPECT_EQ(count(training, "found"), 22);
  EXPECT_EQ(count(training.at("dropped"), "duplicate"), 1);
  EXPECT_EQ(count(training.at("dropped"), "copy_of_testing"), 1);
  // 20 distinct images: 1 per class to validation (round(0.2 * 5)), 16 to training,
  // thinned to --max-images 10.
  EXPECT_EQ(count(training.at("dropped"), "max_images"), 6);
  EXPECT_EQ(count(training, "used"), 14);
  expect_balanced(training);
  const Json& testing = m.at("inputs").at("Testing");
  EXPECT_EQ(count(testing, "found"), 9);
  EXPECT_EQ(count(testing, "used"), 8);
  EXPECT_EQ(count(testing.at("dropped"), "duplicate"), 1);
  EXPECT_NE(out_.find("Training: 22 images found, 14 used; left out: 1 as duplicates"), std::string::npos)
      << out_;
  EXPECT_NE(out_.find("1 as copies of Testing images"), std::string::npos) << out_;

  // The published Testing split as it is, and with copies dropped.
  const std::vector<std::string> eval = {"eval-cls", "--checkpoint", run + "/best.ckpt", "--data", cls_, "--split",
                                         "test", "--threads", "2"};
  auto with = [](std::vector<std::string> args, std::vector<std::string> more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  ASSERT_EQ(glia(with(eval, {"--out", root_ + "/dropped"})), 0) << err_;
  const Json dropped = Json::parse(read(root_ + "/dropped/metrics.json"));
  EXPECT_EQ(count(dropped.at("inputs").at("Testing"), "used"), 8);
  EXPECT_EQ(count(dropped.at("inputs").at("Testing").at("dropped"), "duplicate"), 1);
  EXPECT_NE(out_.find("Testing: 9 images found, 8 used; left out: 1 as duplicates"), std::string::npos) << out_;
  EXPECT_NE(out_.find("--keep-duplicates"), std::string::npos) << out_;

  ASSERT_EQ(glia(with(eval, {"--out", root_ + "/kept", "--keep-duplicates"})), 0) << err_;
  const Json kept = Json::parse(read(root_ + "/kept/metrics.json"));
  const Json& kept_testing = kept.at("inputs").at("Testing");
  EXPECT_EQ(count(kept_testing, "found"), 9);
  EXPECT_EQ(count(kept_testing, "used"), 9);
  EXPECT_EQ(kept_testing.at("dropped").members().size(), 0u);
  EXPECT_EQ(count(kept_testing, "duplicates_kept"), 1);
  expect_balanced(kept_testing);
  int64_t support = 0;  // the images the scores count
  for (const auto& [name, scores] : kept.at("per_class").members()) support += scores.at("support").as_integer();
  EXPECT_EQ(support, 9);

  // --split val reports the images of the folder that belong to training.
  ASSERT_EQ(glia({"eval-cls", "--checkpoint", run + "/best.ckpt", "--data", cls_, "--split", "val", "--out",
                  root_ + "/val", "--threads", "2", "--quiet"}),
            0)
      << err_;
  const Json val_metrics = Json::parse(read(root_ + "/val/metrics.json"));
  const Json& val = val_metrics.at("inputs").at("Training");
  EXPECT_EQ(count(val, "used"), 4);
  EXPECT_EQ(count(val, "outside_split"), 16);
  expect_balanced(val);
}

TEST_F(InputsReport, TrainingWithKeepDuplicatesWarnsAboutTestCopies) {
  auto args = train(root_ + "/run");
  args.push_back("--keep-duplicates");
  ASSERT_EQ(glia(args), 0) << err_;
  const Json metrics = Json::parse(read(root_ + "/run/metrics.json"));
  const Json& training = metrics.at("inputs").at("Training");
  EXPECT_EQ(count(training, "found"), 22);
  EXPECT_EQ(count(training, "copies_of_testing_kept"), 1);
  EXPECT_EQ(count(training, "duplicates_kept"), 1);
  EXPECT_EQ(count(training.at("dropped"), "duplicate"), 0);
  expect_balanced(training);
  EXPECT_NE(out_.find("the test score is inflated"), std::string::npos) << out_;
}

}  // namespace
}  // namespace glia
