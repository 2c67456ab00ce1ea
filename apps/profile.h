// `glia profile`: where a training step of a network spends its time. Builds the network
// on a device, runs warm-up steps, then records N steps (forward, loss, backward, Adam;
// or forward alone with --inference) with the profiler (kernels/profile.h) and prints a
// table of every (op, layer, pass), longest first, with its achieved GFLOP/s, GB/s and
// fraction of the machine's roofline (kernels/ceilings.h); optionally a Chrome trace and a
// roofline chart.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "kernels/ceilings.h"
#include "kernels/profile.h"

namespace glia::app {

struct ProfileOptions {
  std::string model = "b1";  // b0..b7, lite0..lite4 (paper head) or unet
  std::string device = "cpu";
  int batch_size = 8;
  std::optional<int> image_size;  // not given: 240 (classifier) / 256 (U-Net)
  int width = 64, depth = 4;      // U-Net
  int steps = 3;
  int warmup = 1;
  bool inference = false;
  int threads = 0;
  uint64_t seed = 0;
  int top = 40;  // table rows printed (0: all)
  std::string trace;     // Chrome trace-event file
  std::string roofline;  // PNG
};

struct ProfileReport {
  std::string model;  // the spec, e.g. "classifier:b1:240"
  std::string device;
  int batch = 0, steps = 0;
  bool inference = false;
  double step_us = 0;                // mean recorded step time
  double forward_flops = 0;          // per step: `glia info`'s count (2 x MACs) x batch
  double model_flops = 0;            // per step: forward, or 3 x forward when training
  kernels::Ceilings ceilings;
  std::vector<prof::Span> spans;     // the recorded steps
  std::vector<prof::Row> rows;       // prof::aggregate(spans)
  double images_per_second() const { return step_us > 0 ? batch * 1e6 / step_us : 0; }
  double mfu() const {
    return step_us > 0 && ceilings.peak_gflops > 0 ? model_flops / (step_us * 1e3) / ceilings.peak_gflops : 0;
  }
};

// Runs the profile (no output); UsageError for a bad flag.
ProfileReport run_profile(const ProfileOptions& o);
// The header and table (top rows; 0: all).
std::string format_profile(const ProfileReport& r, int top);
// Fraction of the roofline one row reaches: its GFLOP/s over min(peak, intensity x
// bandwidth), or its GB/s over the bandwidth for ops without FLOPs.
double roofline_fraction(const prof::Row& row, const kernels::Ceilings& c);
int profile(const ProfileOptions& o);

}  // namespace glia::app
