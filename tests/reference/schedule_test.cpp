// glia's learning-rate schedules (train/lr_schedule.h) against torch.optim.lr_scheduler
// sequences written by tools/make_schedule_refs.py (generated at test time by the
// reference.generate_schedules fixture): cosine with and without warmup, warmup alone,
// OneCycleLR's rates and Adam beta1, and the plateau rule, whose Keras counting equals
// PyTorch's with one epoch less patience (and one less of cooldown).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tensor/safetensors.h"
#include "train/lr_schedule.h"
#include "train/optimizer.h"

namespace glia {
namespace {

constexpr double kBase = 1e-3;
constexpr int64_t kStepsPerEpoch = 10;
constexpr int kEpochs = 5;

std::string schedule_ref_path() {
  const char* dir = std::getenv("GLIA_REF_DIR");
  return std::string(dir && *dir ? dir : GLIA_DEFAULT_REF_DIR) + "/schedules.safetensors";
}

std::vector<double> load(const SafetensorsReader& r, const std::string& name) {
  const SafetensorsEntry& e = r.entry(name);
  EXPECT_EQ(e.dtype, DType::f64) << name;
  std::vector<double> v(static_cast<size_t>(e.numel()));
  std::memcpy(v.data(), r.data(e), v.size() * sizeof(double));
  return v;
}

// The rate (and momentum) of each optimizer step of a 5-epoch, 10-step-per-epoch phase.
void per_step(LrScheduleOptions o, std::vector<double>& lr, std::vector<double>& momentum) {
  LrSchedule s(o, kBase);
  s.plan(kStepsPerEpoch, kEpochs);
  for (int64_t i = 0; i < kStepsPerEpoch * kEpochs; ++i) {
    lr.push_back(s.lr());
    momentum.push_back(s.momentum());
    s.step_done();
  }
}

void expect_close(const std::vector<double>& actual, const std::vector<double>& expected, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < actual.size(); ++i)
    EXPECT_NEAR(actual[i], expected[i], 1e-12 * std::abs(expected[i]) + 1e-20) << what << " step " << i;
}

TEST(ScheduleVsTorch, PerStepFamilies) {
  SafetensorsReader refs(schedule_ref_path());  // missing file is an error, never a skip
  struct Case {
    const char* name;
    LrScheduleKind kind;
    double warmup_epochs, min_lr;
  };
  for (const Case& c : {Case{"cosine", LrScheduleKind::cosine, 0, -1},
                        Case{"cosine_warmup", LrScheduleKind::cosine, 1.5, 1e-5},
                        Case{"constant_warmup", LrScheduleKind::constant, 1.5, -1},
                        Case{"onecycle", LrScheduleKind::onecycle, 0, -1},
                        Case{"onecycle_min", LrScheduleKind::onecycle, 0, 1e-6}}) {
    LrScheduleOptions o;
    o.kind = c.kind;
    o.warmup_epochs = c.warmup_epochs;
    o.min_lr = c.min_lr;
    std::vector<double> lr, momentum;
    per_step(o, lr, momentum);
    expect_close(lr, load(refs, std::string(c.name) + ".lr"), c.name);
    if (c.kind == LrScheduleKind::onecycle) expect_close(momentum, load(refs, std::string(c.name) + ".beta1"), c.name);
  }
}

TEST(ScheduleVsTorch, OneCycleCyclesAdamBeta1) {
  SafetensorsReader refs(schedule_ref_path());
  const std::vector<double> beta1 = load(refs, "onecycle.beta1");
  LrScheduleOptions o;
  o.kind = LrScheduleKind::onecycle;
  LrSchedule s(o, kBase);
  s.plan(kStepsPerEpoch, kEpochs);
  Adam adam({}, Adam::Options{});
  for (size_t i = 0; i < beta1.size(); ++i) {
    s.apply(adam);
    EXPECT_NEAR(adam.options().beta1, beta1[i], 1e-12) << "step " << i;
    s.step_done();
  }
}

// The plateau rate after each epoch of the reference metric sequence.
std::vector<double> plateau_rates(const std::vector<double>& metric, int patience, int cooldown) {
  LrScheduleOptions o;
  o.kind = LrScheduleKind::plateau;
  o.plateau.monitor = Monitor{"val_accuracy", MonitorMode::max, 1e-4};
  o.plateau.patience = patience;
  o.plateau.cooldown = cooldown;
  LrSchedule s(o, kBase);
  s.plan(1, static_cast<int>(metric.size()));
  std::vector<double> out;
  for (double m : metric) {
    s.end_epoch(m);
    out.push_back(s.lr());
  }
  return out;
}

TEST(ScheduleVsTorch, KerasPlateauIsPyTorchWithOneEpochLessPatience) {
  SafetensorsReader refs(schedule_ref_path());
  const std::vector<double> metric = load(refs, "plateau.metric");
  const std::vector<double> keras = plateau_rates(metric, 2, 0);
  const std::vector<double> torch_p1 = load(refs, "plateau_torch_p1_c0.lr");
  ASSERT_EQ(keras.size(), torch_p1.size());
  for (size_t i = 0; i < keras.size(); ++i) EXPECT_DOUBLE_EQ(keras[i], torch_p1[i]) << "epoch " << i + 1;
  const std::vector<double> keras_c2 = plateau_rates(metric, 2, 2), torch_p1_c1 = load(refs, "plateau_torch_p1_c1.lr");
  for (size_t i = 0; i < keras.size(); ++i) EXPECT_DOUBLE_EQ(keras_c2[i], torch_p1_c1[i]) << "epoch " << i + 1;

  // With the same numbers (patience 2) PyTorch cuts later and ends higher: the difference
  // the README describes.
  const std::vector<double> torch_p2 = load(refs, "plateau_torch_p2_c0.lr");
  auto first_cut = [](const std::vector<double>& v) {
    for (size_t i = 0; i < v.size(); ++i)
      if (v[i] < kBase) return i;
    return v.size();
  };
  EXPECT_LT(first_cut(keras), first_cut(torch_p2));
  EXPECT_LT(keras.back(), torch_p2.back());
}

}  // namespace
}  // namespace glia
