// Small training runs on phantoms (io/phantom.h) for tests that compare how two
// configurations train (tests/apps/amp_training_test.cpp, tests/reference_lite): batches of
// the four classes in turn, and a fit-then-validate run from a seeded initialisation.
// Header-only: only test areas that link glia_io include it.
#pragma once
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <vector>

#include "io/phantom.h"
#include "tensor/random.h"
#include "train/batch_source.h"
#include "train/classification_trainer.h"
#include "train/segmentation_trainer.h"
#include "train/trainer.h"

namespace glia::test {

// Phantoms of the four classes in turn, as batches of `n` 3-channel images of `size` px.
inline std::vector<io::Batch> phantom_batches(int batches, int n, int size, uint64_t seed, bool masks) {
  std::vector<io::Batch> out;
  int index = 0;
  for (int b = 0; b < batches; ++b) {
    io::Batch t;
    t.n = n, t.c = 3, t.h = size, t.w = size;
    for (int i = 0; i < n; ++i, ++index) {
      io::PhantomSpec spec;
      spec.label = index % 4;
      spec.size = size;
      spec.seed = seed;
      spec.anatomy_id = static_cast<uint64_t>(index);
      spec.noise_id = static_cast<uint64_t>(index);
      const io::Phantom p = io::make_phantom(spec);
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < size; ++y)
          for (int x = 0; x < size; ++x) t.images.push_back(p.image.at<float>(y, x));
      if (masks) {
        for (int y = 0; y < size; ++y)
          for (int x = 0; x < size; ++x) t.masks.push_back(p.mask.at<uint8_t>(y, x) ? 1.f : 0.f);
        t.labels.push_back(-1);
      } else {
        t.labels.push_back(p.label);
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

// Trains a fresh model (made after seeding the global generator with `seed`) for `epochs`
// with Adam at `lr` on a cosine schedule, no early stopping, and returns the task's
// metric on `val`.
template <class MakeModel>
double train_and_validate(Precision precision, MakeModel make_model, TrainTask& task, BatchSource& train,
                          BatchSource& val, int epochs, double lr, uint64_t seed) {
  manual_seed(seed);
  auto model = make_model();
  Adam::Options ao;
  ao.lr = lr;
  Adam optimizer(model->named_parameters(), ao);
  TrainerOptions o;
  o.epochs = epochs;
  o.precision = precision;
  o.early_stopping = false;
  o.restore_best_weights = false;
  o.schedule.kind = LrScheduleKind::cosine;  // settles at the end: the comparison is of converged runs
  Trainer trainer(*model, optimizer, task, o);
  trainer.fit(train, nullptr);
  return metric_value(trainer.evaluate(val), task.metric_name());
}

// fp32 against bf16 over several seeds (the same seed gives both precisions the same
// initialisation and batches): the means of the metric and fp32's lowest, with a line
// per seed on stdout.
struct PrecisionComparison {
  double fp32 = 0, bf16 = 0, fp32_lowest = 1;
};
template <class MakeModel>
PrecisionComparison compare_fp32_bf16(MakeModel make_model, TrainTask& task, BatchSource& train, BatchSource& val,
                                      int epochs, double lr, const std::vector<uint64_t>& seeds) {
  PrecisionComparison c;
  for (uint64_t seed : seeds) {
    const double fp32 = train_and_validate(Precision::fp32, make_model, task, train, val, epochs, lr, seed);
    const double bf16 = train_and_validate(Precision::bf16, make_model, task, train, val, epochs, lr, seed);
    std::cout << "  seed " << seed << ": validation " << task.metric_name() << " fp32 " << fp32 << ", bf16 " << bf16
              << std::endl;
    c.fp32 += fp32 / static_cast<double>(seeds.size());
    c.bf16 += bf16 / static_cast<double>(seeds.size());
    c.fp32_lowest = std::min(c.fp32_lowest, fp32);
  }
  std::cout << "  mean over " << seeds.size() << " seeds: fp32 " << c.fp32 << ", bf16 " << c.bf16 << std::endl;
  return c;
}

}  // namespace glia::test
