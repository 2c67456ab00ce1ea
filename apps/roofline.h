// The roofline chart of a profile (`glia profile --roofline FILE.png`): log-log axes of
// arithmetic intensity (FLOPs per byte moved) and achieved GFLOP/s, the machine's two
// ceilings (memory: intensity x bandwidth; compute: the FMA peak), and one point per op
// row of the profile, the longest ones labelled.
#pragma once
#include <string>
#include <vector>

namespace glia::app {

struct RooflinePoint {
  std::string label;       // e.g. "conv2d features.3.1.block.1 (forward)"
  double intensity = 0;    // FLOPs / byte
  double gflops = 0;       // achieved GFLOP/s
  double share = 0;        // of the step's time, in [0, 1]: the point's size
};

// Points with no FLOPs or no bytes are left out (they have no place on the chart). Error
// naming the file when it cannot be written; peak_gflops and stream_gbs must be > 0.
void write_roofline_png(const std::string& path, const std::vector<RooflinePoint>& points, double peak_gflops,
                        double stream_gbs, const std::string& title, int labelled = 8);

}  // namespace glia::app
