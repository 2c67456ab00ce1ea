// Reduce family (kernels/reduce.h) on every backend:
//   sum       everything to one value (a loss over the U-Net's maps; the older CPU suite's
//             flat 4M-element sum)
//   mean_hw   per (image, channel) over H x W, [N*C, HW] -> [N*C]: squeeze-excite's
//             squeeze at B1's stages
//   sum_batch over the batch, [N, CHW] -> [CHW]: a broadcast operand's gradient (a column
//             reduction: consecutive threads read consecutive addresses)
// Memory-bound: GB/s from reading x once and writing the result; FLOPs one add per element.
// The "tiny" shape runs on cpu and sim only (emulator time is meaningless).
//   bench_reduce --benchmark_filter=/cpu/
// PyTorch's side: tools/bench_torch_kernels.py (same names).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "bench/bench_kernels.h"
#include "kernels/reduce.h"

namespace {

using namespace glia;
using namespace glia::kernels;
using bench::Activation;
using bench::Buffer;

enum class Axis { all, hw, batch };
struct Op {
  const char* name;
  ReduceOp op;
  Axis axis;
};
const Op kOps[] = {{"sum", ReduceOp::sum, Axis::all}, {"mean_hw", ReduceOp::mean, Axis::hw},
                   {"sum_batch", ReduceOp::sum, Axis::batch}};

const Activation kTiny{"tiny_8x12", 8, 12};
constexpr int64_t kTinyBatch = 2;
const Activation kFlat{"flat_4194304", 1, 2048};

void run_reduce(benchmark::State& state, Backend b, const Op& op, const Activation& a, int64_t n) {
  if (!bench::runnable(state, b, reduce_kernel)) return;
  const Device d = bench::device_of(b);
  ReduceParams p;
  p.op = op.op;
  if (op.axis == Axis::all) p.reduce = n * a.numel();
  if (op.axis == Axis::hw) p.outer = n * a.c, p.reduce = a.hw * a.hw;
  if (op.axis == Axis::batch) p.reduce = n, p.inner = a.numel();
  const int64_t numel = n * a.numel(), out_numel = p.outer * p.inner;
  Buffer x = Buffer::floats(d, numel), out = Buffer::floats(d, out_numel);
  p.x = x.get(), p.out = out.get();
  auto& fn = reduce_kernel.get(b);
  bench::time_counted(state, b, fn, p);
}

void register_reduce() {
  for (Backend b : bench::backends(/*library_variant=*/false)) {
    for (const Op& op : kOps) {
      auto add = [&](const Activation& a, int64_t n) {
        bench::add_case(bench::case_name("reduce", op.name, b, a.name, n), b,
                        [=, &op](benchmark::State& state) { run_reduce(state, b, op, a, n); });
      };
      if (b == Backend::cpu || b == Backend::sim) add(kTiny, kTinyBatch);
      if (op.axis == Axis::all && b == Backend::cpu) add(kFlat, 1);
      const auto& shapes = op.axis == Axis::all ? bench::unet_level_activations() : bench::b1_stage_activations();
      for (const Activation& a : shapes)
        for (int64_t n : bench::batches(b, double(a.numel()), 4.0 * double(a.numel())))
          if (op.axis != Axis::batch || n > 1) add(a, n);  // over a batch of 1 is a copy
    }
  }
}
GLIA_BENCH_REGISTER(register_reduce);

}  // namespace
