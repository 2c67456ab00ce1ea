// Optimizer update kernels (kernels/optim.h) on every backend: one fused Adam step (the
// paper's weight decay 1e-4, PyTorch's L2 form) and one SGD-with-momentum step over as
// many parameters as EfficientNet-B1 (torchvision's, 7,794,184) and the residual U-Net
// (width 64, 32,436,353) have, as one flat buffer. Memory-bound: least bytes Adam reads
// param, grad and both moments and writes param and moments (28 bytes per parameter);
// SGD reads param, grad, momentum and writes param and momentum (20 bytes): cost() in
// kernels/optim.h, which the counters use.
// Names carry no batch (an update does not depend on it). The "tiny" size runs on cpu
// and sim only (emulator time is meaningless).
//   bench_optim --benchmark_filter=adam
// PyTorch's side: tools/bench_torch_kernels.py (same names, torch.optim's foreach step).
// On cuda also Adam over EfficientNet-B1's own parameter tensors (~340 of them), one
// adam_step launch per tensor against one adam_multi_step launch: the launch overhead
// the multi-tensor kernel removes (GPU only: on a CPU a call costs nothing extra).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench_kernels.h"
#include "kernels/optim.h"
#include "nets/efficientnet.h"

namespace {

using namespace glia;
using namespace glia::kernels;
using bench::Buffer;

struct ParamSet {
  const char* name;
  int64_t count;
};
const std::vector<ParamSet> kNetworks = {{"b1_params_7794184", 7794184}, {"unet_params_32436353", 32436353}};
const ParamSet kTiny{"tiny_params_1000", 1000};

void run_step(benchmark::State& state, Backend b, bool adam, int64_t count) {
  if (!(adam ? bench::runnable(state, b, adam_step_kernel) : bench::runnable(state, b, sgd_step_kernel))) return;
  const Device d = bench::device_of(b);
  Buffer param = Buffer::floats(d, count), grad = Buffer::floats(d, count), m = Buffer::floats(d, count);
  Buffer v = Buffer::floats(d, count, 0.0f, 1e-3f);  // a second moment is never negative
  if (adam) {
    AdamParams p;
    p.n = count, p.param = param.get(), p.grad = grad.get(), p.exp_avg = m.get(), p.exp_avg_sq = v.get();
    p.weight_decay = 1e-4, p.step = 10;
    auto& fn = adam_step_kernel.get(b);
    bench::time_counted(state, b, fn, p);
  } else {
    SgdParams p;
    p.n = count, p.param = param.get(), p.grad = grad.get(), p.momentum_buffer = m.get();
    p.momentum = 0.9, p.weight_decay = 1e-4, p.first_step = false;
    auto& fn = sgd_step_kernel.get(b);
    bench::time_counted(state, b, fn, p);
  }
}

// Element counts of EfficientNet-B1's parameter tensors, in order.
const std::vector<int64_t>& b1_tensor_sizes() {
  static const std::vector<int64_t> sizes = [] {
    std::vector<int64_t> out;
    for (const auto& named : nets::efficientnet("b1", 1000)->named_parameters()) out.push_back(named.second.numel());
    return out;
  }();
  return sizes;
}

void run_adam_tensors(benchmark::State& state, Backend b, bool multi) {
  if (!bench::runnable(state, b, adam_multi_step_kernel)) return;
  const Device d = bench::device_of(b);
  const std::vector<int64_t>& sizes = b1_tensor_sizes();
  int64_t total = 0;
  for (int64_t n : sizes) total += n;
  Buffer param = Buffer::floats(d, total), grad = Buffer::floats(d, total), m = Buffer::floats(d, total);
  Buffer v = Buffer::floats(d, total, 0.0f, 1e-3f);
  AdamMultiParams p;
  p.weight_decay = 1e-4;
  int64_t offset = 0;
  for (int64_t n : sizes) {
    auto at = [offset](const Buffer& buf) { return static_cast<float*>(buf.get()) + offset; };
    p.tensors.push_back({at(param), at(grad), at(m), at(v), n, 10});
    offset += n;
  }
  if (multi) {
    auto& fn = adam_multi_step_kernel.get(b);
    bench::time_counted(state, b, fn, p);
    return;
  }
  auto& one = adam_step_kernel.get(b);
  bench::time_calls(state, b, [&] {
    for (size_t i = 0; i < p.tensors.size(); ++i) one(adam_params_of(p, i));
  });
  const OpCost c = cost(p);
  bench::set_throughput(state, c.flops, c.bytes, d);
}

void register_optim() {
  for (Backend b : bench::backends(/*library_variant=*/false)) {
    if (b != Backend::cuda) continue;
    for (bool multi : {false, true}) {
      const std::string name = std::string("optim/adam_b1_tensors/") + (multi ? "multi_tensor" : "per_tensor") + "/" +
                               backend_name(b);
      bench::add_case(name, b, [=](benchmark::State& state) { run_adam_tensors(state, b, multi); });
    }
  }
  for (Backend b : bench::backends(/*library_variant=*/false)) {
    for (bool adam : {true, false}) {
      auto add = [&](const ParamSet& s) {
        const std::string name = std::string("optim/") + (adam ? "adam" : "sgd_momentum") + "/" +
                                 backend_name(b) + "/" + s.name;
        const int64_t count = s.count;
        bench::add_case(name, b, [=](benchmark::State& state) { run_step(state, b, adam, count); });
      };
      if (b == Backend::cpu || b == Backend::sim) add(kTiny);
      if (b != Backend::sim)
        for (const ParamSet& s : kNetworks) add(s);
    }
  }
}
GLIA_BENCH_REGISTER(register_optim);

}  // namespace
