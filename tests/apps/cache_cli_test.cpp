// --cache through the command line: the cache never changes what a run trains (cached
// and uncached runs end in the same bits, and a run resumed with another --cache equals
// the uninterrupted one), the resume records the change, and bad values are refused
// before anything is written (--cache, GLIA_CACHE_MB) or explained (auto falling back).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
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

class CliCache : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = test::fresh_temp_dir("glia_cache_cli_test");
    cls_ = root_ + "/cls";
    seg_ = root_ + "/seg";
    io::write_classification_phantoms(cls_, 5, 0, 40, 3);
    io::write_segmentation_phantoms(seg_, 4, 4, 40, 3);
  }
  void TearDown() override {
    unsetenv("GLIA_CACHE_MB");
    fs::remove_all(root_);
  }

  // Runs `glia args...`; returns the exit code and keeps stderr in err_.
  int glia(std::vector<std::string> args) {
    const test::CliResult r = test::run_cli(std::move(args), /*capture_stdout=*/false);
    err_ = r.err;
    return r.code;
  }
  // Augmented training at 32 px from 40 px files: the cache holds resized images.
  std::vector<std::string> train_cls(const std::string& out, int epochs, const std::string& cache) {
    return {"train-cls", "--data", cls_, "--out", out, "--model", "b0", "--image-size", "32", "--epochs",
            std::to_string(epochs), "--batch-size", "4", "--max-batches", "3", "--threads", "2", "--workers", "3",
            "--cache", cache, "--quiet"};
  }
  std::vector<std::string> train_seg(const std::string& out, const std::string& cache) {
    return {"train-seg", "--data", seg_, "--out", out, "--width", "4", "--depth", "2", "--image-size", "32",
            "--epochs", "2", "--batch-size", "4", "--max-batches", "3", "--val-fraction", "0.25",
            "--test-fraction", "0.25", "--positive-repeat", "2", "--threads", "2", "--workers", "3", "--cache",
            cache, "--quiet"};
  }
  static std::string read(const std::string& path) { return test::read_text(path); }
  // Every weight and optimizer tensor of two checkpoints, compared bit for bit.
  static void expect_same_checkpoint(const std::string& a, const std::string& b) {
    const Checkpoint ka = load_checkpoint(a), kb = load_checkpoint(b);
    for (auto [x, y] : {std::pair{&ka.model_state, &kb.model_state}, {&ka.optimizer_tensors, &kb.optimizer_tensors}}) {
      ASSERT_EQ(x->size(), y->size());
      ASSERT_FALSE(x->empty());
      std::map<std::string, Tensor> ym(y->begin(), y->end());
      for (const auto& [name, t] : *x) {
        ASSERT_TRUE(ym.count(name)) << name;
        const Tensor& u = ym.at(name);
        ASSERT_EQ(t.sizes(), u.sizes()) << name;
        EXPECT_EQ(std::memcmp(t.data_ptr(), u.data_ptr(), static_cast<size_t>(t.numel()) * t.itemsize()), 0)
            << name << " differs between " << a << " and " << b;
      }
    }
  }

  std::string root_, cls_, seg_, err_;
};

TEST_F(CliCache, CachedRunsTrainTheSameBitsAsUncachedOnes) {
  ASSERT_EQ(glia(train_cls(root_ + "/off", 2, "off")), 0) << err_;
  ASSERT_EQ(glia(train_cls(root_ + "/ram", 2, "ram")), 0) << err_;
  expect_same_checkpoint(root_ + "/off/last.ckpt", root_ + "/ram/last.ckpt");
  EXPECT_EQ(Json::parse(read(root_ + "/ram/run.json")).at("config").at("cache").as_string(), "ram");
  ASSERT_EQ(glia(train_seg(root_ + "/seg-off", "off")), 0) << err_;
  ASSERT_EQ(glia(train_seg(root_ + "/seg-ram", "ram")), 0) << err_;
  expect_same_checkpoint(root_ + "/seg-off/last.ckpt", root_ + "/seg-ram/last.ckpt");
}

TEST_F(CliCache, ResumeWithAnotherCacheEqualsTheUninterruptedRun) {
  const std::string whole = root_ + "/whole", parts = root_ + "/parts";
  ASSERT_EQ(glia(train_cls(whole, 3, "ram")), 0) << err_;
  ASSERT_EQ(glia(train_cls(parts, 2, "off")), 0) << err_;
  auto resume = train_cls(parts, 3, "ram");
  resume.push_back("--resume");
  ASSERT_EQ(glia(resume), 0) << err_;
  expect_same_checkpoint(whole + "/last.ckpt", parts + "/last.ckpt");
  const Json run = Json::parse(read(parts + "/run.json"));
  const Json& change = run.at("resumes").items().at(0).at("changed").at("cache");
  EXPECT_EQ(change.at("from").as_string(), "off");
  EXPECT_EQ(change.at("to").as_string(), "ram");
}

TEST_F(CliCache, BadValuesAreRefusedBeforeAnythingIsWritten) {
  const std::string out = root_ + "/x";
  EXPECT_EQ(glia(train_cls(out, 1, "disk")), 2);
  EXPECT_NE(err_.find("--cache 'disk'"), std::string::npos) << err_;
  setenv("GLIA_CACHE_MB", "lots", 1);
  EXPECT_EQ(glia(train_cls(out, 1, "auto")), 1);
  EXPECT_NE(err_.find("GLIA_CACHE_MB='lots'"), std::string::npos) << err_;
  EXPECT_FALSE(fs::exists(out)) << "a refused command created its output directory";
  // GLIA_CACHE_MB is read only by --cache auto.
  EXPECT_EQ(glia(train_cls(out, 1, "off")), 0) << err_;
}

TEST_F(CliCache, AutoOverBudgetFallsBackAndSaysWhy) {
  setenv("GLIA_CACHE_MB", "0", 1);
  ASSERT_EQ(glia(train_cls(root_ + "/a", 1, "auto")), 0) << err_;
  // Said even with --quiet: the run decodes every epoch.
  EXPECT_NE(err_.find("cache: off (--cache auto)"), std::string::npos) << err_;
  EXPECT_NE(err_.find("GLIA_CACHE_MB=0"), std::string::npos) << err_;
  setenv("GLIA_CACHE_MB", "64", 1);
  ASSERT_EQ(glia(train_cls(root_ + "/b", 1, "auto")), 0) << err_;
  EXPECT_EQ(err_.find("cache:"), std::string::npos) << err_;
}

}  // namespace
}  // namespace glia
