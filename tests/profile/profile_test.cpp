// The profiler (kernels/profile.h) and `glia profile` (apps/profile.h) on small networks:
// spans nest, the table adds up to the measured step time, the ops' FLOPs equal
// `glia info`'s count, and the trace is valid trace-event JSON whose spans nest.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "apps/app.h"
#include "apps/profile.h"
#include "kernels/profile.h"
#include "kernels/profile_timeline.h"
#include "layers/module.h"
#include "tensor/json.h"
#include "tensor/ops.h"
#include "train/losses.h"
#include "train/optimizer.h"

namespace glia {
namespace {

app::ProfileOptions small_unet() {
  app::ProfileOptions o;
  o.model = "unet", o.width = 8, o.depth = 2, o.image_size = 32, o.batch_size = 2, o.steps = 2, o.warmup = 1;
  return o;
}

double forward_matmul_flops(const app::ProfileReport& r) {
  double flops = 0;
  for (const auto& row : r.rows)
    if (row.pass == "forward" && (row.op == "conv2d" || row.op == "conv_transpose2d" || row.op == "gemm"))
      flops += row.flops;
  return flops / r.steps;
}

TEST(Profiler, RecordsNothingWhenOffOrOnAnotherThread) {
  const Tensor a = ones({4, 4}), b = ones({4, 4});
  EXPECT_FALSE(prof::on());
  (void)(a + b);  // no recording: nothing to see, and nothing may break
  prof::start(Device::cpu);
  bool other_thread_on = true;
  std::thread t([&] {
    other_thread_on = prof::on();
    (void)(a * b);  // a loader thread's ops stay out of the profile
  });
  t.join();
  (void)(a + b);
  const std::vector<prof::Span> spans = prof::stop();
  EXPECT_FALSE(other_thread_on);
  EXPECT_FALSE(prof::on());
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].name, "binary");
  EXPECT_EQ(spans[0].kind, prof::Kind::op);
  EXPECT_DOUBLE_EQ(spans[0].flops, 16);
  EXPECT_DOUBLE_EQ(spans[0].bytes, 3 * 16 * 4);
  EXPECT_TRUE(prof::stop().empty());
}

// The backward's accumulation into a leaf's .grad runs in no node of a layer; it must
// still land in a layer: the one that used the leaf (a parameter's module), or the
// "(autograd)" pseudo-layer for a leaf first used outside every layer.
TEST(Profiler, GradientAccumulationIsAttributedToTheLeafsLayer) {
  const Tensor w = ones({4, 4}).requires_grad_();  // a parameter of layer "block.lin"
  const Tensor x = ones({4, 4}).requires_grad_();  // an input, used outside every layer
  prof::start(Device::cpu);
  Tensor loss;
  {
    prof::Scope pass(prof::Kind::pass, "forward");
    Tensor h;
    {
      prof::Scope layer(prof::Kind::layer, "block.lin");
      h = w * 3.0;
    }
    loss = sum(h * x);
  }
  {
    prof::Scope pass(prof::Kind::pass, "backward");
    loss.backward();
  }
  const std::vector<prof::Span> spans = prof::stop();
  ASSERT_TRUE(w.grad().defined() && x.grad().defined());
  // Accumulation makes each leaf's .grad a private copy: the only copies of this backward.
  std::vector<std::string> copy_layers;
  for (const prof::Span& s : spans)
    if (s.kind == prof::Kind::op && s.pass == "backward" && s.name == "copy") copy_layers.push_back(s.layer);
  std::sort(copy_layers.begin(), copy_layers.end());
  EXPECT_EQ(copy_layers, (std::vector<std::string>{prof::kAutogradLayer, "block.lin"}));
  // The rows of the table carry the same paths (no accumulation under an empty path).
  for (const prof::Row& r : prof::aggregate(spans)) {
    if (r.pass == "backward" && r.op == "copy") {
      EXPECT_FALSE(r.layer.empty());
    }
  }
}

// The recorder's timing logic, as it runs on cuda (events), with a scripted timeline:
// mark i happens at 10 * i us. Every span end is one mark; nothing waits while recording
// (on cuda a wait would serialise the host with the GPU after every op); stop() waits
// once and only then reads the marks' times.
struct TimelineLog {
  int begins = 0, marks = 0, finishes = 0, early_reads = 0;
};
class ScriptedTimeline : public prof::Timeline {
 public:
  explicit ScriptedTimeline(std::shared_ptr<TimelineLog> log) : log_(std::move(log)) {}
  void begin() override { ++log_->begins; }
  int mark() override { return log_->marks++; }
  void finish() override { ++log_->finishes; }
  double at_us(int mark) override {
    if (log_->finishes == 0) ++log_->early_reads;
    return 10.0 * mark;
  }

 private:
  std::shared_ptr<TimelineLog> log_;
};

TEST(Profiler, SpansComeFromTimelineMarksWithOneWaitAtTheEnd) {
  auto log = std::make_shared<TimelineLog>();
  prof::start_with(Device::cpu, std::make_unique<ScriptedTimeline>(log));
  EXPECT_EQ(log->begins, 1);
  {
    prof::Scope step(prof::Kind::step, "step");  // marks 0 and 7
    {
      prof::Scope pass(prof::Kind::pass, "forward");  // marks 1 and 6
      (void)(ones({2, 2}) + ones({2, 2}));             // fills: marks 2, 3; binary: marks 4, 5
    }
  }
  const int marks_while_recording = log->marks;
  EXPECT_EQ(log->finishes, 0) << "the recorder waited while recording";
  const std::vector<prof::Span> spans = prof::stop();
  EXPECT_EQ(log->finishes, 1);
  EXPECT_EQ(log->early_reads, 0) << "a mark's time was read before the wait";
  EXPECT_EQ(log->marks, marks_while_recording) << "stop() made marks of its own";
  EXPECT_EQ(marks_while_recording, 2 * static_cast<int>(spans.size()));
  ASSERT_GE(spans.size(), 3u);
  EXPECT_EQ(spans.front().name, "step");
  EXPECT_DOUBLE_EQ(spans.front().start_us, 0.0);
  EXPECT_DOUBLE_EQ(spans.front().dur_us, 10.0 * (marks_while_recording - 1));
  EXPECT_EQ(spans[1].name, "forward");
  EXPECT_DOUBLE_EQ(spans[1].start_us, 10.0);
  EXPECT_DOUBLE_EQ(spans[1].dur_us, 10.0 * (marks_while_recording - 3));
  const prof::Span& last_op = spans.back();
  EXPECT_EQ(last_op.name, "binary");
  EXPECT_DOUBLE_EQ(last_op.start_us, 10.0 * (marks_while_recording - 4));
  EXPECT_DOUBLE_EQ(last_op.dur_us, 10.0);
}

TEST(Profiler, RefusesASecondRecording) {
  prof::start(Device::cpu);
  EXPECT_THROW(prof::start(Device::cpu), Error);
  prof::stop();
}

TEST(Profiler, AggregateSplitsPassTimeIntoOpsAndTheRest) {
  // step 0..100 us: forward 0..60 (layer "a" with two ops of 10 and 25 us), backward
  // 60..90 (one op of 25 us); 10 us of the step outside any pass.
  std::vector<prof::Span> s(6);
  s[0] = {prof::Kind::step, "step", -1, 0, 100, 0, 0, "", ""};
  s[1] = {prof::Kind::pass, "forward", 0, 0, 60, 0, 0, "", ""};
  s[2] = {prof::Kind::layer, "a", 1, 5, 40, 0, 0, "", "forward"};
  s[3] = {prof::Kind::op, "conv2d", 2, 5, 10, 100, 10, "a", "forward"};
  s[4] = {prof::Kind::op, "conv2d", 2, 20, 25, 100, 10, "a", "forward"};
  s[5] = {prof::Kind::op, "gemm", 1, 60, 25, 50, 5, "", "backward"};
  s.push_back({prof::Kind::pass, "backward", 0, 60, 30, 0, 0, "", ""});
  s[5].parent = 6;
  const auto rows = prof::aggregate(s);
  auto find = [&](const std::string& op, const std::string& pass) {
    for (const auto& r : rows)
      if (r.op == op && r.pass == pass) return r;
    ADD_FAILURE() << "no row " << op << " / " << pass;
    return prof::Row{};
  };
  EXPECT_EQ(find("conv2d", "forward").calls, 2);
  EXPECT_DOUBLE_EQ(find("conv2d", "forward").total_us, 35);
  EXPECT_DOUBLE_EQ(find("conv2d", "forward").flops, 200);
  EXPECT_DOUBLE_EQ(find("(outside kernels)", "forward").total_us, 25);
  EXPECT_DOUBLE_EQ(find("(outside kernels)", "backward").total_us, 5);
  EXPECT_DOUBLE_EQ(find("(outside passes)", "").total_us, 10);
  double sum = 0;
  for (const auto& r : rows) sum += r.total_us;
  EXPECT_DOUBLE_EQ(sum, 100);
  EXPECT_EQ(rows.front().op, "conv2d");  // longest first
}

// The table adds up to the step time measured outside the profiler. Tolerance: 5 % plus
// 0.2 ms per step (the clock reads and span bookkeeping between the test's clock and the
// step span). The kernels must also hold most of the step (at least half on this
// conv-heavy network), or the attribution is broken.
TEST(Profile, TableSumsToTheMeasuredStepTime) {
  manual_seed(3);
  app::ModelSpec spec;
  spec.kind = "unet", spec.width = 8, spec.depth = 2, spec.image_size = 32;
  auto model = app::build_model(spec, 3);
  model->train();
  const Tensor x = randn({2, 3, 32, 32});
  const Tensor target = bernoulli({2, 1, 32, 32}, 0.3);
  Adam optimizer(model->named_parameters(), Adam::Options{});
  auto step = [&] {
    prof::Scope span(prof::Kind::step, "step");
    Tensor loss;
    {
      prof::Scope pass(prof::Kind::pass, "forward");
      loss = bce_dice_loss((*model)(x), target);
    }
    {
      prof::Scope pass(prof::Kind::pass, "backward");
      loss.backward();
    }
    {
      prof::Scope pass(prof::Kind::pass, "optimizer");
      optimizer.step();
      optimizer.zero_grad();
    }
  };
  step();
  nn::ProfileLayers names(*model);
  prof::start(Device::cpu);
  double measured_us = 0;
  const int steps = 3;
  for (int i = 0; i < steps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    measured_us += std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  }
  const auto spans = prof::stop();
  const auto rows = prof::aggregate(spans);
  double table_us = 0, ops_us = 0;
  for (const auto& r : rows) {
    table_us += r.total_us;
    if (r.op.front() != '(') ops_us += r.total_us;
  }
  EXPECT_NEAR(table_us, measured_us, 0.05 * measured_us + 200.0 * steps);
  EXPECT_LE(ops_us, table_us);
  EXPECT_GE(ops_us, 0.5 * table_us) << "kernels hold " << ops_us << " of " << table_us << " us";
  // Every pass's ops are attributed to a layer of the model, the backward's included.
  bool backward_conv_in_layer = false;
  for (const auto& r : rows)
    if (r.op == "conv2d_backward_weight" && r.pass == "backward" && r.layer.find("conv") != std::string::npos)
      backward_conv_in_layer = true;
  EXPECT_TRUE(backward_conv_in_layer);
}

TEST(Profile, ReportRowsAddUpToItsStepTime) {
  const app::ProfileReport r = app::run_profile(small_unet());
  double sum = 0;
  for (const auto& row : r.rows) sum += row.total_us;
  EXPECT_NEAR(sum / r.steps, r.step_us, 1e-6 * r.step_us);
  EXPECT_GT(r.images_per_second(), 0);
  EXPECT_GT(r.mfu(), 0);
  const std::string table = app::format_profile(r, 10);
  EXPECT_NE(table.find("images/s"), std::string::npos);
  EXPECT_NE(table.find("MFU"), std::string::npos);
  EXPECT_NE(table.find("conv2d"), std::string::npos);
}

// `glia info` counts 2 x the multiply-adds of conv, transposed conv and linear layers
// (nn::summarize); the forward pass's conv2d, conv_transpose2d and gemm calls must count
// exactly that, for a U-Net (transposed convs) and an EfficientNet (depthwise, SE, the
// linear head); training for the U-Net (the backward's convs must not count as forward).
TEST(Profile, ForwardFlopsEqualInfosCount) {
  struct Case {
    std::string model;
    int size;
    bool inference;
  };
  for (const Case& c : {Case{"unet", 32, false}, Case{"unet", 32, true}, Case{"b0", 64, true}}) {
    SCOPED_TRACE(c.model + (c.inference ? " inference" : " training"));
    app::ProfileOptions o = small_unet();
    o.model = c.model, o.image_size = c.size, o.inference = c.inference, o.steps = 1, o.warmup = 0;
    const app::ProfileReport r = app::run_profile(o);
    app::ModelSpec spec;
    spec.kind = c.model == "unet" ? "unet" : "classifier";
    spec.variant = c.model, spec.width = o.width, spec.depth = o.depth, spec.image_size = c.size;
    auto model = app::build_model(spec, 0);
    const double info_flops = 2.0 * double(nn::summarize(*model, {o.batch_size, 3, c.size, c.size}).total_macs);
    ASSERT_GT(info_flops, 0);
    EXPECT_NEAR(forward_matmul_flops(r), info_flops, 1e-9 * info_flops);
  }
}

TEST(Profile, TraceIsValidTraceEventJsonAndSpansNest) {
  app::ProfileOptions o = small_unet();
  o.trace = (std::filesystem::temp_directory_path() / ("glia_profile_trace_" + std::to_string(::getpid()) + ".json"))
                .string();
  const app::ProfileReport r = app::run_profile(o);
  prof::write_chrome_trace(o.trace, r.spans);
  std::ifstream in(o.trace);
  std::stringstream text;
  text << in.rdbuf();
  std::filesystem::remove(o.trace);
  const Json doc = Json::parse(text.str(), o.trace);
  ASSERT_TRUE(doc.contains("traceEvents"));
  const Json& events = doc.at("traceEvents");
  ASSERT_TRUE(events.is_array());
  struct Ev {
    std::string name, cat;
    double ts, end;
  };
  std::vector<Ev> xs;
  for (const Json& e : events.items()) {
    ASSERT_TRUE(e.is_object());
    ASSERT_TRUE(e.at("name").is_string());
    const std::string ph = e.at("ph").as_string();
    ASSERT_TRUE(ph == "X" || ph == "M") << ph;
    EXPECT_TRUE(e.at("pid").is_number());
    EXPECT_TRUE(e.at("tid").is_number());
    if (ph != "X") continue;
    const double ts = e.at("ts").as_number(), dur = e.at("dur").as_number();
    EXPECT_GE(dur, 0);
    xs.push_back({e.at("name").as_string(), e.at("cat").as_string(), ts, ts + dur});
  }
  ASSERT_EQ(xs.size(), r.spans.size());
  // Nesting: in start order (the longer first on a tie) each span lies inside the
  // innermost span still open; and the kinds nest step > pass > layer > op.
  std::stable_sort(xs.begin(), xs.end(),
                   [](const Ev& a, const Ev& b) { return a.ts != b.ts ? a.ts < b.ts : a.end > b.end; });
  auto rank = [](const std::string& cat) { return cat == "step" ? 0 : cat == "pass" ? 1 : cat == "layer" ? 2 : 3; };
  std::vector<const Ev*> open;
  int ops_under_layers = 0, steps = 0;
  const double slop = 1e-3;  // microseconds: printed precision
  for (const Ev& e : xs) {
    while (!open.empty() && open.back()->end <= e.ts + slop) open.pop_back();
    if (!open.empty()) {
      EXPECT_LE(e.end, open.back()->end + slop) << e.name << " overlaps " << open.back()->name;
      EXPECT_LE(rank(open.back()->cat), rank(e.cat)) << e.cat << " " << e.name << " inside " << open.back()->cat;
      if (e.cat == "op" && open.back()->cat == "layer") ++ops_under_layers;
    } else {
      EXPECT_EQ(e.cat, "step") << e.name << " outside every step";
    }
    steps += e.cat == "step";
    open.push_back(&e);
  }
  EXPECT_EQ(steps, o.steps);
  EXPECT_GT(ops_under_layers, 0);
}

TEST(Profile, BadFlagsAreUsageErrors) {
  app::ProfileOptions o = small_unet();
  o.steps = 0;
  EXPECT_THROW(app::run_profile(o), app::UsageError);
  o = small_unet();
  o.batch_size = 0;
  EXPECT_THROW(app::run_profile(o), app::UsageError);
  o = small_unet();
  o.device = "tpu";
  EXPECT_THROW(app::run_profile(o), app::UsageError);
  // Output folders are checked before anything runs.
  o = small_unet();
  o.trace = "/nonexistent-glia-folder/trace.json";
  EXPECT_THROW(app::profile(o), app::UsageError);
  o = small_unet();
  o.roofline = "/nonexistent-glia-folder/roofline.png";
  EXPECT_THROW(app::profile(o), app::UsageError);
}

}  // namespace
}  // namespace glia
