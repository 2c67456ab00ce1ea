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
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench_kernels.h"
#include "kernels/optim.h"

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

void register_optim() {
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
