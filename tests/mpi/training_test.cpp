// train-cls under 2 ranks through the command's own function (apps/app.h), on phantoms:
// against one process on the same data and flags (rank 0 alone, ScopedRunCommunicator),
// a resumed 2-rank run against an uninterrupted one (bit for bit), and a resume with
// another number of ranks (refused).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "apps/app.h"
#include "apps/data_parallel_run.h"
#include "io/phantom.h"
#include "train/checkpoint.h"

namespace glia {
namespace {

Communicator& world() { return app::run_communicator(); }

std::string made_dir;  // removed by rank 0 after the tests

class RemoveSharedDir : public ::testing::Environment {
 public:
  void TearDown() override {
    if (!made_dir.empty() && world().rank() == 0) std::filesystem::remove_all(made_dir);
  }
};
const auto* const remove_shared_dir = ::testing::AddGlobalTestEnvironment(new RemoveSharedDir);

// A folder every rank sees (rank 0 makes it), with classification phantoms in data/ and
// segmentation phantoms in seg/.
std::string shared_dir() {
  static std::string dir = [] {
    char path[256] = {};
    if (world().rank() == 0) {
      std::string t = (std::filesystem::temp_directory_path() / "glia-mpi-XXXXXX").string();
      std::strncpy(path, t.c_str(), sizeof path - 1);
      if (::mkdtemp(path) == nullptr) path[0] = '\0';
      else {
        io::write_classification_phantoms(std::string(path) + "/data", 10, 0, 32, 5);
        io::write_segmentation_phantoms(std::string(path) + "/seg", 8, 6, 32, 1);
      }
    }
    world().broadcast(path, sizeof path, 0);
    made_dir = path;
    return std::string(path);
  }();
  return dir;
}

// history.csv of a run: its rows (the columns train/trainer.h writes).
std::vector<HistoryRow> read_history(const std::string& dir) {
  std::ifstream f(dir + "/history.csv");
  std::string line;
  std::getline(f, line);  // header
  std::vector<HistoryRow> rows;
  while (std::getline(f, line)) {
    std::vector<double> v;
    std::stringstream s(line);
    for (std::string cell; std::getline(s, cell, ',');) v.push_back(std::stod(cell));
    HistoryRow r;
    r.epoch = static_cast<int>(v.at(0));
    r.loss = v.at(2);
    r.val_loss = v.at(4);
    rows.push_back(r);
  }
  return rows;
}

app::TrainOptions options(const std::string& out, int epochs) {
  app::TrainOptions o;
  o.data = shared_dir() + "/data";
  o.out = shared_dir() + "/" + out;
  o.model = "b0";
  o.image_size = 32;
  o.epochs = epochs;
  o.batch_size = 8;  // 32 training images: 4 batches of 8, 4 a rank
  o.val_fraction = 0.2;
  o.threads = 1;
  o.workers = 0;
  o.cache = "off";
  o.quiet = true;
  o.patience = 100;
  return o;
}

app::TrainOptions segmenter_options(const std::string& out, bool sync_bn = false) {
  app::TrainOptions o = options(out, 8);
  o.sync_bn = sync_bn;
  o.data = shared_dir() + "/seg";
  o.width = 8;
  o.depth = 2;
  o.lr = 3e-3;
  return o;
}

std::vector<double> validation_losses(const std::vector<HistoryRow>& history) {  // per epoch
  std::vector<double> v;
  for (const auto& r : history) v.push_back(r.val_loss);
  return v;
}

// 8 U-Net epochs on phantoms (it learns visibly in 8; B0 from scratch does not), 2 ranks
// against one process with the same flags: every epoch's validation loss within
// `tolerance` (relative) of one process's.
void expect_epochs_agree(bool sync_bn, double tolerance) {
  ASSERT_FALSE(shared_dir().empty());
  const std::string tag = sync_bn ? "seg-sync-" : "seg-";
  std::vector<double> two, one;
  app::train_segmenter(segmenter_options(tag + "two", sync_bn));
  if (world().rank() == 0) {
    two = validation_losses(read_history(shared_dir() + "/" + tag + "two"));
    SingleProcessCommunicator single;
    app::ScopedRunCommunicator use(single);
    app::train_segmenter(segmenter_options(tag + "one", sync_bn));
    one = validation_losses(read_history(shared_dir() + "/" + tag + "one"));
  }
  world().barrier();
  if (world().rank() != 0) return;
  ASSERT_EQ(two.size(), 8u);
  ASSERT_EQ(one.size(), 8u);
  double worst = 0;
  for (size_t e = 0; e < one.size(); ++e) {
    worst = std::max(worst, std::abs(two[e] - one[e]) / one[e]);
    EXPECT_NEAR(two[e], one[e], tolerance * one[e]) << "epoch " << e + 1;
  }
  std::cout << (sync_bn ? "--sync-bn" : "per-rank batch norm") << ": validation loss after 8 epochs, 2 ranks "
            << two.back() << ", 1 process " << one.back() << "; largest relative difference over the epochs "
            << worst << std::endl;
  // Both learned: the comparison would prove little between two untrained models.
  EXPECT_LT(one.back(), 0.95 * one.front());
  EXPECT_LT(two.back(), 0.95 * two.front());
}

// Per-rank batch-norm statistics (4 + 4 images against 8) make the runs differ: 5 %.
TEST(TwoRanks, FewEpochsOnPhantomsAgreeWithOneProcess) { expect_epochs_agree(false, 0.05); }

// With --sync-bn the two runs differ only by float32 rounding (the order of sums): 0.1 %.
TEST(TwoRanks, FewEpochsWithSyncBnAgreeWithOneProcessClosely) { expect_epochs_agree(true, 1e-3); }

std::vector<std::pair<std::string, std::vector<float>>> weights_of(const std::string& checkpoint) {
  std::vector<std::pair<std::string, std::vector<float>>> out;
  for (const auto& [name, t] : load_checkpoint(checkpoint).model_state) out.emplace_back(name, t.to_vector<float>());
  return out;
}

TEST(TwoRanks, ResumedRunContinuesBitForBitAndRefusesAnotherWorldSize) {
  ASSERT_FALSE(shared_dir().empty());
  app::train_classifier(options("whole", 3));
  app::train_classifier(options("resumed", 2));
  app::TrainOptions again = options("resumed", 3);
  again.resume = true;
  app::train_classifier(again);
  world().barrier();
  if (world().rank() != 0) return;
  const auto a = weights_of(shared_dir() + "/whole/last.ckpt"), b = weights_of(shared_dir() + "/resumed/last.ckpt");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_EQ(0, std::memcmp(a[i].second.data(), b[i].second.data(), a[i].second.size() * sizeof(float)))
        << a[i].first << " differs after the resume";
  // One process may not continue the 2-rank run.
  SingleProcessCommunicator single;
  app::ScopedRunCommunicator use(single);
  app::TrainOptions one = options("resumed", 4);
  one.resume = true;
  try {
    app::train_classifier(one);
    FAIL() << "a 1-process resume of a 2-rank run was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("was written by a run on 2 ranks, this run has 1 process"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace glia
