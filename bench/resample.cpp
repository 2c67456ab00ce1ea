// Resample family (kernels/resample.h) on every backend: 2x upsampling, nearest and
// bilinear (align_corners=false), forward and backward, at the U-Net decoder's inputs
// (levels l5..l2: what an upsample-then-conv decoder would enlarge in place of glia's
// transposed convolutions). Memory-bound: least bytes x read once and y (4x as large)
// written once, or the reverse for the backward.
// The "tiny" shape runs on cpu and sim only (emulator time is meaningless).
//   bench_resample --benchmark_filter=bilinear
// PyTorch's side: tools/bench_torch_kernels.py (same names).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench_kernels.h"
#include "kernels/resample.h"

namespace {

using namespace glia;
using namespace glia::kernels;
using bench::Activation;
using bench::Buffer;

constexpr int64_t kScale = 2;
const Activation kTiny{"tiny_8x6", 8, 6};
constexpr int64_t kTinyBatch = 2;

double bytes_of(const Activation& a, int64_t n) { return 4.0 * double(n * a.numel()) * (1 + kScale * kScale); }

void run_upsample(benchmark::State& state, Backend b, UpsampleMode mode, bool backward, const Activation& a,
                  int64_t n) {
  if (!(backward ? bench::runnable(state, b, upsample2d_backward_kernel) : bench::runnable(state, b, upsample2d_kernel)))
    return;
  const Device d = bench::device_of(b);
  const int64_t nx = n * a.numel(), ny = nx * kScale * kScale;
  Buffer x = Buffer::floats(d, nx), y = Buffer::floats(d, ny);
  if (backward) {
    auto& fn = upsample2d_backward_kernel.get(b);
    bench::time_counted(state, b, fn, Upsample2dBackwardParams{DType::f32, mode, n, a.c, a.hw, a.hw, kScale, y.get(), x.get()});
  } else {
    auto& fn = upsample2d_kernel.get(b);
    bench::time_counted(state, b, fn, Upsample2dParams{DType::f32, mode, n, a.c, a.hw, a.hw, kScale, x.get(), y.get()});
  }
}

void register_resample() {
  const auto& levels = bench::unet_level_activations();
  const std::vector<Activation> inputs(levels.begin() + 1, levels.end());  // l2..l5
  for (Backend b : bench::backends(/*library_variant=*/false)) {
    for (UpsampleMode mode : {UpsampleMode::nearest, UpsampleMode::bilinear}) {
      for (bool backward : {false, true}) {
        const std::string op = std::string(mode == UpsampleMode::nearest ? "nearest2x" : "bilinear2x") +
                               (backward ? "_backward" : "");
        auto add = [&](const Activation& a, int64_t n) {
          bench::add_case(bench::case_name("resample", op, b, a.name, n), b,
                          [=](benchmark::State& state) { run_upsample(state, b, mode, backward, a, n); });
        };
        if (b == Backend::cpu || b == Backend::sim) add(kTiny, kTinyBatch);
        for (const Activation& a : inputs)
          for (int64_t n : bench::batches(b, 0, bytes_of(a, 1))) add(a, n);
      }
    }
  }
}
GLIA_BENCH_REGISTER(register_resample);

}  // namespace
