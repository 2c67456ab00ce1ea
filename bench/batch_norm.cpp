// BatchNorm2d (kernels/batch_norm.h) on every backend (cudnn: cuDNN's batch norm):
// training forward (batch statistics, running-buffer update), eval forward (running
// statistics) and the training backward (gx, ggamma, gbeta), at the activations of
// EfficientNet-B1's stages and the U-Net's levels, plus the batch-8 / batch-4 CPU shapes
// of the older suite. Memory-bound: least bytes x read and y written (forward), x and gy
// read and gx written (backward); the per-channel buffers are negligible.
// The "tiny" shape runs on cpu and sim only (emulator time is meaningless).
//   bench_batch_norm --benchmark_filter=backward
// PyTorch's side: tools/bench_torch_kernels.py (same names).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "bench/bench_kernels.h"
#include "kernels/batch_norm.h"

namespace {

using namespace glia;
using namespace glia::kernels;
using bench::Activation;
using bench::Buffer;

enum class Op { forward_train, forward_eval, backward };
const char* op_name(Op op) {
  return op == Op::forward_train ? "forward_train" : op == Op::forward_eval ? "forward_eval" : "backward";
}

const Activation kTiny{"tiny_8x12", 8, 12};
constexpr int64_t kTinyBatch = 2;
// The older CPU suite's shapes: B1's stage 2 at batch 8, a 64-channel 128x128 map at batch 4.
const std::vector<std::pair<Activation, int64_t>> kCpuSmall = {{{"b1_s2_144x60", 144, 60}, 8},
                                                               {{"small_64x128", 64, 128}, 4}};

double bytes_of(Op op, int64_t numel) { return (op == Op::backward ? 12.0 : 8.0) * double(numel); }

void run_batch_norm(benchmark::State& state, Backend b, Op op, const Activation& a, int64_t n) {
  if (!(op == Op::backward ? bench::runnable(state, b, batch_norm_backward_kernel)
                           : bench::runnable(state, b, batch_norm_kernel)))
    return;
  const Device d = bench::device_of(b);
  const int64_t numel = n * a.numel();
  Buffer x = Buffer::floats(d, numel), y = Buffer::floats(d, numel), gy = Buffer::floats(d, numel);
  Buffer gamma = Buffer::floats(d, a.c), beta = Buffer::floats(d, a.c), mean = Buffer::floats(d, a.c);
  Buffer var = Buffer::floats(d, a.c, 0.5f, 1.5f), save_mean = Buffer::floats(d, a.c);
  Buffer save_invstd = Buffer::floats(d, a.c, 0.5f, 1.5f), ggamma = Buffer::floats(d, a.c);
  Buffer gbeta = Buffer::floats(d, a.c);
  if (op == Op::backward) {
    BatchNormBackwardParams p;
    p.n = n, p.c = a.c, p.hw = a.hw * a.hw, p.x = x.get(), p.gy = gy.get(), p.gamma = gamma.get();
    p.save_mean = save_mean.get(), p.save_invstd = save_invstd.get(), p.running_mean = mean.get();
    p.running_var = var.get(), p.gx = y.get(), p.ggamma = ggamma.get(), p.gbeta = gbeta.get();
    auto& fn = batch_norm_backward_kernel.get(b);
    bench::time_counted(state, b, fn, p);
  } else {
    BatchNormParams p;
    p.n = n, p.c = a.c, p.hw = a.hw * a.hw, p.training = op == Op::forward_train;
    p.x = x.get(), p.gamma = gamma.get(), p.beta = beta.get(), p.y = y.get();
    p.running_mean = mean.get(), p.running_var = var.get();
    p.save_mean = save_mean.get(), p.save_invstd = save_invstd.get();
    auto& fn = batch_norm_kernel.get(b);
    bench::time_counted(state, b, fn, p);
  }
}

void register_batch_norm() {
  for (Backend b : bench::backends(/*library_variant=*/true)) {
    for (Op op : {Op::forward_train, Op::forward_eval, Op::backward}) {
      auto add = [&](const Activation& a, int64_t n) {
        bench::add_case(bench::case_name("batch_norm", op_name(op), b, a.name, n), b,
                        [=](benchmark::State& state) { run_batch_norm(state, b, op, a, n); });
      };
      if (b == Backend::cpu || b == Backend::sim) add(kTiny, kTinyBatch);
      if (b == Backend::cpu)
        for (const auto& [a, n] : kCpuSmall) add(a, n);
      for (const Activation& a : bench::network_activations())
        for (int64_t n : bench::batches(b, 0, bytes_of(op, a.numel()))) add(a, n);
    }
  }
}
GLIA_BENCH_REGISTER(register_batch_norm);

}  // namespace
