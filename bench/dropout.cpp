// Dropout family (kernels/dropout.h) on every backend, p = 0.5 (masks from Philox, the
// backward recomputes them):
//   dropout, dropout_backward  the classifier's dropout on the pooled features [N, 1280],
//                              and at B1's stage activations for the rate at scale
//   stochastic_depth           MBConv's per-sample residual drop, at B1's stage activations
// Memory-bound: least bytes one read and one write per element (no mask is stored).
// The "tiny" shape runs on cpu and sim only (emulator time is meaningless).
//   bench_dropout --benchmark_filter=/cpu/
// PyTorch's side: tools/bench_torch_kernels.py (same names).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "bench/bench_kernels.h"
#include "kernels/dropout.h"

namespace {

using namespace glia;
using namespace glia::kernels;
using bench::Activation;
using bench::Buffer;

enum class Op { dropout, dropout_backward, stochastic_depth };
const char* op_name(Op op) {
  return op == Op::dropout ? "dropout" : op == Op::dropout_backward ? "dropout_backward" : "stochastic_depth";
}

const Activation kHeadFeatures{"b1_head_features_1280", 1280, 1};
const Activation kTiny{"tiny_8x12", 8, 12};
constexpr int64_t kTinyBatch = 2;
constexpr double kP = 0.5;

bool op_runnable(benchmark::State& state, Backend b, Op op) {
  if (op == Op::dropout) return bench::runnable(state, b, dropout_kernel);
  if (op == Op::dropout_backward) return bench::runnable(state, b, dropout_backward_kernel);
  return bench::runnable(state, b, stochastic_depth_kernel);
}

void run_dropout(benchmark::State& state, Backend b, Op op, const Activation& a, int64_t n) {
  if (!op_runnable(state, b, op)) return;
  const Device d = bench::device_of(b);
  const int64_t numel = n * a.numel();
  Buffer x = Buffer::floats(d, numel), y = Buffer::floats(d, numel);
  uint64_t offset = 0;  // a fresh mask every call, as training draws one
  if (op == Op::dropout) {
    auto& fn = dropout_kernel.get(b);
    bench::time_calls(state, b, [&] {
      fn({DType::f32, numel, kP, 1234, offset, x.get(), y.get(), nullptr});
      offset += (numel + 3) / 4;
    });
  } else if (op == Op::dropout_backward) {
    auto& fn = dropout_backward_kernel.get(b);
    bench::time_calls(state, b, [&] {
      fn({DType::f32, numel, kP, 1234, offset, x.get(), y.get()});
      offset += (numel + 3) / 4;
    });
  } else {
    auto& fn = stochastic_depth_kernel.get(b);
    bench::time_calls(state, b, [&] {
      fn({DType::f32, n, a.numel(), kP, 1234, offset, x.get(), y.get()});
      offset += 1;
    });
  }
  bench::set_throughput(state, 0, 8.0 * double(numel), d);
}

void register_dropout() {
  for (Backend b : bench::backends(/*library_variant=*/false)) {
    for (Op op : {Op::dropout, Op::dropout_backward, Op::stochastic_depth}) {
      auto add = [&](const Activation& a, int64_t n) {
        bench::add_case(bench::case_name("dropout", op_name(op), b, a.name, n), b,
                        [=](benchmark::State& state) { run_dropout(state, b, op, a, n); });
      };
      if (b == Backend::cpu || b == Backend::sim) add(kTiny, kTinyBatch);
      std::vector<Activation> shapes = bench::b1_stage_activations();
      if (op != Op::stochastic_depth) shapes.insert(shapes.begin(), kHeadFeatures);
      for (const Activation& a : shapes)
        for (int64_t n : bench::batches(b, 0, 8.0 * double(a.numel()))) add(a, n);
    }
  }
}
GLIA_BENCH_REGISTER(register_dropout);

}  // namespace
