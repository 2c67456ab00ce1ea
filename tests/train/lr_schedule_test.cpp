// The learning-rate schedules (train/lr_schedule.h) against hand-computed closed forms:
// warmup, cosine, one-cycle end points, plateau counting only after warmup, and a state
// that round-trips mid-run to the same sequence bit for bit. (tests/reference/
// schedule_test.cpp compares whole sequences with PyTorch's schedulers.)
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/error.h"
#include "train/lr_schedule.h"
#include "train/optimizer.h"
#include "train/trainer_checkpoint.h"

namespace glia {
namespace {

const double kPi = std::acos(-1.0);

LrScheduleOptions options(LrScheduleKind kind, double warmup_epochs = 0, double min_lr = -1) {
  LrScheduleOptions o;
  o.kind = kind;
  o.warmup_epochs = warmup_epochs;
  o.min_lr = min_lr;
  o.plateau.monitor = Monitor{"val_accuracy", MonitorMode::max, 0};
  return o;
}

TEST(LrSchedule, WarmupRisesLinearlyFromOnePercentThenHolds) {
  LrSchedule s(options(LrScheduleKind::constant, 1.5), 0.2);
  s.plan(4, 3);  // 12 steps, warmup round(1.5 * 4) = 6
  ASSERT_EQ(s.warmup_steps(), 6);
  for (int t = 0; t < 12; ++t) {
    const double expected = t < 6 ? 0.2 * (0.01 + 0.99 * t / 6.0) : 0.2;
    EXPECT_NEAR(s.lr(), expected, 1e-15) << "step " << t;
    EXPECT_TRUE(std::isnan(s.momentum()));
    s.step_done();
  }
}

TEST(LrSchedule, CosineDecaysPerStepToMinLr) {
  LrSchedule s(options(LrScheduleKind::cosine, 0, 1e-4), 1e-2);
  s.plan(5, 4);  // 20 steps
  std::vector<double> lr;
  for (int t = 0; t < 20; ++t, s.step_done()) lr.push_back(s.lr());
  EXPECT_DOUBLE_EQ(lr[0], 1e-2);
  EXPECT_NEAR(lr[10], (1e-2 + 1e-4) / 2, 1e-15);  // half way
  EXPECT_NEAR(lr[19], 1e-4 + (1e-2 - 1e-4) * (1 + std::cos(kPi * 19 / 20)) / 2, 1e-15);
  for (int t = 1; t < 20; ++t) EXPECT_LT(lr[t], lr[t - 1]) << "step " << t;
  EXPECT_GT(lr[19], 1e-4);  // the floor is where step 20 would be
}

TEST(LrSchedule, CosineWithWarmupStartsItsDecayAfterTheWarmup) {
  LrSchedule s(options(LrScheduleKind::cosine, 1), 1.0);
  s.plan(10, 3);  // 30 steps, 10 of warmup, then 20 of cosine to 0
  for (int t = 0; t < 30; ++t, s.step_done()) {
    const double expected = t < 10 ? 0.01 + 0.99 * t / 10.0 : (1 + std::cos(kPi * (t - 10) / 20.0)) / 2;
    EXPECT_NEAR(s.lr(), expected, 1e-14) << "step " << t;
  }
}

TEST(LrSchedule, OneCycleRisesFromLrOver25ToLrThenFallsAndCyclesMomentum) {
  LrSchedule s(options(LrScheduleKind::onecycle), 1e-3);
  s.plan(10, 2);  // 20 steps; PyTorch: the rise ends at step 0.3 * 20 - 1 = 5
  std::vector<double> lr, m;
  for (int t = 0; t < 20; ++t, s.step_done()) lr.push_back(s.lr()), m.push_back(s.momentum());
  EXPECT_NEAR(lr[0], 1e-3 / 25, 1e-18);
  EXPECT_NEAR(lr[5], 1e-3, 1e-18);
  EXPECT_NEAR(lr[19], 1e-3 / 25 / 1e4, 1e-20);
  EXPECT_NEAR(m[0], 0.95, 1e-15);
  EXPECT_NEAR(m[5], 0.85, 1e-15);
  EXPECT_NEAR(m[19], 0.95, 1e-15);
  for (int t = 1; t <= 5; ++t) EXPECT_GT(lr[t], lr[t - 1]);
  for (int t = 6; t < 20; ++t) EXPECT_LT(lr[t], lr[t - 1]);
  Adam adam({}, Adam::Options{});
  s.apply(adam);  // past the end: stays at the last step's values
  EXPECT_NEAR(adam.lr(), lr[19], 1e-20);
  EXPECT_NEAR(adam.options().beta1, 0.95, 1e-15);
}

TEST(LrSchedule, PlateauIgnoresEpochsEndingInsideTheWarmup) {
  LrScheduleOptions o = options(LrScheduleKind::plateau, 2);
  o.plateau.patience = 1;
  LrSchedule s(o, 1.0);
  s.plan(3, 6);  // warmup: 6 steps = 2 epochs
  auto epoch = [&](double metric) {
    for (int i = 0; i < 3; ++i) s.step_done();
    return s.end_epoch(metric);
  };
  EXPECT_FALSE(epoch(0.5));
  EXPECT_FALSE(epoch(0.4));  // inside the warmup: would have cut with patience 1
  EXPECT_FALSE(epoch(0.6));
  EXPECT_TRUE(epoch(0.6));   // first epoch without improvement after the warmup
  EXPECT_DOUBLE_EQ(s.lr(), 0.3);
}

TEST(LrSchedule, StateRoundTripContinuesBitForBit) {
  for (LrScheduleKind kind :
       {LrScheduleKind::plateau, LrScheduleKind::cosine, LrScheduleKind::onecycle, LrScheduleKind::constant}) {
    LrScheduleOptions o = options(kind, kind == LrScheduleKind::onecycle ? 0 : 0.5);
    o.plateau.patience = 1;
    const std::vector<double> metric = {0.3, 0.4, 0.4, 0.35, 0.5, 0.5, 0.5, 0.45};
    auto run = [&](LrSchedule& s, size_t from, size_t to, std::vector<double>& out) {
      for (size_t e = from; e < to; ++e) {
        for (int i = 0; i < 7; ++i, s.step_done()) out.push_back(s.lr());
        s.end_epoch(metric[e]);
      }
    };
    std::vector<double> a, b;
    LrSchedule whole(o, 3e-3);
    whole.plan(7, 8);
    run(whole, 0, 8, a);
    LrSchedule first(o, 3e-3);
    first.plan(7, 8);
    run(first, 0, 3, b);
    const Json saved = Json::parse(exact_json(first.state()));  // as the trainer's checkpoint holds it
    LrSchedule second(o, 3e-3);
    second.load_state(saved);
    second.plan(7, 8);
    run(second, 3, 8, b);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << lr_schedule_name(kind) << " step " << i;
    if (kind == LrScheduleKind::plateau) {
      EXPECT_LT(a.back(), 3e-3) << "the plateau never acted";
    }
  }
}

TEST(LrSchedule, BadOptionsAndStatesAreRefusedWithTheirNames) {
  EXPECT_THROW(parse_lr_schedule("step"), Error);
  EXPECT_EQ(parse_lr_schedule("onecycle"), LrScheduleKind::onecycle);
  EXPECT_THROW(LrSchedule(options(LrScheduleKind::onecycle, 1), 1e-3), Error);
  EXPECT_THROW(LrSchedule(options(LrScheduleKind::cosine, 0, 1e-2), 1e-3), Error);  // floor above the rate
  LrSchedule cosine(options(LrScheduleKind::cosine), 1e-3);
  LrSchedule plateau(options(LrScheduleKind::plateau), 1e-3);
  try {
    plateau.load_state(cosine.state());
    FAIL() << "a cosine state loaded into a plateau schedule";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("'cosine'"), std::string::npos) << m;
    EXPECT_NE(m.find("'plateau'"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace glia
