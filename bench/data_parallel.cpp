// Data-parallel costs (train/communicator.h), run under mpirun with 1 or 2 ranks
// (scripts/bench-data-parallel.sh): the all-reduce of a flat buffer of the two networks'
// parameter counts, the bucketed gradient exchange of the real networks, and whole
// training steps (forward on the rank's shard, backward, gradient sum, Adam) at a fixed
// global batch. Every benchmark runs a fixed number of iterations, so the ranks' loops,
// and the collectives inside them, stay in step (Google Benchmark's adaptive count could
// differ between processes). Rank 0 alone reports.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "nets/efficientnet.h"
#include "nets/unet.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "train/classification_trainer.h"
#include "train/data_parallel.h"
#include "train/optimizer.h"
#include "train/parallel/launch.h"
#include "train/segmentation_trainer.h"

namespace glia {
namespace {

std::unique_ptr<Communicator> comm;

void all_reduce(benchmark::State& state, size_t values) {
  std::vector<float> buffer(values, 1.0f);
  for (auto _ : state) comm->all_reduce_sum(buffer.data(), buffer.size(), DType::f32);
  const double bytes = static_cast<double>(values) * sizeof(float);
  state.counters["MB"] = bytes / 1e6;
  // Bus bandwidth as NCCL reports it: 2 (W-1)/W of the buffer crosses each rank's link.
  const double w = comm->size();
  state.counters["bus_GB/s"] = benchmark::Counter(bytes * 2 * (w - 1) / w / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

std::shared_ptr<nn::Module> make_model(const std::string& net) {
  static Generator gen;  // the model keeps it (dropout): it must outlive the model
  gen.manual_seed(1);
  if (net == "b1") return nets::paper_classifier(4, false, &gen);
  nets::UNetConfig c;
  c.width = net == "unet64" ? 64 : 16;
  return std::make_shared<nets::UNet>(c, &gen);
}

NamedTensors trainable(nn::Module& model) {
  NamedTensors out;
  for (auto& [name, p] : model.named_parameters())
    if (p.requires_grad()) out.emplace_back(name, p);
  return out;
}

// The bucketed exchange of a real network's gradients (packing and unpacking included).
void gradient_sync(benchmark::State& state, const std::string& net) {
  auto model = make_model(net);
  const NamedTensors params = trainable(*model);
  size_t values = 0;
  for (const auto& [name, p] : params) {
    p.set_grad(ones_like(p));
    values += static_cast<size_t>(p.numel());
  }
  for (auto _ : state) all_reduce_gradients(*comm, params);
  state.counters["params_M"] = static_cast<double>(values) / 1e6;
}

// One data-parallel training step at a fixed global batch; "sync_ms" is the part spent in
// the gradient exchange after the backward (the rest is this rank's forward and backward
// of its shard). overlap: the exchange starts bucket by bucket during the backward (the
// trainer's way), so sync_ms is only what the backward did not hide; otherwise all of it
// runs after the backward.
void train_step(benchmark::State& state, const std::string& net, int global_batch, int size, bool overlap) {
  auto model = make_model(net);
  model->train(true);
  Adam::Options ao;
  Adam adam(trainable(*model), ao);
  const ShardRange mine = shard_range(static_cast<size_t>(global_batch), comm->rank(), comm->size());
  const int n = static_cast<int>(mine.size());
  Generator gen(2);
  io::Batch batch;
  batch.n = n, batch.c = 3, batch.h = batch.w = size, batch.global_n = global_batch;
  batch.images = rand({n, 3, size, size}, DType::f32, Device::cpu, &gen).to_vector<float>();
  const bool seg = net != "b1";
  for (int i = 0; i < n; ++i) batch.labels.push_back(seg ? -1 : i % 4);
  if (seg) batch.masks.assign(static_cast<size_t>(n) * size * size, 0.0f);
  ClassificationTask cls(4);
  SegmentationTask segmentation;
  TrainTask& task = seg ? static_cast<TrainTask&>(segmentation) : cls;
  double sync_seconds = 0;
  for (auto _ : state) {
    adam.zero_grad();
    const Tensor out = (*model)(from_vector(batch.images, {n, 3, size, size}));
    const Tensor loss = comm->distributed() ? task.shard_loss(out, batch, Device::cpu, *comm)
                                            : task.loss(out, batch, Device::cpu);
    if (overlap) {
      GradientBucketSync sync(*comm, adam.params());
      {
        const GradReadyScope scope(&sync);
        loss.backward();
      }
      sync_seconds += sync.finish().seconds;
    } else {
      loss.backward();
      sync_seconds += all_reduce_gradients(*comm, adam.params()).seconds;
    }
    adam.step();
  }
  state.counters["sync_ms"] = 1e3 * sync_seconds / static_cast<double>(state.iterations());
  state.counters["images/s"] = benchmark::Counter(global_batch, benchmark::Counter::kIsIterationInvariantRate);
}

void register_all() {
  const std::string ranks = "/ranks:" + std::to_string(comm->size());
  // B1 with the paper's head (7.8 M) and the width-64 U-Net (32.4 M), as flat f32 buffers.
  for (size_t values : {size_t{7'800'000}, size_t{32'400'000}})
    benchmark::RegisterBenchmark(("dp/all_reduce/values:" + std::to_string(values) + ranks).c_str(), all_reduce, values)
        ->Iterations(5)->Unit(benchmark::kMillisecond)->UseRealTime();
  for (const std::string net : {"b1", "unet64"})
    benchmark::RegisterBenchmark(("dp/gradient_sync/" + net + ranks).c_str(), gradient_sync, net)
        ->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();
  for (const bool overlap : {false, true}) {
    const std::string mode = overlap ? "/overlap" : "";
    benchmark::RegisterBenchmark(("dp/train_step/b1/size:64/global_batch:8" + mode + ranks).c_str(), train_step, "b1",
                                 8, 64, overlap)
        ->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();
    benchmark::RegisterBenchmark(("dp/train_step/unet16/size:64/global_batch:4" + mode + ranks).c_str(), train_step,
                                 "unet16", 4, 64, overlap)
        ->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();
  }
}

class SilentReporter : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};

}  // namespace
}  // namespace glia

int main(int argc, char** argv) {
  glia::comm = glia::parallel::communicator_from_environment();
  // Ranks other than 0 neither print nor write --benchmark_out.
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i)
    if (glia::comm->rank() == 0 || std::strncmp(argv[i], "--benchmark_out", 15) != 0) args.push_back(argv[i]);
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  benchmark::AddCustomContext("ranks", std::to_string(glia::comm->size()));
  benchmark::AddCustomContext("backend", glia::comm->backend());
  glia::register_all();
  if (glia::comm->rank() == 0) {
    benchmark::RunSpecifiedBenchmarks();
  } else {
    glia::SilentReporter silent;
    benchmark::RunSpecifiedBenchmarks(&silent);
  }
  benchmark::Shutdown();
  glia::comm.reset();
  return 0;
}
