// CPU softmax family: what the cross-backend harness (tests/kernels_ops) does not check, i.e.
// huge logits, values recorded from PyTorch, and the errors' wording.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/softmax.h"
#include "tests/support/random_data.h"

namespace glia::kernels {
namespace {

TEST(SoftmaxStability, HugeLogitsStayFinite) {
  const std::vector<float> x = {1000.f, 999.f, -1000.f, 1000.f};
  std::vector<float> y(4, NAN), ly(4, NAN);
  SoftmaxParams p;
  p.dim = 4;
  p.x = x.data();
  p.y = y.data();
  cpu::softmax(p);
  p.log = true;
  p.y = ly.data();
  cpu::softmax(p);
  const double e = std::exp(-1.0), z = 2 + e;
  EXPECT_LE(test::max_rel_error(y, {1 / z, e / z, 0, 1 / z}, 1e-6), 1e-6);
  EXPECT_LE(test::max_rel_error(ly, {-std::log(z), -1 - std::log(z), -2000 - std::log(z), -std::log(z)}, 1.0), 1e-6);
}

// Values printed by PyTorch 1.13: F.cross_entropy(logits, target, label_smoothing=...,
// reduction='none') for logits [[1,2,3],[0.5,-1,2]] in float64.
TEST(CrossEntropyPyTorch, MatchesRecordedValues) {
  const std::vector<double> logits = {1, 2, 3, 0.5, -1, 2};
  const std::vector<int64_t> index = {0, 2};
  const std::vector<double> prob = {0.2, 0.3, 0.5, 0.6, 0.4, 0.0};
  std::vector<double> loss(2, NAN);
  CrossEntropyParams p;
  p.dtype = DType::f64;
  p.n = 2;
  p.classes = 3;
  p.logits = logits.data();
  p.target_index = index.data();
  p.label_smoothing = 0.1;
  p.loss = loss.data();
  cpu::cross_entropy(p);
  EXPECT_LE(test::max_rel_error(loss, {2.3076059644443805, 0.391311296657157}), 1e-12);
  p.target_index = nullptr;
  p.target_prob = prob.data();
  p.label_smoothing = 0.2;
  cpu::cross_entropy(p);
  EXPECT_LE(test::max_rel_error(loss, {1.1676059644443804, 2.221311296657157}), 1e-12);
}

TEST(CrossEntropyErrors, BadTargetIndexNamesIndexAndSample) {
  const std::vector<float> logits(15, 0.5f);
  std::vector<float> loss(3);
  for (int64_t bad : {int64_t{5}, int64_t{-1}}) {
    const std::vector<int64_t> index = {0, 4, bad};
    CrossEntropyParams p;
    p.n = 3;
    p.classes = 5;
    p.logits = logits.data();
    p.target_index = index.data();
    p.loss = loss.data();
    try {
      cpu::cross_entropy(p);
      ADD_FAILURE() << "expected an error for target " << bad;
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("target index " + std::to_string(bad)), std::string::npos) << msg;
      EXPECT_NE(msg.find("sample 2"), std::string::npos) << msg;
    }
  }
  CrossEntropyParams p;
  p.dtype = DType::u8;
  p.n = 1;
  p.classes = 1;
  try {
    cpu::cross_entropy(p);
    ADD_FAILURE() << "expected an error for uint8";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("uint8"), std::string::npos) << e.what();
  }
}

TEST(BceWithLogitsStability, HugeLogitsGiveFiniteLosses) {
  // |x| = 100: the naive form overflows/underflows, the stable one gives ~|x| or ~0
  const std::vector<float> big = {100, -100}, target = {0, 1};
  std::vector<float> big_loss(2, NAN);
  BceWithLogitsParams p;
  p.n = 2;
  p.logits = big.data();
  p.target = target.data();
  p.loss = big_loss.data();
  cpu::bce_with_logits(p);
  EXPECT_LE(test::max_rel_error(big_loss, {100.0, 100.0}), 1e-6);
}

}  // namespace
}  // namespace glia::kernels
