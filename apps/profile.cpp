// glia profile (see profile.h).
#include "apps/profile.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "apps/app.h"
#include "apps/roofline.h"
#include "kernels/runtime.h"
#include "tensor/autograd.h"
#include "tensor/random.h"
#include "train/losses.h"
#include "train/optimizer.h"

namespace glia::app {
namespace {

ModelSpec spec_of(const ProfileOptions& o) {
  return model_spec_from_flags(o.model, o.width, o.depth, o.image_size);
}

std::string fixed(double v, int precision) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", precision, v);
  return buf;
}

}  // namespace

double roofline_fraction(const prof::Row& row, const kernels::Ceilings& c) {
  if (row.total_us <= 0 || c.peak_gflops <= 0 || c.stream_gbs <= 0) return 0;
  const double gflops = row.flops / (row.total_us * 1e3), gbs = row.bytes / (row.total_us * 1e3);
  if (row.flops > 0 && row.bytes > 0) return gflops / std::min(c.peak_gflops, row.flops / row.bytes * c.stream_gbs);
  if (row.flops > 0) return gflops / c.peak_gflops;
  return gbs / c.stream_gbs;
}

ProfileReport run_profile(const ProfileOptions& o) {
  GLIA_USAGE_CHECK(o.batch_size >= 1, "--batch-size " << o.batch_size << " must be >= 1");
  GLIA_USAGE_CHECK(o.steps >= 1, "--steps " << o.steps << " must be >= 1");
  GLIA_USAGE_CHECK(o.warmup >= 0, "--warmup " << o.warmup << " must be >= 0");
  const Device device = parse_device_flag(o.device);
  set_threads(o.threads);
  const ModelSpec spec = spec_of(o);
  auto model = build_model(spec, o.seed);
  const int64_t b = o.batch_size, size = spec.image_size;

  ProfileReport r;
  r.model = spec.to_string();
  r.device = o.device;
  r.batch = o.batch_size;
  r.steps = o.steps;
  r.inference = o.inference;
  // `glia info`'s count, at batch 1 on the cpu (multiply-adds grow linearly with the batch).
  r.forward_flops = 2.0 * double(nn::summarize(*model, {1, 3, size, size}).total_macs) * double(b);
  r.model_flops = (o.inference ? 1.0 : 3.0) * r.forward_flops;  // backward ~ 2 x forward
  r.ceilings = kernels::ceilings(device);

  model->to(device);
  model->train(!o.inference);
  Generator gen(o.seed + 1);
  const Tensor x = randn({b, 3, size, size}, DType::f32, device, &gen);
  Tensor target;
  if (spec.kind == "unet") {
    target = bernoulli({b, 1, size, size}, 0.3, DType::f32, device, &gen);  // a 0/1 mask
  } else {
    std::vector<int64_t> labels;
    for (int64_t i = 0; i < b; ++i) labels.push_back(i % 4);
    target = from_vector<int64_t>(labels, {b}, device);
  }
  Adam optimizer(model->named_parameters(), Adam::Options{});
  auto loss_of = [&](const Tensor& out) {
    return spec.kind == "unet" ? bce_dice_loss(out, target) : categorical_cross_entropy(out, target);
  };
  auto step = [&] {
    prof::Scope step_span(prof::Kind::step, "step");
    if (o.inference) {
      NoGradGuard no_grad;
      prof::Scope pass(prof::Kind::pass, "forward");
      (void)(*model)(x);
      return;
    }
    Tensor loss;
    {
      prof::Scope pass(prof::Kind::pass, "forward");
      loss = loss_of((*model)(x));
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

  for (int i = 0; i < o.warmup; ++i) step();
  nn::ProfileLayers layer_names(*model);
  prof::start(device);
  try {
    for (int i = 0; i < o.steps; ++i) step();
  } catch (...) {
    prof::stop();
    throw;
  }
  r.spans = prof::stop();
  double steps_us = 0;
  for (const auto& s : r.spans)
    if (s.kind == prof::Kind::step) steps_us += s.dur_us;
  r.step_us = steps_us / o.steps;
  r.rows = prof::aggregate(r.spans);
  return r;
}

std::string format_profile(const ProfileReport& r, int top) {
  std::ostringstream os;
  const double total_us = r.step_us * r.steps;
  os << "profile " << r.model << " on " << r.device << ", batch " << r.batch << ", "
     << (r.inference ? "inference" : "training") << ", " << r.steps << " recorded step" << (r.steps == 1 ? "" : "s")
     << "\n";
  os << "step " << fixed(r.step_us / 1e3, 2) << " ms, " << fixed(r.images_per_second(), 1) << " images/s, model "
     << fixed(r.model_flops / 1e9, 2) << " GFLOP per step (" << (r.inference ? "forward" : "3 x forward")
     << "), MFU " << fixed(100 * r.mfu(), 1) << " % of " << fixed(r.ceilings.peak_gflops, 1) << " GFLOP/s; "
     << "memory ceiling " << fixed(r.ceilings.stream_gbs, 1) << " GB/s\n";
  double counted = 0;  // forward FLOPs of the multiply-add ops, to set beside info's count
  for (const auto& row : r.rows)
    if (row.pass == "forward" && (row.op == "conv2d" || row.op == "conv_transpose2d" || row.op == "gemm"))
      counted += row.flops;
  os << "forward FLOPs of conv/GEMM ops " << fixed(counted / r.steps / 1e9, 3) << " G per step, glia info "
     << fixed(r.forward_flops / 1e9, 3) << " G\n\n";
  char line[512];
  std::snprintf(line, sizeof line, "%-24s %-34s %-9s %6s %10s %9s %6s %9s %9s %8s %7s %6s\n", "op", "layer", "pass",
                "calls", "total ms", "mean ms", "step%", "GFLOP", "MB", "GFLOP/s", "GB/s", "roof%");
  os << line;
  const size_t shown = top > 0 ? std::min<size_t>(static_cast<size_t>(top), r.rows.size()) : r.rows.size();
  double rest_us = 0;
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const prof::Row& row = r.rows[i];
    if (i >= shown) {
      rest_us += row.total_us;
      continue;
    }
    const double secs = row.total_us * 1e-6;
    std::string layer = row.layer.size() > 34 ? "..." + row.layer.substr(row.layer.size() - 31) : row.layer;
    std::snprintf(line, sizeof line, "%-24s %-34s %-9s %6lld %10.3f %9.4f %6.2f %9.4f %9.3f %8.2f %7.2f %6.1f\n",
                  row.op.c_str(), layer.c_str(), row.pass.c_str(), static_cast<long long>(row.calls / r.steps),
                  row.total_us / 1e3 / r.steps, row.total_us / 1e3 / double(row.calls),
                  total_us > 0 ? 100 * row.total_us / total_us : 0.0, row.flops / r.steps / 1e9,
                  row.bytes / r.steps / 1e6, secs > 0 ? row.flops / secs / 1e9 : 0.0,
                  secs > 0 ? row.bytes / secs / 1e9 : 0.0, 100 * roofline_fraction(row, r.ceilings));
    os << line;
  }
  if (shown < r.rows.size())
    os << "... " << r.rows.size() - shown << " more rows, " << fixed(total_us > 0 ? 100 * rest_us / total_us : 0, 2)
       << " % of the step\n";
  os << "(calls, total, GFLOP and MB are per step; mean per call)\n";
  return os.str();
}

// An output file's folder must exist before the (possibly long) run, not after it.
void check_output_folder(const std::string& path, const char* flag) {
  if (path.empty()) return;
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  GLIA_USAGE_CHECK(folder.empty() || std::filesystem::is_directory(folder),
                   flag << " " << path << ": folder " << folder.string() << " does not exist");
}

int profile(const ProfileOptions& o) {
  check_output_folder(o.trace, "--trace");
  check_output_folder(o.roofline, "--roofline");
  const ProfileReport r = run_profile(o);
  std::cout << format_profile(r, o.top) << std::flush;
  if (!o.trace.empty()) {
    prof::write_chrome_trace(o.trace, r.spans);
    std::cout << "trace: " << o.trace << " (chrome://tracing or ui.perfetto.dev)\n";
  }
  if (!o.roofline.empty()) {
    std::vector<RooflinePoint> points;
    const double total_us = r.step_us * r.steps;
    for (const auto& row : r.rows) {
      if (row.total_us <= 0) continue;
      RooflinePoint p;
      p.label = row.op + " " + row.layer + " (" + row.pass + ")";
      p.intensity = row.bytes > 0 ? row.flops / row.bytes : 0;
      p.gflops = row.flops / (row.total_us * 1e3);
      p.share = total_us > 0 ? row.total_us / total_us : 0;
      points.push_back(p);
    }
    write_roofline_png(o.roofline, points, r.ceilings.peak_gflops, r.ceilings.stream_gbs,
                           "glia profile " + r.model + " on " + r.device + ", batch " + std::to_string(r.batch));
    std::cout << "roofline: " << o.roofline << "\n";
  }
  return 0;
}

}  // namespace glia::app
