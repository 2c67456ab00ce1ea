// The decoded-image cache: hits and misses, batches bit-identical to the uncached
// loader's (classification and segmentation, augmented, several workers, repeated
// samples), a capacity it keeps to, bad files not remembered, concurrent use, and the
// --cache auto budget (GLIA_CACHE_MB, MemAvailable, the refusal message).
#include <atomic>
#include <cstring>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "io/decoded_cache.h"
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

ImagePipeline pipeline(int channels, bool augment) {
  ImagePipeline p;
  p.channels = channels;
  p.height = 20;
  p.width = 24;
  p.normalization = channels == 3 ? Normalization{{0.5f, 0.4f, 0.3f}, {0.2f, 0.25f, 0.3f}} : Normalization{};
  if (augment) p.augmentation = Augmentation::standard(true);
  return p;
}

// Phantoms (gray PNG) plus the colour modes the real data has: an RGB JPEG, an RGBA PNG
// and a 16-bit gray PNG (kept at 16 bits by the cache).
class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_classification_phantoms(dir.str(), 3, 0, 36, 5);
    const std::string folder = dir / "Training/glioma";
    cv::Mat rgb(30, 40, CV_8UC3), rgba(33, 31, CV_8UC4), deep(37, 29, CV_16UC1);
    cv::randu(rgb, 0, 255);
    cv::randu(rgba, 0, 255);
    cv::randu(deep, 0, 65535);
    ASSERT_TRUE(cv::imwrite(folder + "/colour.jpg", rgb));
    ASSERT_TRUE(cv::imwrite(folder + "/alpha.png", rgba));
    ASSERT_TRUE(cv::imwrite(folder + "/deep.png", deep));
    samples = open_classification_dataset(dir.str()).training.samples;
    ASSERT_EQ(samples.size(), 15u);
  }
  test::TempDir dir;
  std::vector<ClassificationSample> samples;
};

TEST_F(CacheTest, BatchesAreBitIdenticalToUncachedOnes) {
  for (int channels : {3, 1}) {
    SCOPED_TRACE("channels " + std::to_string(channels));
    LoaderOptions o;
    o.batch_size = 4;
    o.seed = 31;
    o.workers = 3;
    o.prefetch = 2;
    auto plain = std::make_shared<ClassificationSource>(samples, pipeline(channels, true));
    auto cache = std::make_shared<DecodedCache>();
    auto cached = std::make_shared<ClassificationSource>(samples, pipeline(channels, true), cache);
    // Epoch 0 fills the cache, epochs 1 and 2 come from it: same bits as decoding each time.
    const std::vector<Batch> want = run_epochs(plain, o, 0, 3);
    const std::vector<Batch> got = run_epochs(cached, o, 0, 3);
    expect_same_batches(want, got);
    // A resumed run starts at a later epoch with a cold cache: the same batches again.
    auto cold = std::make_shared<ClassificationSource>(samples, pipeline(channels, true), std::make_shared<DecodedCache>());
    expect_same_batches(std::vector<Batch>(want.begin() + 8, want.end()), run_epochs(cold, o, 2, 1));
  }
}

TEST_F(CacheTest, HitsAfterTheFirstEpochAndNoFileReadsThen) {
  auto cache = std::make_shared<DecodedCache>();
  auto source = std::make_shared<ClassificationSource>(samples, pipeline(3, true), cache);
  LoaderOptions o;
  o.batch_size = 4;
  o.workers = 2;
  Loader loader(source, o);
  auto epoch = [&](uint64_t e) {
    loader.start_epoch(e);
    std::vector<Batch> out;
    Batch b;
    while (loader.next(b)) out.push_back(b);
    return out;
  };
  epoch(0);
  CacheStats s = cache->stats();
  EXPECT_EQ(s.misses, 15u);
  EXPECT_EQ(s.hits, 0u);
  EXPECT_EQ(s.entries, 15u);
  EXPECT_EQ(s.not_stored, 0u);
  // 12 gray phantoms at 20x24 (one byte each), RGB and RGBA (three), 16-bit gray (two).
  EXPECT_EQ(s.bytes, 20u * 24u * (12u * 1u + 2u * 3u + 1u * 2u));
  const std::vector<Batch> second = epoch(1);
  // Remove the files: the next epoch must come from memory alone, and equal the last.
  fs::remove_all(dir / "Training");
  const std::vector<Batch> third = epoch(1);
  expect_same_batches(second, third);
  s = cache->stats();
  EXPECT_EQ(s.misses, 15u);
  EXPECT_EQ(s.hits, 30u);
  // Without a cache the same epoch fails, naming a file.
  auto plain = std::make_shared<ClassificationSource>(samples, pipeline(3, true));
  EXPECT_THROW(run_epochs(plain, o, 1, 1), Error);
}

TEST_F(CacheTest, KeepsToItsCapacityAndStaysCorrect) {
  const size_t one_gray = 20 * 24;
  auto cache = std::make_shared<DecodedCache>(5 * one_gray);
  auto source = std::make_shared<ClassificationSource>(samples, pipeline(3, true), cache);
  auto plain = std::make_shared<ClassificationSource>(samples, pipeline(3, true));
  LoaderOptions o;
  o.batch_size = 4;
  o.workers = 0;
  o.shuffle = false;
  expect_same_batches(run_epochs(plain, o, 0, 2), run_epochs(source, o, 0, 2));
  const CacheStats s = cache->stats();
  EXPECT_LE(s.bytes, 5 * one_gray);
  EXPECT_GE(s.entries, 3u);  // at least the first gray phantoms fit
  EXPECT_LT(s.entries, 15u);
  // Epoch 0 misses everything; epoch 1 hits what was kept and misses the rest again.
  EXPECT_EQ(s.hits, s.entries);
  EXPECT_EQ(s.misses, 15u + (15u - s.entries));
  EXPECT_EQ(s.not_stored, s.misses - s.entries);
}

TEST_F(CacheTest, SharedByPathAndGeometryOnly) {
  auto cache = std::make_shared<DecodedCache>();
  // The training and validation sources of a run share one cache: augmentation differs,
  // the decoded pixels do not.
  auto train = std::make_shared<ClassificationSource>(samples, pipeline(3, true), cache);
  auto val = std::make_shared<ClassificationSource>(samples, pipeline(3, false), cache);
  LoaderOptions o;
  o.batch_size = 8;
  run_epochs(train, o, 0, 1);
  run_epochs(val, o, 0, 1);
  EXPECT_EQ(cache->stats().misses, 15u);
  EXPECT_EQ(cache->stats().hits, 15u);
  // Another size is another entry.
  ImagePipeline bigger = pipeline(3, false);
  bigger.height = 21;
  run_epochs(std::make_shared<ClassificationSource>(samples, bigger, cache), o, 0, 1);
  EXPECT_EQ(cache->stats().entries, 30u);
  EXPECT_NE(cache_key("a.png", pipeline(3, false)), cache_key("a.png", bigger));
}

TEST_F(CacheTest, BadFileFailsEveryEpoch) {
  std::vector<uint8_t> bytes = test::read_bytes(samples[2].path);
  bytes.resize(60);
  test::write_bytes(samples[2].path, bytes);
  auto cache = std::make_shared<DecodedCache>();
  auto source = std::make_shared<ClassificationSource>(samples, pipeline(3, true), cache);
  LoaderOptions o;
  o.batch_size = 4;
  o.workers = 2;
  o.skip_bad = true;
  o.quiet = true;
  Loader loader(source, o);
  for (uint64_t e = 0; e < 2; ++e) {
    loader.start_epoch(e);
    Batch b;
    size_t images = 0;
    while (loader.next(b)) images += static_cast<size_t>(b.n);
    EXPECT_EQ(images, 14u);
  }
  EXPECT_EQ(loader.stats().skipped, 2u);  // once per epoch, as without a cache
  EXPECT_EQ(cache->stats().entries, 14u);
}

TEST(SegmentationCache, MasksCachedAndBatchesBitIdentical) {
  test::TempDir dir;
  write_segmentation_phantoms(dir.str(), 3, 6, 40, 8);
  SegmentationDataset ds = open_segmentation_dataset(dir.str());
  ImagePipeline p = pipeline(3, true);
  auto order = oversample_positive(ds.samples, 3);  // repeats: workers miss the same key at once
  ASSERT_GT(order.size(), ds.samples.size());
  LoaderOptions o;
  o.batch_size = 5;
  o.seed = 77;
  o.workers = 4;
  o.prefetch = 1;
  auto cache = std::make_shared<DecodedCache>();
  const auto want = run_epochs(std::make_shared<SegmentationSource>(ds.samples, p), o, 0, 2, order);
  const auto got = run_epochs(std::make_shared<SegmentationSource>(ds.samples, p, cache), o, 0, 2, order);
  expect_same_batches(want, got);
  const CacheStats s = cache->stats();
  EXPECT_EQ(s.entries, ds.samples.size());
  EXPECT_EQ(s.hits + s.misses, 2 * order.size());
  EXPECT_EQ(s.bytes, ds.samples.size() * 20 * 24 * (3 + 1));  // RGB TIFF + one byte of mask per pixel
  bool any_tumour = false;
  for (const Batch& b : got)
    for (float m : b.masks) {
      ASSERT_TRUE(m == 0.0f || m == 1.0f);
      any_tumour |= m == 1.0f;
    }
  EXPECT_TRUE(any_tumour);
}

TEST(DecodedCacheThreads, ConcurrentGetsAgreeAndAreCounted) {
  DecodedCache cache;
  std::atomic<int> decodes{0};
  constexpr int kThreads = 8, kGets = 400, kKeys = 13;
  std::atomic<bool> wrong{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kGets; ++i) {
        const int key = (i * 7 + t) % kKeys;
        DecodedExample e = cache.get(std::to_string(key), [&] {
          ++decodes;
          DecodedExample d;
          d.image = cv::Mat(3, 5, CV_8UC1, cv::Scalar(key));
          return d;
        });
        if (e.image.rows != 3 || e.image.at<uint8_t>(2, 4) != key) wrong = true;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_FALSE(wrong);
  const CacheStats s = cache.stats();
  EXPECT_EQ(s.hits + s.misses, static_cast<size_t>(kThreads * kGets));
  EXPECT_EQ(s.misses, static_cast<size_t>(decodes.load()));
  EXPECT_GE(s.misses, static_cast<size_t>(kKeys));
  EXPECT_EQ(s.entries, static_cast<size_t>(kKeys));
  EXPECT_EQ(s.bytes, static_cast<size_t>(kKeys) * 15);
}

TEST(CacheBudget, FromEnvironmentOrMemAvailable) {
  const std::string meminfo = "MemTotal:       24684000 kB\nMemFree:  100 kB\nMemAvailable:   8000000 kB\n";
  CacheBudget b = cache_budget_from(nullptr, meminfo);
  EXPECT_EQ(b.bytes, 8000000ull * 1024 / 2);
  EXPECT_NE(b.from.find("half of MemAvailable"), std::string::npos) << b.from;
  b = cache_budget_from("", meminfo);  // empty: as if unset
  EXPECT_EQ(b.bytes, 8000000ull * 1024 / 2);
  b = cache_budget_from("512", meminfo);
  EXPECT_EQ(b.bytes, 512ull << 20);
  EXPECT_EQ(b.from, "GLIA_CACHE_MB=512");
  EXPECT_EQ(cache_budget_from("0", meminfo).bytes, 0u);
  EXPECT_EQ(cache_budget_from(nullptr, "no such line\n").bytes, 0u);
  for (const char* bad : {"12x", "-5", "lots", "1.5"}) {
    try {
      cache_budget_from(bad, meminfo);
      ADD_FAILURE() << "GLIA_CACHE_MB=" << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("GLIA_CACHE_MB"), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(cache_budget().from.size(), 0u);  // this machine's, whatever it is
}

TEST(CacheBudget, PlanFollowsModeAndBudget) {
  ImagePipeline p;
  p.height = p.width = 160;
  const size_t need = estimated_cache_bytes(2000, p, false);
  EXPECT_EQ(need, 2000u * 160 * 160 * 3);
  EXPECT_EQ(estimated_cache_bytes(10, p, true), 10u * 160 * 160 * 4);
  const CacheBudget roomy{need, "GLIA_CACHE_MB=test"}, tight{need - 1, "GLIA_CACHE_MB=test"};
  CachePlan plan = plan_cache(CacheMode::automatic, need, roomy);
  ASSERT_NE(plan.cache, nullptr);
  EXPECT_EQ(plan.cache->capacity(), need);  // the budget also caps it while filling
  EXPECT_NE(plan.message.find("cache: on"), std::string::npos) << plan.message;
  plan = plan_cache(CacheMode::automatic, need, tight);
  EXPECT_EQ(plan.cache, nullptr);
  // The refusal says how much, against what, and what to do about it.
  for (const char* part : {"cache: off", "MiB", "budget", "GLIA_CACHE_MB=test", "--cache ram"})
    EXPECT_NE(plan.message.find(part), std::string::npos) << part << " missing from: " << plan.message;
  plan = plan_cache(CacheMode::ram, need, tight);
  ASSERT_NE(plan.cache, nullptr);
  EXPECT_EQ(plan.cache->capacity(), SIZE_MAX);
  EXPECT_EQ(plan_cache(CacheMode::off, 1, roomy).cache, nullptr);
  EXPECT_EQ(parse_cache_mode("auto"), CacheMode::automatic);
  EXPECT_EQ(parse_cache_mode("ram"), CacheMode::ram);
  EXPECT_EQ(parse_cache_mode("off"), CacheMode::off);
  EXPECT_THROW(parse_cache_mode("disk"), Error);
  EXPECT_STREQ(cache_mode_name(CacheMode::automatic), "auto");
}

}  // namespace
}  // namespace glia::io
