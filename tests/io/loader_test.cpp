// Loader: same batches whatever the worker count, epochs are permutations, labels and
// masks travel with their images, bad samples are errors or skips.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "io/loader.h"
#include "io/phantom.h"
#include "kernels/error.h"
#include "tests/io/io_test_util.h"
#include "tests/io/loader_test_util.h"

namespace glia::io {
namespace {

namespace fs = std::filesystem;

using test::expect_same_batches;
using test::run_epochs;

ImagePipeline small_pipeline(int channels, bool augment) {
  ImagePipeline p;
  p.channels = channels;
  p.height = 20;
  p.width = 24;
  if (augment) p.augmentation = Augmentation::standard(true);
  return p;
}

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_classification_phantoms(dir.str(), 5, 0, 36, 17);
    ds = open_classification_dataset(dir.str());
  }
  test::TempDir dir;
  ClassificationDataset ds;
};

TEST_F(LoaderTest, SameBatchesWithOneAndThreeWorkers) {
  auto source = std::make_shared<ClassificationSource>(ds.training.samples, small_pipeline(3, true));
  LoaderOptions o;
  o.batch_size = 6;  // 20 samples: 3 full batches and one of 2
  o.seed = 123;
  o.workers = 1;
  std::vector<Batch> one = run_epochs(source, o, 0, 2);
  o.workers = 3;
  o.prefetch = 2;
  std::vector<Batch> three = run_epochs(source, o, 0, 2);
  o.workers = 0;
  std::vector<Batch> inline_ = run_epochs(source, o, 0, 2);
  ASSERT_EQ(one.size(), 8u);
  EXPECT_EQ(one[3].n, 2);
  EXPECT_EQ(one[0].c, 3);
  EXPECT_EQ(one[0].h, 20);
  EXPECT_EQ(one[0].w, 24);
  EXPECT_EQ(one[0].images.size(), 6u * 3 * 20 * 24);
  expect_same_batches(one, three);
  expect_same_batches(one, inline_);
  // Another seed gives other batches.
  o.seed = 124;
  std::vector<Batch> other = run_epochs(source, o, 0, 1);
  EXPECT_NE(other[0].indices, one[0].indices);
}

// Data-parallel shards (LoaderOptions::shard_rank): the shards of 3 ranks, put side by side,
// are the unsharded batches bit for bit (same samples, same augmentation), split by
// floor(r n / 3), with global_n the whole batch's size.
TEST_F(LoaderTest, ShardsSideBySideAreTheUnshardedBatches) {
  auto source = std::make_shared<ClassificationSource>(ds.training.samples, small_pipeline(3, true));
  LoaderOptions o;
  o.batch_size = 8;  // 20 samples: 8, 8, 4
  o.seed = 9;
  o.workers = 2;
  const std::vector<Batch> whole = run_epochs(source, o, 1, 2);
  o.shard_count = 3;
  std::vector<std::vector<Batch>> shards;
  for (int r = 0; r < 3; ++r) {
    o.shard_rank = r;
    shards.push_back(run_epochs(source, o, 1, 2));
    ASSERT_EQ(shards.back().size(), whole.size());
  }
  for (size_t b = 0; b < whole.size(); ++b) {
    Batch joined = shards[0][b];
    for (int r = 1; r < 3; ++r) {
      const Batch& part = shards[static_cast<size_t>(r)][b];
      joined.n += part.n;
      joined.images.insert(joined.images.end(), part.images.begin(), part.images.end());
      joined.labels.insert(joined.labels.end(), part.labels.begin(), part.labels.end());
      joined.indices.insert(joined.indices.end(), part.indices.begin(), part.indices.end());
    }
    for (int r = 0; r < 3; ++r) {
      const Batch& part = shards[static_cast<size_t>(r)][b];
      EXPECT_EQ(part.global_n, whole[b].n);
      const size_t n = static_cast<size_t>(whole[b].n);
      EXPECT_EQ(static_cast<size_t>(part.n), (static_cast<size_t>(r) + 1) * n / 3 - static_cast<size_t>(r) * n / 3);
    }
    expect_same_batches({whole[b]}, {joined});
  }
  o.shard_rank = 3;
  EXPECT_THROW(Loader(source, o), Error);
}

TEST_F(LoaderTest, EpochsArePermutationsWithMatchingLabels) {
  auto source = std::make_shared<ClassificationSource>(ds.training.samples, small_pipeline(1, false));
  LoaderOptions o;
  o.batch_size = 7;
  o.seed = 5;
  o.workers = 2;
  Loader loader(source, o);
  EXPECT_EQ(loader.batches_per_epoch(), 3u);
  std::vector<std::vector<size_t>> orders;
  for (uint64_t e = 0; e < 2; ++e) {
    loader.start_epoch(e);
    Batch b;
    std::vector<size_t> seen;
    while (loader.next(b)) {
      EXPECT_EQ(b.epoch, e);
      for (int i = 0; i < b.n; ++i) {
        EXPECT_EQ(b.labels[i], ds.training.samples[b.indices[i]].label);
        EXPECT_EQ(b.paths[i], ds.training.samples[b.indices[i]].path);
        seen.push_back(b.indices[i]);
      }
    }
    EXPECT_EQ(seen, loader.epoch_order(e));
    std::vector<size_t> sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i) EXPECT_EQ(sorted[i], i);
    orders.push_back(seen);
    LoaderStats st = loader.stats();
    EXPECT_EQ(st.images, 20u);
    EXPECT_EQ(st.batches, 3u);
    EXPECT_GT(st.images_per_second(), 0.0);
  }
  EXPECT_NE(orders[0], orders[1]);
}

// wait_seconds is the time next() held the consumer up, not the consumer's own time.
TEST_F(LoaderTest, WaitTimeLeavesOutTheConsumersTime) {
  auto source = std::make_shared<ClassificationSource>(ds.training.samples, small_pipeline(3, true));
  for (int workers : {0, 2}) {
    LoaderOptions o;
    o.batch_size = 7;  // 3 batches
    o.workers = workers;
    Loader loader(source, o);
    loader.start_epoch(0);
    Batch b;
    while (loader.next(b)) std::this_thread::sleep_for(std::chrono::milliseconds(30));
    const LoaderStats st = loader.stats();
    EXPECT_GT(st.wait_seconds, 0.0) << workers << " workers";
    // Two 30 ms pauses lie between the first and the last batch handed out.
    EXPECT_GE(st.seconds, 0.06) << workers << " workers";
    EXPECT_LE(st.wait_seconds, st.seconds - 0.06 + 1e-9) << workers << " workers";
  }
}

TEST_F(LoaderTest, UnaugmentedBatchEqualsDirectDecode) {
  auto pipeline = small_pipeline(3, false);
  pipeline.normalization = {{0.5f, 0.4f, 0.3f}, {0.2f, 0.25f, 0.3f}};
  auto source = std::make_shared<ClassificationSource>(ds.training.samples, pipeline);
  LoaderOptions o;
  o.batch_size = 4;
  o.shuffle = false;
  std::vector<Batch> batches = run_epochs(source, o, 0, 1);
  const Batch& b = batches[1];
  const size_t plane = 20 * 24;
  for (int i = 0; i < b.n; ++i) {
    const auto& s = ds.training.samples[b.indices[i]];
    auto bytes = read_file_bytes(s.path);
    cv::Mat img = decode_image(bytes.data(), bytes.size(), s.path, 3, nullptr, 20, 24, Interpolation::area);
    ASSERT_EQ(img.rows, 20);
    ASSERT_EQ(img.cols, 24);
    for (int k = 0; k < 3; ++k)
      for (int y = 0; y < 20; ++y)
        for (int x = 0; x < 24; ++x) {
          double want = (img.at<cv::Vec3f>(y, x)[k] - pipeline.normalization.mean[k]) / pipeline.normalization.std[k];
          ASSERT_NEAR(b.images[(static_cast<size_t>(i) * 3 + k) * plane + y * 24 + x], want, 1e-5);
        }
  }
}

TEST_F(LoaderTest, BadSampleIsAnErrorOrASkip) {
  auto samples = ds.training.samples;
  // Corrupt one file after the dataset was opened (it still has a PNG signature).
  std::vector<uint8_t> bytes = test::read_bytes(samples[3].path);
  bytes.resize(60);
  test::write_bytes(samples[3].path, bytes);
  auto source = std::make_shared<ClassificationSource>(samples, small_pipeline(3, true));
  LoaderOptions o;
  o.batch_size = 8;
  o.workers = 2;
  o.shuffle = false;
  try {
    run_epochs(source, o, 0, 1);
    FAIL() << "expected an error for the corrupt file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(samples[3].path), std::string::npos) << e.what();
  }
  o.skip_bad = true;
  o.quiet = true;
  Loader loader(source, o);
  loader.start_epoch(0);
  Batch b;
  size_t images = 0;
  while (loader.next(b)) {
    images += static_cast<size_t>(b.n);
    for (size_t idx : b.indices) EXPECT_NE(idx, 3u);
    EXPECT_EQ(b.images.size(), static_cast<size_t>(b.n) * 3 * 20 * 24);
  }
  EXPECT_EQ(images, 19u);
  EXPECT_EQ(loader.stats().skipped, 1u);
  ASSERT_EQ(loader.skipped_messages().size(), 1u);
}

TEST(SegmentationLoader, MasksBinaryAndWorkerIndependent) {
  test::TempDir dir;
  write_segmentation_phantoms(dir.str(), 3, 6, 40, 8);
  SegmentationDataset ds = open_segmentation_dataset(dir.str());
  ImagePipeline p = small_pipeline(3, true);
  p.interpolation = Interpolation::linear;
  auto source = std::make_shared<SegmentationSource>(ds.samples, p);
  auto order = oversample_positive(ds.samples, 2);
  LoaderOptions o;
  o.batch_size = 5;
  o.seed = 77;
  o.workers = 1;
  auto one = run_epochs(source, o, 0, 2, order);
  o.workers = 3;
  auto three = run_epochs(source, o, 0, 2, order);
  expect_same_batches(one, three);
  size_t total = 0;
  bool any_tumour = false;
  for (const Batch& b : one) {
    ASSERT_EQ(b.masks.size(), static_cast<size_t>(b.n) * 20 * 24);
    for (float m : b.masks) ASSERT_TRUE(m == 0.0f || m == 1.0f);
    any_tumour |= std::find(b.masks.begin(), b.masks.end(), 1.0f) != b.masks.end();
    for (int64_t l : b.labels) EXPECT_EQ(l, -1);
    total += static_cast<size_t>(b.n);
  }
  EXPECT_TRUE(any_tumour);
  EXPECT_EQ(total, 2 * order.size());
  EXPECT_GT(order.size(), ds.samples.size());
}

TEST_F(LoaderTest, LastBatchOfOneIsMergedIntoThePreviousOne) {
  auto source = std::make_shared<ClassificationSource>(ds.training.samples, small_pipeline(1, true));
  LoaderOptions o;
  o.batch_size = 19;  // 20 samples: 19 + 1 without merging
  o.seed = 9;
  o.workers = 2;
  const std::vector<Batch> plain = run_epochs(source, o, 0, 1);
  ASSERT_EQ(plain.size(), 2u);
  EXPECT_EQ(plain[1].n, 1);
  o.merge_single_last = true;
  EXPECT_EQ(smallest_batch(20, o), 19u);
  Loader loader(source, o);
  EXPECT_EQ(loader.batches_per_epoch(), 1u);
  const std::vector<Batch> merged = run_epochs(source, o, 0, 2);
  ASSERT_EQ(merged.size(), 2u);  // one batch of all 20 per epoch
  for (const Batch& b : merged) {
    EXPECT_EQ(b.n, 20);
    std::set<size_t> seen(b.indices.begin(), b.indices.end());
    EXPECT_EQ(seen.size(), 20u);
  }
  // The same samples in the same order, with the same augmentation, as without merging:
  // only the batch boundary moved, so merging keeps the data order of a run.
  std::vector<size_t> plain_order = plain[0].indices;
  plain_order.insert(plain_order.end(), plain[1].indices.begin(), plain[1].indices.end());
  EXPECT_EQ(merged[0].indices, plain_order);
  std::vector<float> plain_images = plain[0].images;
  plain_images.insert(plain_images.end(), plain[1].images.begin(), plain[1].images.end());
  EXPECT_EQ(0, std::memcmp(merged[0].images.data(), plain_images.data(), plain_images.size() * sizeof(float)));
  // Deterministic whatever the workers.
  o.workers = 0;
  expect_same_batches(merged, run_epochs(source, o, 0, 2));
  // Remainders other than one are left alone.
  o.batch_size = 6;  // 6, 6, 6, 2
  EXPECT_EQ(Loader(source, o).batches_per_epoch(), 4u);
  EXPECT_EQ(smallest_batch(20, o), 2u);
  o.batch_size = 1;
  EXPECT_EQ(smallest_batch(20, o), 1u);
  o.batch_size = 32;
  EXPECT_EQ(smallest_batch(1, o), 1u);  // a single sample cannot be merged with anything
  EXPECT_EQ(smallest_batch(20, o), 20u);
}

TEST(Loader, RejectsBadOptions) {
  auto source = std::make_shared<ClassificationSource>(std::vector<ClassificationSample>{}, ImagePipeline{});
  LoaderOptions o;
  o.batch_size = 0;
  EXPECT_THROW(Loader(source, o), Error);
  o.batch_size = 1;
  EXPECT_THROW(Loader(source, o, {3}), Error);
  ImagePipeline bad;
  bad.channels = 2;
  EXPECT_THROW(ClassificationSource({}, bad), Error);
}

}  // namespace
}  // namespace glia::io
