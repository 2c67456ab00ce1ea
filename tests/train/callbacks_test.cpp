// ReduceLROnPlateau and EarlyStopping against Keras's rules, stepped by hand.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/error.h"
#include "train/callbacks.h"

namespace glia {
namespace {

ReduceLROnPlateau::Options max_accuracy(int patience, int cooldown = 0, double min_lr = 0) {
  ReduceLROnPlateau::Options o;
  o.monitor = {"val_accuracy", MonitorMode::max, 0};
  o.patience = patience;
  o.cooldown = cooldown;
  o.min_lr = min_lr;
  return o;
}

TEST(ReduceLROnPlateau, LowersByFactorAfterPatienceEpochsWithoutImprovement) {
  ReduceLROnPlateau s(max_accuracy(2));
  std::vector<double> acc = {0.5, 0.6, 0.6, 0.6, 0.7, 0.65, 0.64, 0.63};
  // epoch:                   0    1    2    3(-)  4    5    6(-)  7
  std::vector<double> expected = {1e-3, 1e-3, 1e-3, 3e-4, 3e-4, 3e-4, 9e-5, 9e-5};
  double lr = 1e-3;
  for (size_t e = 0; e < acc.size(); ++e) {
    lr = s.step(acc[e], lr);
    EXPECT_NEAR(lr, expected[e], 1e-12) << "epoch " << e;
  }
}

TEST(ReduceLROnPlateau, CooldownSkipsCountingAndMinLrClamps) {
  // Keras checks the cooldown again after counting it down: a cooldown of c leaves out
  // c - 1 epochs, so 1 changes nothing.
  ReduceLROnPlateau no_cooldown(max_accuracy(1, 1));
  double lr1 = 1e-3;
  for (double v : {0.5, 0.4, 0.4}) lr1 = no_cooldown.step(v, lr1);
  EXPECT_NEAR(lr1, 9e-5, 1e-15);
  ReduceLROnPlateau s(max_accuracy(1, 2, 2e-4));
  double lr = 1e-3;
  std::vector<double> lrs;
  for (double v : {0.5, 0.4, 0.4, 0.4, 0.4, 0.4}) lrs.push_back(lr = s.step(v, lr));
  // reductions at epochs 1 and 3 (epoch 2 is cooldown); at 5 the clamp holds lr at min_lr.
  EXPECT_NEAR(lrs[0], 1e-3, 1e-15);
  EXPECT_NEAR(lrs[1], 3e-4, 1e-15);
  EXPECT_NEAR(lrs[2], 3e-4, 1e-15);
  EXPECT_NEAR(lrs[3], 2e-4, 1e-15);
  EXPECT_NEAR(lrs[5], 2e-4, 1e-15);
}

TEST(ReduceLROnPlateau, MinDeltaDecidesWhatCountsAsImprovement) {
  ReduceLROnPlateau::Options o;  // val_loss, min, min_delta 1e-4, patience 2
  ReduceLROnPlateau s(o);
  double lr = 1.0;
  lr = s.step(1.0, lr);
  lr = s.step(0.99995, lr);  // better by less than min_delta: no improvement
  lr = s.step(0.99990, lr);
  EXPECT_NEAR(lr, 0.3, 1e-15);
  EXPECT_THROW(ReduceLROnPlateau(ReduceLROnPlateau::Options{{}, 1.5, 2, 0, 0}), Error);
}

TEST(ReduceLROnPlateau, StateRoundTripContinuesIdentically) {
  std::vector<double> acc = {0.5, 0.6, 0.6, 0.55, 0.6, 0.6, 0.59};
  ReduceLROnPlateau whole(max_accuracy(2));
  double lr_whole = 1e-3;
  for (double v : acc) lr_whole = whole.step(v, lr_whole);

  ReduceLROnPlateau first(max_accuracy(2));
  double lr = 1e-3;
  for (size_t e = 0; e < 3; ++e) lr = first.step(acc[e], lr);
  ReduceLROnPlateau resumed(max_accuracy(2));
  resumed.load_state(Json::parse(first.state().dump()));
  for (size_t e = 3; e < acc.size(); ++e) lr = resumed.step(acc[e], lr);
  EXPECT_EQ(lr, lr_whole);
}

TEST(EarlyStopping, StopsAfterPatienceEpochsWithoutImprovement) {
  EarlyStopping es({{"val_accuracy", MonitorMode::max, 0}, 2});
  EXPECT_FALSE(es.step(0.5, 0));
  EXPECT_TRUE(es.improved_last_step());
  EXPECT_FALSE(es.step(0.6, 1));
  EXPECT_FALSE(es.step(0.6, 2));  // equal is not better
  EXPECT_FALSE(es.improved_last_step());
  EXPECT_TRUE(es.step(0.55, 3));
  EXPECT_DOUBLE_EQ(es.best(), 0.6);
  EXPECT_EQ(es.best_epoch(), 1);
}

TEST(EarlyStopping, StateSurvivesJsonEvenBeforeAnyEpoch) {
  EarlyStopping fresh({{"val_loss", MonitorMode::min, 0}, 1});
  EarlyStopping loaded({{"val_loss", MonitorMode::min, 0}, 1});
  loaded.load_state(Json::parse(fresh.state().dump()));  // best = +inf stored as null
  EXPECT_FALSE(loaded.step(3.0, 0));
  EXPECT_TRUE(loaded.step(3.0, 1));
  EXPECT_THROW(parse_monitor_mode("up"), Error);
}

}  // namespace
}  // namespace glia
