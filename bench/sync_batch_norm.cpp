// What synchronised batch norm (tensor/cross_replica.h) costs besides communication: the
// op with a reducer installed that leaves its sums as they are (one replica, no
// communication) against the ordinary op, in one process so a loaded machine slows both
// sides alike: compare the ratio of a pair, not its times. The synchronised path runs the
// training kernel for the local statistics and the eval kernel to normalise (two passes
// over x), and completes the input gradient with two elementwise passes; the collectives
// themselves (three small float64 vectors per batch norm per step) are the communicator's
// to measure (train/).
// Names: sync_bn/<plain|sync>/<fwd|fwd_bwd>/<device>[/tiny], relu fused, float32.
//   bench_sync_batch_norm --benchmark_filter='sync_bn/.*/cpu$'
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "bench/bench_common.h"
#include "tensor/autograd.h"
#include "tensor/cross_replica.h"
#include "tensor/nn_ops.h"
#include "tensor/random.h"

namespace {

using namespace glia;

struct LocalOnly : CrossReplicaReducer {
  void sum_in_place(const Tensor&) override {}  // one replica: the sums are already global
  int world_size() const override { return 1; }
};

void run(benchmark::State& state, Device device, const Shape& shape, bool sync, bool backward) {
  Generator data(5);
  const int64_t c = shape[1];
  Tensor x = randn(shape, DType::f32, device, &data);
  Tensor w = ones({c}, DType::f32, device), b = zeros({c}, DType::f32, device);
  Tensor rm = zeros({c}, DType::f32, device), rv = ones({c}, DType::f32, device);
  Tensor upstream = randn(shape, DType::f32, device, &data);
  std::unique_ptr<SyncBatchNormScope> scope;
  if (sync) scope = std::make_unique<SyncBatchNormScope>(std::make_shared<LocalOnly>());
  state.SetLabel(shape_str(shape));
  auto op = [&] { return batch_norm(x, w, b, rm, rv, true, 0.1, 1e-5, NormActivation::relu); };
  if (!backward) {
    NoGradGuard no_grad;
    bench::run_steps(state, device, shape[0], 0, [&] { benchmark::DoNotOptimize(op()); });
    return;
  }
  x.requires_grad_();
  w.requires_grad_();
  b.requires_grad_();
  bench::run_steps(state, device, shape[0], 0, [&] {
    op().backward(upstream);
    x.set_grad(Tensor());
    w.set_grad(Tensor());
    b.set_grad(Tensor());
  });
}

const bool registered = [] {
  // A U-Net level at width 32 on 128 x 128 slices, and an EfficientNet late stage.
  const Shape unet{8, 32, 128, 128}, effnet{8, 320, 8, 8}, tiny{2, 3, 8, 8};
  for (Device device : {Device::cpu, Device::sim, Device::cuda}) {
    if (!device_available(device)) continue;
    for (const Shape& shape : {tiny, unet, effnet}) {
      const bool is_tiny = shape == tiny;
      if (device == Device::sim && !is_tiny) continue;  // sim would time the emulator
      for (bool backward : {false, true})
        for (bool sync : {false, true}) {
          const std::string name = std::string("sync_bn/") + (sync ? "sync" : "plain") + "/" +
                                   (backward ? "fwd_bwd" : "fwd") + "/" + device_name(device) +
                                   (is_tiny ? "/tiny" : "/" + std::to_string(shape[1]) + "ch");
          benchmark::RegisterBenchmark(name.c_str(), [device, shape, sync, backward](benchmark::State& s) {
            run(s, device, shape, sync, backward);
          })->Unit(benchmark::kMillisecond)->UseRealTime();
        }
    }
  }
  return true;
}();

}  // namespace
