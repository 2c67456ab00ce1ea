// The Trainer on a tiny network and in-memory batches: the loss goes down, the gradient
// guard names the parameter, a run interrupted after its checkpoint and resumed gives
// the same parameters, bit for bit, as an uninterrupted one, and restore-best works.
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>

#include "layers/basic.h"
#include "layers/conv.h"
#include "tensor/autograd.h"
#include "tensor/nn_ops.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "train/classification_trainer.h"
#include "train/trainer.h"
#include "train/checkpoint.h"

namespace glia {
namespace {

// conv 3x3 -> batch norm -> relu -> global pool -> dropout -> linear, plus an optional
// offset added through sqrt (zero offset: finite output, infinite gradient).
class TinyNet : public nn::Module {
 public:
  explicit TinyNet(bool sqrt_offset = false) : Module("TinyNet"), sqrt_offset_(sqrt_offset) {
    conv_ = register_module("conv", std::make_shared<nn::Conv2d>(nn::conv_options(1, 6, 3, 1, 1)));
    bn_ = register_module("bn", std::make_shared<nn::BatchNorm2d>(6));
    drop_ = register_module("drop", std::make_shared<nn::Dropout>(0.25));
    fc_ = register_module("fc", std::make_shared<nn::Linear>(6, 3));
    offset = zeros({3});
    register_parameter("offset", &offset);
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = relu((*bn_)((*conv_)(x)));
    h = (*drop_)(global_avg_pool2d(h).flatten(1));
    Tensor logits = (*fc_)(h);
    return sqrt_offset_ ? logits + sqrt(offset) : logits + offset;
  }
  Tensor offset;

 private:
  bool sqrt_offset_;
  nn::Conv2d* conv_;
  nn::BatchNorm2d* bn_;
  nn::Dropout* drop_;
  nn::Linear* fc_;
};

// Class k images: a bright blob in a class-dependent place, plus noise.
std::vector<io::Batch> make_batches(int batches, int n, uint64_t seed) {
  Generator gen(seed);
  std::vector<io::Batch> out;
  for (int b = 0; b < batches; ++b) {
    io::Batch t;
    t.n = n, t.c = 1, t.h = 9, t.w = 7;
    const std::vector<float> noise = rand({n, 1, 9, 7}, DType::f32, Device::cpu, &gen).to_vector<float>();
    t.images.resize(noise.size());
    for (int i = 0; i < n; ++i) {
      const int label = (b * n + i) % 3;
      t.labels.push_back(label);
      for (int y = 0; y < 9; ++y)
        for (int x = 0; x < 7; ++x) {
          const size_t k = static_cast<size_t>((i * 9 + y) * 7 + x);
          const bool blob = (label == 0 && y < 3) || (label == 1 && y >= 6) || (label == 2 && x >= 2 && x < 5 && y >= 3 && y < 6);
          t.images[k] = 0.3f * noise[k] + (blob ? 1.0f : 0.0f);
        }
    }
    out.push_back(t);
  }
  return out;
}

struct TinyRun {
  std::unique_ptr<TinyNet> model;
  std::unique_ptr<Adam> optimizer;
  // Phase 2's, made by TrainerOptions::fine_tune.start (shared: it outlives moves of the run).
  std::shared_ptr<std::unique_ptr<Adam>> fine_tune_optimizer = std::make_shared<std::unique_ptr<Adam>>();
  std::unique_ptr<ClassificationTask> task;
  std::unique_ptr<Trainer> trainer;
};

TinyRun make_run(const std::string& dir, int epochs, bool sqrt_offset = false, double lr = 0.02,
                 const std::function<void(TrainerOptions&, TinyRun&)>& tweak = {}) {
  manual_seed(7);
  TinyRun r;
  r.model = std::make_unique<TinyNet>(sqrt_offset);
  Adam::Options ao;
  ao.lr = lr;
  ao.weight_decay = 1e-4;
  r.optimizer = std::make_unique<Adam>(r.model->named_parameters(), ao);
  r.task = std::make_unique<ClassificationTask>(3);
  TrainerOptions to;
  to.epochs = epochs;
  to.checkpoint_dir = dir;
  to.model_name = "tiny";
  to.early.patience = 100;
  to.schedule.plateau.patience = 1;  // so the schedule changes within the run and must be restored
  if (tweak) tweak(to, r);
  r.trainer = std::make_unique<Trainer>(*r.model, *r.optimizer, *r.task, to);
  return r;
}

std::string temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("glia_trainer_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.sizes() != b.sizes() || a.dtype() != b.dtype()) return false;
  const Tensor ca = a.detach().contiguous(), cb = b.detach().contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), static_cast<size_t>(ca.numel()) * ca.itemsize()) == 0;
}

TEST(Trainer, LossGoesDownAndValidationAccuracyRises) {
  VectorBatchSource train(make_batches(6, 12, 1)), val(make_batches(2, 15, 2));
  TinyRun r = make_run("", 8);
  const FitResult f = r.trainer->fit(train, &val);
  const auto& h = r.trainer->history();
  ASSERT_EQ(f.epochs_run, 8);
  ASSERT_EQ(h.size(), 8u);
  EXPECT_LT(h.back().loss, h.front().loss);
  EXPECT_LT(h.back().val_loss, h.front().val_loss);
  EXPECT_GT(f.best_metric, 0.8);  // chance is 1/3
  for (size_t i = 0; i < h.size(); ++i) {
    EXPECT_EQ(h[i].epoch, static_cast<int>(i + 1));
    EXPECT_TRUE(std::isfinite(h[i].val_loss));
    EXPECT_GT(h[i].images_per_second, 0);
  }
}

TEST(Trainer, EvaluateStopsAtANonFiniteOutputNamingTheLayer) {
  VectorBatchSource val(make_batches(2, 5, 2));
  TinyRun r = make_run("", 1);
  for (auto& [name, t] : r.model->state_dict())
    if (name == "fc.weight") {
      NoGradGuard no_grad;
      t.data<float>()[4] = std::numeric_limits<float>::quiet_NaN();
    }
  try {
    r.trainer->evaluate(val);
    FAIL() << "evaluation with a NaN weight reported numbers";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("evaluation: the model's output [5, 3]"), std::string::npos) << m;
    EXPECT_NE(m.find("first appears in module 'fc' (Linear"), std::string::npos) << m;
  }
}

TEST(Trainer, GradientGuardNamesTheParameter) {
  VectorBatchSource train(make_batches(2, 6, 3));
  TinyRun r = make_run("", 1, /*sqrt_offset=*/true);
  try {
    r.trainer->fit(train, nullptr);
    FAIL() << "an infinite gradient went unnoticed";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("'offset'"), std::string::npos) << m;
    EXPECT_NE(m.find("inf"), std::string::npos) << m;
    EXPECT_NE(m.find("epoch 1, batch 1"), std::string::npos) << m;
  }
}

TEST(Trainer, NonFiniteLossStopsWithEpochAndBatch) {
  auto batches = make_batches(3, 6, 4);
  batches[1].images[5] = std::nanf("");
  VectorBatchSource train(batches);
  TinyRun r = make_run("", 1);
  try {
    r.trainer->fit(train, nullptr);
    FAIL() << "a NaN loss went unnoticed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("batch 2"), std::string::npos) << e.what();
  }
}

TEST(Trainer, ResumedRunEqualsUninterruptedRunBitForBit) {
  VectorBatchSource train(make_batches(5, 8, 5)), val(make_batches(2, 9, 6));
  const std::string a_dir = temp_dir("a"), b_dir = temp_dir("b");
  TinyRun a = make_run(a_dir, 5);
  a.trainer->fit(train, &val);

  {
    TinyRun b = make_run(b_dir, 5);
    b.trainer->on_progress([&](const ProgressEvent& e) {
      if (e.kind == ProgressEvent::Kind::epoch_end && e.epoch == 3) b.trainer->request_stop();
    });
    const FitResult f = b.trainer->fit(train, &val);
    EXPECT_TRUE(f.interrupted);
    EXPECT_EQ(f.epochs_run, 3);
  }
  // Something else draws from the default generator in between (as a new process would
  // start from another state): resume must restore it.
  manual_seed(12345);
  TinyRun c = make_run(b_dir, 5);
  rand({100});
  c.trainer->resume();
  EXPECT_EQ(c.trainer->epoch(), 3);
  c.trainer->fit(train, &val);

  ASSERT_EQ(a.trainer->history().size(), c.trainer->history().size());
  for (size_t i = 0; i < a.trainer->history().size(); ++i) {
    EXPECT_EQ(a.trainer->history()[i].loss, c.trainer->history()[i].loss) << "epoch " << i + 1;
    EXPECT_EQ(a.trainer->history()[i].lr, c.trainer->history()[i].lr) << "epoch " << i + 1;
  }
  EXPECT_LT(a.trainer->history().back().lr, 0.02) << "the plateau schedule never acted; the test would be weaker";
  const auto pa = a.model->state_dict(), pc = c.model->state_dict();
  ASSERT_EQ(pa.size(), pc.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(same_bits(pa[i].second, pc[i].second)) << pa[i].first;
  // The checkpoints (last: weights before restore-best and optimizer moments; best) agree too.
  for (const char* file : {"/last.ckpt", "/best.ckpt"}) {
    const Checkpoint ka = load_checkpoint(a_dir + file), kc = load_checkpoint(b_dir + file);
    for (const auto* group : {&ka.model_state, &ka.optimizer_tensors}) {
      const auto other = as_map(group == &ka.model_state ? kc.model_state : kc.optimizer_tensors);
      ASSERT_EQ(group->size(), other.size()) << file;
      for (const auto& [name, t] : *group) EXPECT_TRUE(same_bits(t, other.at(name))) << file << " " << name;
    }
  }
  std::filesystem::remove_all(a_dir);
  std::filesystem::remove_all(b_dir);
}

// fp16 (train/grad_scaler.h): with a loss scale far too large, the scaled gradients
// overflow float16 in the backward of the first products, so every step of epoch 1 is
// skipped (the parameters do not move) and the scale halves each time until the
// gradients fit; then training proceeds, and a run stopped and resumed between epochs
// continues with the same scale and clean-step count, bit for bit.
TEST(Trainer, Fp16SkipsOverflowingStepsAndResumesTheScalerExactly) {
  VectorBatchSource train(make_batches(5, 8, 21)), val(make_batches(2, 9, 22));
  auto fp16 = [](TrainerOptions& o, TinyRun&) {
    o.precision = Precision::fp16;
    o.loss_scale.init_scale = std::ldexp(1.0, 24);  // gradients of ~1/8 at the logits: 2^21 > 65504
    o.loss_scale.growth_interval = 3;
  };
  const std::string a_dir = temp_dir("fa"), b_dir = temp_dir("fb");
  TinyRun a = make_run(a_dir, 4, false, 0.02, fp16);
  std::vector<Tensor> start, after_epoch_1;
  for (const auto& p : a.model->named_parameters()) start.push_back(p.second.detach().clone());
  std::string notes;
  a.trainer->on_progress([&](const ProgressEvent& e) {
    if (e.kind != ProgressEvent::Kind::epoch_end || e.epoch != 1) return;
    notes = e.message;
    for (const auto& p : a.model->named_parameters()) after_epoch_1.push_back(p.second.detach().clone());
  });
  a.trainer->fit(train, &val);
  const auto& h = a.trainer->history();
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[0].skipped_steps, 5);
  EXPECT_NE(notes.find("fp16: 5 steps skipped"), std::string::npos) << notes;
  for (size_t i = 0; i < start.size(); ++i) EXPECT_TRUE(same_bits(start[i], after_epoch_1[i])) << "parameter " << i;
  int64_t skipped = 0;
  for (const auto& r : h) skipped += r.skipped_steps;
  EXPECT_LT(h[3].skipped_steps, 5) << "no step of the last epoch was taken";
  EXPECT_EQ(a.trainer->grad_scaler()->skipped_steps(), skipped);
  EXPECT_LT(a.trainer->grad_scaler()->scale(), std::ldexp(1.0, 24));
  EXPECT_LT(h[3].loss, h[1].loss);

  {
    TinyRun b = make_run(b_dir, 4, false, 0.02, fp16);
    b.trainer->on_progress([&](const ProgressEvent& e) {
      if (e.kind == ProgressEvent::Kind::epoch_end && e.epoch == 2) b.trainer->request_stop();
    });
    b.trainer->fit(train, &val);
  }
  TinyRun c = make_run(b_dir, 4, false, 0.02, fp16);
  c.trainer->resume();
  c.trainer->fit(train, &val);
  EXPECT_EQ(c.trainer->grad_scaler()->scale(), a.trainer->grad_scaler()->scale());
  EXPECT_EQ(c.trainer->grad_scaler()->growth_tracker(), a.trainer->grad_scaler()->growth_tracker());
  EXPECT_EQ(c.trainer->grad_scaler()->skipped_steps(), skipped);
  for (size_t i = 0; i < h.size(); ++i)
    EXPECT_EQ(c.trainer->history()[i].skipped_steps, h[i].skipped_steps) << "epoch " << i + 1;
  const auto pa = a.model->state_dict(), pc = c.model->state_dict();
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(same_bits(pa[i].second, pc[i].second)) << pa[i].first;

  // Another precision cannot continue this run.
  TinyRun d = make_run(b_dir, 4, false, 0.02, [](TrainerOptions& o, TinyRun&) { o.precision = Precision::bf16; });
  try {
    d.trainer->resume();
    FAIL() << "a bf16 run resumed an fp16 checkpoint";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("trained with precision fp16, not bf16"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(a_dir);
  std::filesystem::remove_all(b_dir);
}

// An interrupt (TrainerOptions::interrupt, set by the apps' signal handler) stops fit()
// at the next batch boundary, abandoning the epoch in progress; resuming from last.ckpt
// repeats that epoch and ends exactly where an uninterrupted run ends.
TEST(Trainer, InterruptAbandonsTheEpochAndResumeIsBitExact) {
  VectorBatchSource train(make_batches(5, 8, 11)), val(make_batches(2, 9, 12));
  const std::string a_dir = temp_dir("ia"), b_dir = temp_dir("ib");
  TinyRun a = make_run(a_dir, 4);
  a.trainer->fit(train, &val);

  std::atomic<int> interrupt{0};
  {
    TinyRun b = make_run(b_dir, 4);
    TrainerOptions to;
    to.epochs = 4;
    to.checkpoint_dir = b_dir;
    to.model_name = "tiny";
    to.early.patience = 100;
    to.schedule.plateau.patience = 1;
    to.interrupt = &interrupt;
    b.trainer = std::make_unique<Trainer>(*b.model, *b.optimizer, *b.task, to);
    b.trainer->on_progress([&](const ProgressEvent& e) {
      if (e.kind == ProgressEvent::Kind::batch_end && e.epoch == 3 && e.batch == 2) interrupt = SIGINT;
    });
    try {
      b.trainer->fit(train, &val);
      FAIL() << "the interrupt was ignored";
    } catch (const TrainingInterrupted& e) {
      EXPECT_EQ(e.signal, SIGINT);
      EXPECT_EQ(e.epochs_done, 2);
      EXPECT_EQ(e.batch, 2u);
      EXPECT_EQ(e.batches, 5u);
      EXPECT_EQ(e.phase, "training");
      EXPECT_EQ(e.checkpoint_dir, b_dir);
    }
    EXPECT_EQ(b.trainer->epoch(), 2);
    EXPECT_EQ(b.trainer->history().size(), 2u);
  }
  manual_seed(999);
  TinyRun c = make_run(b_dir, 4);
  c.trainer->resume();
  EXPECT_EQ(c.trainer->epoch(), 2);
  c.trainer->fit(train, &val);
  const auto pa = a.model->state_dict(), pc = c.model->state_dict();
  ASSERT_EQ(pa.size(), pc.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(same_bits(pa[i].second, pc[i].second)) << pa[i].first;
  std::filesystem::remove_all(a_dir);
  std::filesystem::remove_all(b_dir);
}

TEST(Trainer, InterruptDuringValidationOrEvaluationNamesThePhase) {
  VectorBatchSource train(make_batches(3, 6, 13)), val(make_batches(2, 6, 14));
  std::atomic<int> interrupt{0};
  TinyRun r = make_run("", 3);
  TrainerOptions to;
  to.epochs = 3;
  to.interrupt = &interrupt;
  r.trainer = std::make_unique<Trainer>(*r.model, *r.optimizer, *r.task, to);
  // After the last training batch of epoch 2: the next boundary is in its validation.
  r.trainer->on_progress([&](const ProgressEvent& e) {
    if (e.kind == ProgressEvent::Kind::batch_end && e.epoch == 2 && e.batch == e.batches) interrupt = SIGTERM;
  });
  try {
    r.trainer->fit(train, &val);
    FAIL() << "the interrupt was ignored";
  } catch (const TrainingInterrupted& e) {
    EXPECT_EQ(e.phase, "validation");
    EXPECT_EQ(e.epochs_done, 1);
    EXPECT_EQ(e.signal, SIGTERM);
  }
  try {
    r.trainer->evaluate(val);
    FAIL() << "the interrupt was ignored";
  } catch (const TrainingInterrupted& e) {
    EXPECT_EQ(e.phase, "evaluation");
  }
  interrupt = 0;
  EXPECT_NO_THROW(r.trainer->evaluate(val));
}

TEST(Trainer, RestoresTheBestWeightsAtTheEnd) {
  VectorBatchSource train(make_batches(4, 8, 8)), val(make_batches(2, 9, 9));
  const std::string dir = temp_dir("best");
  TinyRun r = make_run(dir, 4, false, 0.05);
  const FitResult f = r.trainer->fit(train, &val);
  ASSERT_GE(f.best_epoch, 1);
  const auto best = as_map(load_checkpoint(dir + "/best.ckpt").model_state);
  for (const auto& [name, t] : r.model->state_dict()) EXPECT_TRUE(same_bits(t, best.at(name))) << name;
  std::filesystem::remove_all(dir);
}

TEST(Trainer, ResumeRefusesAnotherModel) {
  VectorBatchSource train(make_batches(2, 6, 10));
  const std::string dir = temp_dir("other");
  TinyRun r = make_run(dir, 1);
  r.trainer->fit(train, nullptr);
  manual_seed(1);
  nn::Sequential other;
  other.add(std::make_shared<nn::Linear>(4, 2));
  Adam opt(other.named_parameters(), Adam::Options{});
  ClassificationTask task(2);
  TrainerOptions to;
  to.checkpoint_dir = dir;
  to.model_name = "tiny";
  Trainer t(other, opt, task, to);
  try {
    t.resume();
    FAIL() << "a checkpoint of another network was loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not fit this model"), std::string::npos) << e.what();
  }
  to.model_name = "something-else";
  Trainer t2(other, opt, task, to);
  EXPECT_THROW(t2.resume(), Error);
  std::filesystem::remove_all(dir);
}

// ---- schedules, fine-tuning phase, time budget -----------------------------------------

// Runs `make` uninterrupted, and again stopped after epoch `stop_after` (its checkpoint
// written) and resumed by a fresh trainer; both must end with the same bits.
void expect_resume_bit_exact(const std::function<TinyRun(const std::string&)>& make, int stop_after,
                             const std::string& tag) {
  VectorBatchSource train(make_batches(4, 8, 21)), val(make_batches(2, 9, 22));
  const std::string a_dir = temp_dir(tag + "_a"), b_dir = temp_dir(tag + "_b");
  TinyRun a = make(a_dir);
  a.trainer->fit(train, &val);
  {
    TinyRun b = make(b_dir);
    b.trainer->on_progress([&](const ProgressEvent& e) {
      if (e.kind == ProgressEvent::Kind::epoch_end && e.epoch == stop_after) b.trainer->request_stop();
    });
    const FitResult f = b.trainer->fit(train, &val);
    EXPECT_EQ(f.stopped, StopReason::interrupted) << tag;
  }
  manual_seed(999);
  TinyRun c = make(b_dir);
  c.trainer->resume();
  EXPECT_EQ(c.trainer->epoch(), stop_after) << tag;
  c.trainer->fit(train, &val);
  const auto& ha = a.trainer->history();
  const auto& hc = c.trainer->history();
  ASSERT_EQ(ha.size(), hc.size()) << tag;
  for (size_t i = 0; i < ha.size(); ++i) {
    EXPECT_EQ(ha[i].loss, hc[i].loss) << tag << " epoch " << i + 1;
    EXPECT_EQ(ha[i].lr, hc[i].lr) << tag << " epoch " << i + 1;
    EXPECT_EQ(ha[i].phase, hc[i].phase) << tag << " epoch " << i + 1;
  }
  const auto pa = a.model->state_dict(), pc = c.model->state_dict();
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(same_bits(pa[i].second, pc[i].second)) << tag << " " << pa[i].first;
  const Checkpoint ka = load_checkpoint(a_dir + "/last.ckpt"), kc = load_checkpoint(b_dir + "/last.ckpt");
  const auto kc_opt = as_map(kc.optimizer_tensors);
  ASSERT_EQ(ka.optimizer_tensors.size(), kc_opt.size()) << tag;
  for (const auto& [name, t] : ka.optimizer_tensors) EXPECT_TRUE(same_bits(t, kc_opt.at(name))) << tag << " " << name;
  std::filesystem::remove_all(a_dir);
  std::filesystem::remove_all(b_dir);
}

TEST(Trainer, CosineAndOneCycleResumeBitForBit) {
  for (LrScheduleKind kind : {LrScheduleKind::cosine, LrScheduleKind::onecycle}) {
    auto make = [kind](const std::string& dir) {
      return make_run(dir, 5, false, 0.02, [kind](TrainerOptions& to, TinyRun&) {
        to.schedule.kind = kind;
        if (kind == LrScheduleKind::cosine) to.schedule.warmup_epochs = 1.5;
      });
    };
    expect_resume_bit_exact(make, 2, lr_schedule_name(kind));
  }
}

// TinyNet with conv + bn as the frozen "base"; phase 2 unfreezes them with a fresh Adam.
TinyRun make_fine_tune_run(const std::string& dir) {
  return make_run(dir, 2, false, 0.02, [](TrainerOptions& to, TinyRun& r) {
    r.model->child("conv")->freeze(true);
    r.model->child("bn")->freeze(true);
    NamedTensors head;
    for (auto& [name, p] : r.model->named_parameters())
      if (p.requires_grad()) head.emplace_back(name, p);
    r.optimizer = std::make_unique<Adam>(head, Adam::Options{0.02, 0.9, 0.999, 1e-8, 1e-4, false});
    to.schedule.warmup_epochs = 0.5;
    to.fine_tune.epochs = 3;
    TinyNet* model = r.model.get();
    auto slot = r.fine_tune_optimizer;
    to.fine_tune.start = [model, slot]() -> Optimizer& {
      model->child("conv")->freeze(false);
      model->child("bn")->freeze(false);
      *slot = std::make_unique<Adam>(model->named_parameters(), Adam::Options{0.004, 0.9, 0.999, 1e-8, 1e-4, false});
      return **slot;
    };
  });
}

TEST(Trainer, FineTuningPhaseStartsFromTheBestWeightsWithItsOwnOptimizerAndSchedule) {
  VectorBatchSource train(make_batches(4, 8, 21)), val(make_batches(2, 9, 22));
  const std::string dir = temp_dir("phases");
  TinyRun r = make_fine_tune_run(dir);
  const Tensor conv_before = r.model->child("conv")->state_dict().front().second.clone();
  bool checked_start = false;
  r.trainer->on_progress([&](const ProgressEvent& e) {
    if (e.kind != ProgressEvent::Kind::epoch_end || e.epoch != 2) return;
    // Phase 1 is over: the base did not move, and phase 2 starts from the best weights.
    EXPECT_TRUE(same_bits(r.model->child("conv")->state_dict().front().second, conv_before));
    const auto best = as_map(load_checkpoint(dir + "/best.ckpt").model_state);
    for (const auto& [name, t] : r.model->state_dict()) EXPECT_TRUE(same_bits(t, best.at(name))) << name;
    EXPECT_EQ(r.trainer->phase(), 2);
    EXPECT_NE(e.message.find("phase 2"), std::string::npos) << e.message;
    checked_start = true;
  });
  const FitResult f = r.trainer->fit(train, &val);
  EXPECT_TRUE(checked_start);
  EXPECT_EQ(f.epochs_run, 5);
  const auto& h = r.trainer->history();
  ASSERT_EQ(h.size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(h[i].phase, i < 2 ? 1 : 2) << "epoch " << i + 1;
  // Each phase warms up from 1% of its own rate (half an epoch = 2 steps).
  EXPECT_DOUBLE_EQ(h[0].lr, 0.02 * 0.01);
  EXPECT_DOUBLE_EQ(h[2].lr, 0.004 * 0.01);
  ASSERT_TRUE(*r.fine_tune_optimizer);
  EXPECT_EQ((*r.fine_tune_optimizer)->params().size(), r.model->named_parameters().size());
  const Checkpoint last = load_checkpoint(dir + "/last.ckpt");
  EXPECT_EQ(last.trainer_state.at("phase").as_integer(), 2);
  EXPECT_EQ(last.trainer_state.at("phase_start_epoch").as_integer(), 2);
  std::filesystem::remove_all(dir);
}

TEST(Trainer, FineTuningResumesBitForBitAtThePhaseBoundaryAndInsidePhaseTwo) {
  expect_resume_bit_exact(make_fine_tune_run, 2, "boundary");
  expect_resume_bit_exact(make_fine_tune_run, 4, "phase2");
}

// Every batch "takes" 5 s on an injected clock: an epoch of 2 batches is 10 s.
TEST(Trainer, TimeLimitStartsNoEpochWithLessThanHalfAMeanEpochLeftAndCountsAcrossResume) {
  VectorBatchSource train(make_batches(2, 6, 31)), val(make_batches(1, 9, 32));
  for (const auto& [limit, expected] : {std::pair<double, int>{25, 3}, {24, 2}, {5, 1}}) {
    double clock = 100;
    TinyRun r = make_run("", 10, false, 0.02, [&](TrainerOptions& to, TinyRun&) {
      to.time_limit_seconds = limit;
      to.clock = [&clock] { return clock; };
    });
    r.trainer->on_progress([&](const ProgressEvent& e) {
      if (e.kind == ProgressEvent::Kind::batch_end) clock += 5;
    });
    const FitResult f = r.trainer->fit(train, &val);
    EXPECT_EQ(f.epochs_run, expected) << "limit " << limit;
    EXPECT_EQ(f.stopped, StopReason::time_limit) << "limit " << limit;
  }
  // The budget covers the whole run: 20 s spent before the resume leave 15 of 35.
  const std::string dir = temp_dir("budget");
  double clock = 0;
  auto make = [&](double limit) {
    TinyRun r = make_run(dir, 10, false, 0.02, [&](TrainerOptions& to, TinyRun&) {
      to.time_limit_seconds = limit;
      to.clock = [&clock] { return clock; };
    });
    r.trainer->on_progress([&](const ProgressEvent& e) {
      if (e.kind == ProgressEvent::Kind::batch_end) clock += 5;
    });
    return r;
  };
  {
    TinyRun first = make(24);
    EXPECT_EQ(first.trainer->fit(train, &val).epochs_run, 2);
  }
  clock = 5000;  // another process's clock
  TinyRun second = make(35);
  second.trainer->resume();
  const FitResult f = second.trainer->fit(train, &val);
  EXPECT_EQ(f.epochs_run, 4);  // epochs start at 20 and 30 s of the run's time
  EXPECT_EQ(f.stopped, StopReason::time_limit);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace glia
