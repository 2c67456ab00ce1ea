// Loader throughput on the real classification data (../shared/data/brain-tumor-mri or
// $GLIA_DATA/brain-tumor-mri): read + decode + resize to 240x240 (area) + the standard
// augmentation (rotation, flips, zoom, translation, brightness/contrast) + NCHW batches
// of 32, with 1 and 2 worker threads. One iteration = one batch handed to the consumer,
// which does nothing with it, so the figure is what the workers can sustain. The
// cached_ cases start from a full decoded-image cache (io/decoded_cache.h).
//   bench_loader --benchmark_min_time=20
#include <benchmark/benchmark.h>

#include <sys/resource.h>

#include <cstdlib>
#include <filesystem>
#include <memory>

#include "io/classification_dataset.h"
#include "io/loader.h"

namespace {

namespace fs = std::filesystem;
using namespace glia::io;

// CPU seconds of the whole process (all threads): with the machine shared, the CPU time
// per image is the steadier figure; images/s is what a training run would see.
double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

std::string data_root() {
  if (const char* env = std::getenv("GLIA_DATA")) return env;
  if (const char* src = std::getenv("GLIA_SOURCE_DIR")) return (fs::path(src) / ".." / "shared" / "data").string();
  return (fs::path(__FILE__).parent_path() / ".." / ".." / "shared" / "data").lexically_normal().string();
}

// Opened once for all benchmarks; null when the data is absent.
const ClassificationDataset* dataset() {
  static std::unique_ptr<ClassificationDataset> ds = []() -> std::unique_ptr<ClassificationDataset> {
    fs::path root = fs::path(data_root()) / "brain-tumor-mri";
    if (!fs::is_directory(root)) return nullptr;
    return std::make_unique<ClassificationDataset>(open_classification_dataset(root.string()));
  }();
  return ds.get();
}

void BM_ClassificationLoader(benchmark::State& state, bool augment, bool cached) {
  const ClassificationDataset* ds = dataset();
  if (!ds) {
    state.SkipWithError(("real data not found at " + data_root() +
                         "/brain-tumor-mri; set GLIA_DATA to the folder holding brain-tumor-mri/")
                            .c_str());
    return;
  }
  ImagePipeline pipeline;
  pipeline.channels = 3;
  pipeline.height = pipeline.width = 240;
  pipeline.interpolation = Interpolation::area;
  if (augment) pipeline.augmentation = Augmentation::standard(true);
  // cached: every image decoded once into a DecodedCache before timing (epochs 2+ of
  // `glia train-cls`), so only the float conversion, augmentation and batching remain.
  std::shared_ptr<DecodedCache> cache = cached ? std::make_shared<DecodedCache>() : nullptr;
  auto source = std::make_shared<ClassificationSource>(ds->training.samples, pipeline, cache);
  LoaderOptions options;
  options.batch_size = 32;
  options.workers = static_cast<int>(state.range(0));
  options.seed = 1;
  Loader loader(source, options);
  uint64_t epoch = 0;
  if (cached) {
    loader.start_epoch(epoch++);
    Batch warm;
    while (loader.next(warm)) {
    }
  }
  size_t images = 0;
  const double cpu_start = process_cpu_seconds();
  loader.start_epoch(epoch);
  Batch batch;
  for (auto _ : state) {
    if (!loader.next(batch)) {
      loader.start_epoch(++epoch);
      loader.next(batch);
    }
    images += static_cast<size_t>(batch.n);
    benchmark::DoNotOptimize(batch.images.data());
  }
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(images), benchmark::Counter::kIsRate);
  state.counters["workers"] = static_cast<double>(options.workers);
  if (images > 0) state.counters["cpu_ms/image"] = 1e3 * (process_cpu_seconds() - cpu_start) / static_cast<double>(images);
}

BENCHMARK_CAPTURE(BM_ClassificationLoader, augment_240, true, false)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ClassificationLoader, plain_240, false, false)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ClassificationLoader, cached_augment_240, true, true)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
