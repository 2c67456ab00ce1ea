// Strided copy (kernels/copy.h) on every backend: the U-Net decoder's channel concat,
// each half of [N, 2C, H, W] written from a contiguous [N, C, H, W] (levels l1..l4), and
// a plain contiguous copy of the same tensor. Memory-bound: least bytes one read and one
// write per element. The "tiny" shape runs on cpu and sim only (emulator time is
// meaningless).
//   bench_copy --benchmark_filter=concat
// PyTorch's side: tools/bench_torch_kernels.py (same names).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "bench/bench_kernels.h"
#include "kernels/copy.h"

namespace {

using namespace glia;
using namespace glia::kernels;
using bench::Activation;
using bench::Buffer;

const Activation kTiny{"tiny_8x12", 8, 12};
constexpr int64_t kTinyBatch = 2;

void run_copy(benchmark::State& state, Backend b, bool concat, const Activation& a, int64_t n) {
  if (!bench::runnable(state, b, copy_kernel)) return;
  const Device d = bench::device_of(b);
  const int64_t numel = n * a.numel(), hw = a.hw * a.hw;
  Buffer src = Buffer::floats(d, numel), dst = Buffer::floats(d, concat ? 2 * numel : numel);
  CopyParams p;
  p.ndim = 3;  // [N, C, HW]
  p.sizes[0] = n, p.sizes[1] = a.c, p.sizes[2] = hw;
  p.src_strides[0] = a.c * hw, p.src_strides[1] = hw, p.src_strides[2] = 1;
  p.dst_strides[0] = (concat ? 2 : 1) * a.c * hw, p.dst_strides[1] = hw, p.dst_strides[2] = 1;
  p.numel = numel, p.src = src.get();
  // concat: the second half of the channels, as the upsampled tensor goes after the skip
  p.dst = static_cast<char*>(dst.get()) + (concat ? a.c * hw * int64_t(sizeof(float)) : 0);
  auto& fn = copy_kernel.get(b);
  bench::time_counted(state, b, fn, p);
}

void register_copy() {
  const auto& levels = bench::unet_level_activations();
  const std::vector<Activation> skips(levels.begin(), levels.end() - 1);  // l1..l4
  for (Backend b : bench::backends(/*library_variant=*/false)) {
    for (bool concat : {true, false}) {
      auto add = [&](const Activation& a, int64_t n) {
        bench::add_case(bench::case_name("copy", concat ? "concat_channels" : "contiguous", b, a.name, n), b,
                        [=](benchmark::State& state) { run_copy(state, b, concat, a, n); });
      };
      if (b == Backend::cpu || b == Backend::sim) add(kTiny, kTinyBatch);
      for (const Activation& a : skips)
        for (int64_t n : bench::batches(b, 0, 8.0 * double(a.numel()))) add(a, n);
    }
  }
}
GLIA_BENCH_REGISTER(register_copy);

}  // namespace
