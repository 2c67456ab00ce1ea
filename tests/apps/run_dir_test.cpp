// apps/run_dir.cpp in process: text files are written atomically (a write that fails
// leaves the previous file whole and no temporary behind, and says why), --overwrite
// replaces a run of the same command, and only write_file_atomically's leftovers of
// processes that are gone are cleaned up. The refusals are in bad_input_test.cpp.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "apps/app.h"
#include "tests/apps/cli_harness.h"

namespace glia {
namespace {
namespace fs = std::filesystem;

std::string read(const std::string& path) { return test::read_text(path); }

class RunDir : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = test::fresh_temp_dir("glia_run_dir_test");
  }
  void TearDown() override { fs::remove_all(root_); }
  size_t entries() const {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(root_)) n += !e.path().empty();
    return n;
  }
  std::string root_;
};

// A disk that fills up: RLIMIT_FSIZE makes write() fail with EFBIG past `bytes` (SIGXFSZ
// ignored meanwhile). Restored when the scope ends.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &saved_);
    previous_ = signal(SIGXFSZ, SIG_IGN);
    struct rlimit limited = saved_;
    limited.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &limited);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    signal(SIGXFSZ, previous_);
  }

 private:
  struct rlimit saved_ {};
  void (*previous_)(int) = nullptr;
};

TEST_F(RunDir, AFailedWriteKeepsThePreviousFileAndSaysWhy) {
  const std::string path = root_ + "/metrics.json";
  app::write_text_file(path, "old contents\n");
  try {
    FileSizeLimit full(64);
    app::write_text_file(path, std::string(1000, 'x'));
    FAIL() << "a write past the file-size limit succeeded";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("cannot write " + path), std::string::npos) << m;
    EXPECT_NE(m.find("File too large"), std::string::npos) << m;
  }
  EXPECT_EQ(read(path), "old contents\n");
  EXPECT_EQ(entries(), 1u) << "a temporary file was left";

  try {
    app::write_text_file(root_ + "/no/such/dir/run.json", "{}");
    FAIL() << "a write into a missing folder succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("No such file or directory"), std::string::npos) << e.what();
  }
}

TEST_F(RunDir, OverwriteReplacesARunOfTheSameCommand) {
  const std::string dir = root_ + "/run";
  app::prepare_run_dir(dir, false, false, "train-cls", "{\"epochs\": 1}");
  std::ofstream(dir + "/last.ckpt") << "weights";
  std::ofstream(dir + "/history.csv") << "epoch\n1\n";
  EXPECT_THROW(app::prepare_run_dir(dir, false, false, "train-cls", "{}"), app::UsageError);
  EXPECT_TRUE(fs::exists(dir + "/last.ckpt"));
  app::prepare_run_dir(dir, true, false, "train-cls", "{\"epochs\": 2}");
  EXPECT_FALSE(fs::exists(dir + "/last.ckpt"));
  EXPECT_FALSE(fs::exists(dir + "/history.csv"));
  EXPECT_NE(read(dir + "/run.json").find("\"epochs\": 2"), std::string::npos) << read(dir + "/run.json");

  const std::string eval = root_ + "/eval";
  app::prepare_run_dir(eval, false, false, "eval-cls", "{}");
  std::ofstream(eval + "/metrics.json") << "{}";
  app::prepare_run_dir(eval, true, false, "eval-cls", "{}");
  EXPECT_FALSE(fs::exists(eval + "/metrics.json"));
}

TEST_F(RunDir, OnlyLeftoversOfGoneProcessesAreRemoved) {
  const std::string gone = root_ + "/last.ckpt.tmp.99999999";  // above any pid_max
  const std::string alive = root_ + "/best.ckpt.tmp." + std::to_string(::getpid());
  for (const std::string& f : {gone, alive, root_ + "/notes.tmp.txt", root_ + "/x.tmp.", root_ + "/.tmp.123",
                               root_ + "/history.csv"})
    std::ofstream(f) << "x";
  fs::create_directory(root_ + "/folder.tmp.99999998");
  testing::internal::CaptureStderr();
  EXPECT_EQ(app::remove_stale_temp_files(root_), 1u);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("removed 1 temporary file"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(gone));
  EXPECT_TRUE(fs::exists(alive));
  EXPECT_TRUE(fs::exists(root_ + "/notes.tmp.txt"));
  EXPECT_TRUE(fs::exists(root_ + "/x.tmp."));
  EXPECT_TRUE(fs::exists(root_ + "/.tmp.123"));
  EXPECT_TRUE(fs::exists(root_ + "/folder.tmp.99999998"));
  EXPECT_TRUE(fs::exists(root_ + "/history.csv"));
}

}  // namespace
}  // namespace glia
