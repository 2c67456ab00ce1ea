// SIGINT/SIGTERM during training, through the real binary (apps/interrupt.h): the exit
// code, the message with the exact --resume command, history.csv and last.ckpt of the
// last finished epoch, a resume that ends bit for bit where an uninterrupted run ends,
// the removal of temporary files killed runs left, and a second signal that quits at
// once. Plus the message itself for each case, in process.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "apps/interrupt.h"
#include "io/phantom.h"
#include "tests/apps/glia_process.h"
#include "train/checkpoint.h"
#include "tests/apps/cli_harness.h"

namespace glia {
namespace {
namespace fs = std::filesystem;

std::string read(const std::string& path) { return test::read_text(path); }
// Epoch rows of a history.csv (0 when it does not exist).
int history_rows(const std::string& dir) {
  const std::string t = read(dir + "/history.csv");
  const int lines = static_cast<int>(std::count(t.begin(), t.end(), '\n'));
  return lines > 0 ? lines - 1 : 0;
}
int checkpoint_epoch(const std::string& path) {
  return static_cast<int>(load_checkpoint(path).trainer_state.at("epoch").as_integer());
}
bool wait_until(const std::function<bool()>& done, double seconds = 120) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}
// The line after `heading` in `text`, without its indentation.
std::string line_after(const std::string& text, const std::string& heading) {
  const size_t at = text.find(heading);
  if (at == std::string::npos) return "";
  const size_t start = text.find_first_not_of(" \n", at + heading.size());
  return text.substr(start, text.find('\n', start) - start);
}
std::vector<std::string> words(const std::string& line) {
  std::stringstream s(line);
  std::vector<std::string> out;
  for (std::string w; s >> w;) out.push_back(w);
  return out;
}

class Interrupt : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = test::fresh_temp_dir("glia_interrupt_test");
    cls_ = root_ + "/cls";
    io::write_classification_phantoms(cls_, 5, 2, 40, 3);
  }
  void TearDown() override { fs::remove_all(root_); }

  std::vector<std::string> train(const std::string& out, int epochs, int image_size = 32) const {
    return {"train-cls", "--data", cls_, "--out", out, "--model", "b0", "--image-size", std::to_string(image_size),
            "--epochs", std::to_string(epochs), "--batch-size", "4", "--max-batches", "3", "--threads", "2"};
  }

  std::string root_, cls_;
};

TEST_F(Interrupt, SigintAbandonsTheEpochAndTheResumeIsBitExact) {
  const std::string ref = root_ + "/ref", run = root_ + "/run";
  const test::ChildResult whole = test::run_glia(train(ref, 5));
  ASSERT_EQ(whole.exit_code, 0) << whole.err;

  test::GliaProcess p(train(run, 5));
  ASSERT_TRUE(wait_until([&] { return history_rows(run) >= 1; })) << p.err_so_far();
  p.send(SIGINT);
  const test::ChildResult r = p.wait();
  EXPECT_EQ(r.exit_code, 130) << r.err;
  EXPECT_NE(r.err.find("interrupted (SIGINT)"), std::string::npos) << r.err;
  const int done = history_rows(run);
  ASSERT_GE(done, 1);
  ASSERT_LT(done, 5) << "the run ended before the signal; the test needs a slower run";
  EXPECT_EQ(checkpoint_epoch(run + "/last.ckpt"), done) << "history.csv and last.ckpt disagree";
  EXPECT_NE(r.err.find("the run is at epoch " + std::to_string(done) + "/5"), std::string::npos) << r.err;

  const std::string resume_line = line_after(r.err, "continue it with:");
  std::vector<std::string> resume = words(resume_line);
  ASSERT_GE(resume.size(), 3u) << r.err;
  EXPECT_EQ(resume.front(), test::glia_binary());
  EXPECT_NE(resume_line.find("--out " + run), std::string::npos) << resume_line;
  EXPECT_EQ(resume.back(), "--resume");
  EXPECT_EQ(resume_line.find("--overwrite"), std::string::npos) << resume_line;

  // Leftovers of killed runs: a dead writer's temporary is removed on resume; a live
  // process's (this test's pid) and a user's file that only looks similar stay.
  const std::string dead = run + "/last.ckpt.tmp.99999999";  // above any pid_max: no such process
  const std::string live = run + "/best.ckpt.tmp." + std::to_string(::getpid());
  std::ofstream(dead) << std::string(1000, 'x');
  std::ofstream(live) << "busy";
  std::ofstream(run + "/notes.tmp.txt") << "mine";
  resume.erase(resume.begin());
  const test::ChildResult resumed = test::run_glia(resume);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("removed 1 temporary file"), std::string::npos) << resumed.err;
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(run + "/notes.tmp.txt"));

  EXPECT_EQ(history_rows(run), 5);
  const Checkpoint a = load_checkpoint(ref + "/last.ckpt"), b = load_checkpoint(run + "/last.ckpt");
  for (const auto* group : {&a.model_state, &a.optimizer_tensors}) {
    const auto other = as_map(group == &a.model_state ? b.model_state : b.optimizer_tensors);
    ASSERT_FALSE(group->empty());
    ASSERT_EQ(group->size(), other.size());
    for (const auto& [name, t] : *group) {
      const Tensor& u = other.at(name);
      ASSERT_EQ(t.sizes(), u.sizes()) << name;
      EXPECT_EQ(std::memcmp(t.data_ptr(), u.data_ptr(), static_cast<size_t>(t.numel()) * t.itemsize()), 0) << name;
    }
  }
}

TEST_F(Interrupt, SigtermExitsWith143AndKeepsHistoryAndCheckpointTogether) {
  const std::string run = root_ + "/run";
  test::GliaProcess p(train(run, 20));
  ASSERT_TRUE(wait_until([&] { return history_rows(run) >= 1; })) << p.err_so_far();
  p.send(SIGTERM);
  const test::ChildResult r = p.wait();
  EXPECT_EQ(r.exit_code, 143) << r.err;
  EXPECT_NE(r.err.find("interrupted (SIGTERM)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
  EXPECT_EQ(checkpoint_epoch(run + "/last.ckpt"), history_rows(run));
}

TEST_F(Interrupt, ASecondSignalQuitsAtOnceAndCorruptsNothing) {
  const std::string run = root_ + "/run";
  test::GliaProcess p(train(run, 20));
  ASSERT_TRUE(wait_until([&] { return history_rows(run) >= 1; })) << p.err_so_far();
  // Both signals pending while the child is stopped: it handles the first and then, at
  // once, the second.
  p.send(SIGSTOP);
  p.send(SIGINT);
  p.send(SIGTERM);
  p.send(SIGCONT);
  const test::ChildResult r = p.wait();
  EXPECT_TRUE(r.exit_code == 130 || r.exit_code == 143) << r.exit_code << " " << r.err;
  EXPECT_NE(r.err.find("second signal"), std::string::npos) << r.err;
  const int epoch = checkpoint_epoch(run + "/last.ckpt");  // loads: not corrupted
  EXPECT_GE(epoch, 1);
  // history.csv is written right after last.ckpt: at most one epoch behind it.
  EXPECT_LE(history_rows(run), epoch);
  EXPECT_GE(history_rows(run), epoch - 1);
}

TEST_F(Interrupt, BeforeTheFirstEpochEndsThereIsNothingToResume) {
  const std::string run = root_ + "/run";
  // 128 px: the first epoch takes long enough for the signal to land inside it.
  test::GliaProcess p(train(run, 3, 128));
  ASSERT_TRUE(wait_until([&] { return p.out_so_far().find("epoch 1/3") != std::string::npos; })) << p.err_so_far();
  p.send(SIGINT);
  const test::ChildResult r = p.wait();
  EXPECT_EQ(r.exit_code, 130) << r.err;
  ASSERT_EQ(history_rows(run), 0) << "the first epoch ended before the signal; the test needs a slower epoch";
  EXPECT_NE(r.err.find("nothing to resume"), std::string::npos) << r.err;
  const std::string again = line_after(r.err, "start again with:");
  EXPECT_NE(again.find("--overwrite"), std::string::npos) << r.err;
  EXPECT_EQ(again.find("--resume"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(run + "/last.ckpt"));
}

// The message for each place an interruption can happen, without a process.
std::string report(const TrainingInterrupted& e, const std::vector<std::string>& args, int* code) {
  testing::internal::CaptureStderr();
  *code = app::report_interruption(e, args);
  return testing::internal::GetCapturedStderr();
}

TEST(InterruptReport, SaysWhereTheRunIsAndHowToContinue) {
  int code = 0;
  const std::vector<std::string> args = {"glia", "train-cls", "--data", "my data", "--overwrite", "--epochs", "10"};
  const std::string mid = report(TrainingInterrupted("", SIGINT, 2, 10, 17, 40, "training", "/runs/x"), args, &code);
  EXPECT_EQ(code, 130);
  EXPECT_NE(mid.find("during epoch 3/10, after 17 of 40 batches. That epoch is abandoned"), std::string::npos) << mid;
  EXPECT_NE(mid.find("the run is at epoch 2/10"), std::string::npos) << mid;
  // --overwrite would delete the run; --out is added since the user gave none.
  EXPECT_EQ(line_after(mid, "continue it with:"),
            "glia train-cls --data 'my data' --epochs 10 --out /runs/x --resume") << mid;

  const std::string val = report(TrainingInterrupted("", SIGTERM, 4, 10, 40, 40, "validation", "/r"), args, &code);
  EXPECT_EQ(code, 143);
  EXPECT_NE(val.find("(SIGTERM) during the validation of epoch 5/10"), std::string::npos) << val;

  const std::string between = report(TrainingInterrupted("", SIGINT, 4, 10, 0, 40, "training", "/r"), args, &code);
  EXPECT_NE(between.find("before epoch 5/10 began"), std::string::npos) << between;
  EXPECT_EQ(between.find("abandoned"), std::string::npos) << between;

  const std::string first = report(TrainingInterrupted("", SIGINT, 0, 10, 3, 40, "training", "/r"), args, &code);
  EXPECT_NE(first.find("nothing to resume"), std::string::npos) << first;
  EXPECT_EQ(line_after(first, "start again with:"), "glia train-cls --data 'my data' --epochs 10 --out /r --overwrite");

  const std::vector<std::string> seg = {"glia", "train-seg", "--data", "d", "--out", "/s", "--seed", "3", "--resume"};
  const std::string eval = report(TrainingInterrupted("", SIGINT, 10, 10, 0, 0, "evaluation", "/s"), seg, &code);
  EXPECT_NE(eval.find("Training itself is complete"), std::string::npos) << eval;
  EXPECT_EQ(line_after(eval, "evaluate it with:"), "glia eval-seg --checkpoint /s/last.ckpt --data d --seed 3");
}

}  // namespace
}  // namespace glia
