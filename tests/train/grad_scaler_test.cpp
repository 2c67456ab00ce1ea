// The fp16 loss scaler against torch.cuda.amp.GradScaler's rules, stated here by hand:
// skip and halve on NaN/inf, double after growth_interval clean steps, exact unscaling,
// and a state that round-trips so a resumed run scales exactly as an unbroken one.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/error.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "train/grad_scaler.h"

namespace glia {
namespace {

// One parameter whose gradient is `grad` (as a backward would leave it).
NamedTensors param_with_grad(const std::vector<float>& grad) {
  Tensor p = zeros({static_cast<int64_t>(grad.size())}).requires_grad_();
  p.set_grad(from_vector<float>(grad));
  return {{"w", p}};
}

TEST(GradScaler, StartsAtTwoToTheSixteenAndScalesTheLoss) {
  GradScaler s;
  EXPECT_EQ(s.scale(), 65536.0);
  EXPECT_EQ(s.scale_loss(scalar_tensor(0.75)).item<double>(), 0.75 * 65536.0);
}

TEST(GradScaler, UnscalesExactlyAndReportsFinite) {
  GradScaler s;
  // Values with long mantissas: dividing by a power of two must give them back bit for bit.
  const std::vector<float> g = {0.1f, -3.3333333f, 1e-30f, 7.0f};
  std::vector<float> scaled;
  for (float v : g) scaled.push_back(v * 65536.0f);
  NamedTensors params = param_with_grad(scaled);
  params.push_back({"frozen", zeros({2})});  // no gradient: left alone
  EXPECT_TRUE(s.unscale(params));
  EXPECT_EQ(params[0].second.grad().to_vector<float>(), g);
}

TEST(GradScaler, NonFiniteGradientSkipsTheStepAndHalvesTheScale) {
  GradScaler::Options o;
  o.growth_interval = 3;
  GradScaler s(o);
  for (float bad : {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                    std::numeric_limits<float>::quiet_NaN()}) {
    NamedTensors params = param_with_grad({1.0f, bad});
    const double before = s.scale();
    const bool finite = s.unscale(params);
    EXPECT_FALSE(finite) << bad;
    s.update(!finite);
    EXPECT_EQ(s.scale(), before / 2);
    EXPECT_EQ(s.growth_tracker(), 0);
  }
  EXPECT_EQ(s.skipped_steps(), 3);
  EXPECT_EQ(s.scale(), 8192.0);
}

TEST(GradScaler, GrowsAfterGrowthIntervalCleanStepsAndAnOverflowRestartsTheCount) {
  GradScaler::Options o;
  o.growth_interval = 3;
  GradScaler s(o);
  s.update(false);
  s.update(false);
  EXPECT_EQ(s.scale(), 65536.0);
  EXPECT_EQ(s.growth_tracker(), 2);
  s.update(true);  // the count restarts
  EXPECT_EQ(s.scale(), 32768.0);
  s.update(false);
  s.update(false);
  EXPECT_EQ(s.scale(), 32768.0);
  s.update(false);
  EXPECT_EQ(s.scale(), 65536.0);
  EXPECT_EQ(s.growth_tracker(), 0);
}

TEST(GradScaler, DefaultGrowthIntervalIsPyTorchs2000) {
  GradScaler s;
  for (int i = 0; i < 1999; ++i) s.update(false);
  EXPECT_EQ(s.scale(), 65536.0);
  s.update(false);
  EXPECT_EQ(s.scale(), 131072.0);
}

TEST(GradScaler, StateRoundTripsSoAResumedScalerContinuesIdentically) {
  GradScaler::Options o;
  o.growth_interval = 4;
  GradScaler a(o);
  for (bool inf : {true, false, false, true, false, false, false}) a.update(inf);
  GradScaler b(o);
  b.load_state(Json::parse(a.state().dump()));
  EXPECT_EQ(b.scale(), a.scale());
  EXPECT_EQ(b.growth_tracker(), a.growth_tracker());
  EXPECT_EQ(b.skipped_steps(), a.skipped_steps());
  for (bool inf : {false, false, true, false}) {
    a.update(inf);
    b.update(inf);
    EXPECT_EQ(b.scale(), a.scale());
    EXPECT_EQ(b.growth_tracker(), a.growth_tracker());
  }
}

TEST(GradScaler, GradientsNonFiniteAtEveryScaleStopWithAMessage) {
  GradScaler s;
  try {
    for (int i = 0; i < 100; ++i) s.update(true);
    FAIL() << "no error after 100 skipped steps";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("steps in a row"), std::string::npos) << e.what();
  }
}

TEST(GradScaler, BadOptionsAndStateAreNamed) {
  GradScaler::Options o;
  o.growth_interval = 0;
  EXPECT_THROW(GradScaler{o}, Error);
  o = GradScaler::Options{};
  o.backoff_factor = 1.5;
  EXPECT_THROW(GradScaler{o}, Error);
  GradScaler s;
  try {
    s.load_state(Json::parse(R"({"scale": "65536"})"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("growth_tracker"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace glia
