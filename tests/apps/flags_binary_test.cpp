// The cases of tests/apps/flags_test.cpp that matter most, through the real `glia`
// binary (build/apps/glia, found beside this test's build folder) as a user runs it:
// exit code, a substring of stderr, and the files that must be left as they were.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "io/phantom.h"
#include "tests/apps/cli_harness.h"

namespace glia {
namespace {
namespace fs = std::filesystem;

std::string read(const std::string& path) { return test::read_text(path); }

// build/tests/test_apps -> build/apps/glia
std::string glia_binary() {
  const fs::path self = fs::read_symlink("/proc/self/exe");
  return (self.parent_path().parent_path() / "apps" / "glia").string();
}

struct Result {
  int code = -1;
  std::string err;
};

Result run_glia(const std::string& dir, const std::vector<std::string>& args) {
  std::string cmd = "'" + glia_binary() + "'";
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " >'" + dir + "/stdout.txt' 2>'" + dir + "/stderr.txt'";
  const int status = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = read(dir + "/stderr.txt");
  return r;
}

class FlagsBinary : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(glia_binary())) GTEST_SKIP() << glia_binary() << " is not built (cmake --build build --target glia)";
    root_ = test::fresh_temp_dir("glia_flags_binary");
    cls_ = root_ + "/cls";
    io::write_classification_phantoms(cls_, 5, 2, 40, 3);
  }
  void TearDown() override {
    if (!root_.empty()) fs::remove_all(root_);
  }
  std::vector<std::string> train_cls(const std::string& out) const {
    return {"train-cls", "--data", cls_, "--out", out, "--model", "b0", "--image-size", "32", "--epochs", "1",
            "--batch-size", "4", "--max-batches", "2", "--threads", "2", "--quiet"};
  }
  std::string root_, cls_;
};

TEST_F(FlagsBinary, BadInputTable) {
  const std::string run = root_ + "/run";
  ASSERT_EQ(run_glia(root_, train_cls(run)).code, 0) << read(root_ + "/stderr.txt");
  const std::string ckpt = read(run + "/last.ckpt"), run_json = read(run + "/run.json");
  ASSERT_FALSE(ckpt.empty());

  const std::string images = root_ + "/images";
  fs::create_directories(images);
  for (const auto& e : fs::directory_iterator(cls_ + "/Testing/glioma")) {
    fs::copy_file(e.path(), images + "/good.jpg");
    break;
  }
  { std::ofstream(images + "/empty.jpg"); }
  { std::ofstream(images + "/random.jpg", std::ios::binary) << "\x01\x02 not a JPEG"; }

  const std::string fresh = root_ + "/fresh";  // must never be created
  auto with = [&](std::vector<std::string> args, const std::string& flag, const std::string& value) {
    auto it = std::find(args.begin(), args.end(), flag);
    if (it == args.end()) {
      args.push_back(flag);
      args.push_back(value);
    } else {
      *(it + 1) = value;
    }
    return args;
  };
  auto resume = train_cls(run);
  resume.push_back("--resume");

  struct Case {
    std::string name;
    std::vector<std::string> args;
    int code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"--image-size 0", with(train_cls(fresh), "--image-size", "0"), 2, "--image-size 0"},
      {"--lr 0", with(train_cls(fresh), "--lr", "0"), 2, "--lr 0"},
      {"batch of one at 1x1", with(train_cls(fresh), "--batch-size", "1"), 2, "--batch-size 1 with --image-size 32"},
      {"resume with another batch size", with(resume, "--batch-size", "2"), 2, "--batch-size: the run has 4"},
      {"resume with another seed", with(resume, "--seed", "9"), 2, "--seed: the run has 0, this command gives 9"},
      {"predict on bad images", {"predict", images, "--classifier", run + "/best.ckpt", "--out", fresh}, 1,
       "2 of the 3 inputs are not readable images"},
      {"eval with a contradicting split flag",
       {"eval-cls", "--checkpoint", run + "/best.ckpt", "--data", cls_, "--split", "val", "--val-fraction", "0.3",
        "--out", fresh},
       2, "--val-fraction 0.3 contradicts the checkpoint"},
  };
  for (const Case& c : cases) {
    const Result r = run_glia(root_, c.args);
    EXPECT_EQ(r.code, c.code) << c.name << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.name << "\n" << r.err;
    EXPECT_FALSE(fs::exists(fresh)) << c.name << " created its output directory";
    EXPECT_EQ(read(run + "/last.ckpt"), ckpt) << c.name << " changed the run's checkpoint";
    EXPECT_EQ(read(run + "/run.json"), run_json) << c.name << " changed the run's run.json";
  }

  // --skip-bad: predicted and skipped rows, each skipped one with its reason.
  const Result r = run_glia(root_, {"predict", images, "--classifier", run + "/best.ckpt", "--out", fresh, "--skip-bad"});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string csv = read(fresh + "/predictions.csv");
  EXPECT_NE(csv.find("empty.jpg: empty file"), std::string::npos) << csv;
  EXPECT_NE(csv.find("random.jpg\",,"), std::string::npos) << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4) << csv;
}

}  // namespace
}  // namespace glia
