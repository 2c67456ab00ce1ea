// Whole networks, images/s: EfficientNet-B1 at 240x240 (inference; forward+backward;
// training step of the paper's classifier, full and with the frozen base) and the
// residual U-Net at 256x256 (inference and training step, each at the default width 64
// and a reduced width 16). A training step is zero_grad, forward, loss, backward and
// Adam, as train/trainer.cpp runs it; the loss is categorical cross-entropy (classifier)
// or BCE + Dice (U-Net). Forward+backward is the training step without the optimizer:
// torchvision's B1 (1000 classes) in training mode, cross-entropy, backward, gradients
// dropped. Inference is eval mode without autograd. Each case runs once untimed first
// (allocator caches, first-touch), then synchronises the device after every step.
// GFLOP/s counts 2 x the forward's multiply-adds (nn::summarize) for inference and the
// frozen step, 3x that for forward+backward and a full training step (forward, backward
// to inputs, backward to weights). The blocks inside them: bench/layers.cpp.
//
// Training steps also run with --precision bf16 (and fp16 on cuda) as train-cls/train-seg
// do (train/precision.h): forward and loss under autocast, f32 weights and Adam, fp16
// with the loss scaler's scale, unscale and update; those names end in /precision:<p>
// (fp32 cases keep their names, which the PyTorch side shares).
//
// The device is part of the name (cpu, and cuda when this build has CUDA; without a GPU
// the cuda cases report an error and are skipped). PyTorch's side is tools/bench_torch.py
// with the same names; scripts/bench-compare.sh runs both.
//   bench_networks --benchmark_filter=unet
// The ctest smoke run keeps to the light cases (bench/CMakeLists.txt: B1 inference at
// batch 1 and the width-16 U-Net's training step and inference).
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "kernels/runtime.h"
#include "nets/efficientnet.h"
#include "nets/unet.h"
#include "tensor/autocast.h"
#include "tensor/autograd.h"
#include "tensor/random.h"
#include "train/losses.h"
#include "train/grad_scaler.h"
#include "train/optimizer.h"
#include "train/precision.h"

namespace {

using namespace glia;

constexpr int64_t kEffnetSize = 240, kUnetSize = 256;

// One training step at `precision`, as Trainer::train_epoch runs it: forward and loss
// under autocast, backward (of the scaled loss for fp16), then the step unless fp16
// found NaN/inf gradients.
template <class Loss>
void train_step(Precision precision, Optimizer& optimizer, GradScaler& scaler, Loss&& loss_of_forward) {
  optimizer.zero_grad();
  Tensor loss;
  {
    AutocastGuard autocast(precision_dtype(precision), precision != Precision::fp32);
    loss = loss_of_forward();
  }
  if (precision != Precision::fp16) {
    loss.backward();
    optimizer.step();
    return;
  }
  scaler.scale_loss(loss).backward();
  const bool finite = scaler.unscale(optimizer.params());
  scaler.update(!finite);
  if (finite) optimizer.step();
}

// Forward multiply-adds of one image, counted once per model kind (summarize runs a forward).
int64_t forward_macs_per_image(const std::string& key, nn::Module& model, const Shape& one_image) {
  static std::map<std::string, int64_t> cache;
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, nn::summarize(model, one_image).total_macs).first;
  return it->second;
}

void effnet_b1_infer(benchmark::State& state, Device device, int64_t batch) {
  if (bench::skip_if_unavailable(state, device)) return;
  manual_seed(1);
  auto model = nets::efficientnet("b1", 1000);
  const double macs = double(forward_macs_per_image("b1", *model, {1, 3, kEffnetSize, kEffnetSize}));
  model->to(device);
  model->eval();
  const Tensor x = randn({batch, 3, kEffnetSize, kEffnetSize}, DType::f32, device);
  NoGradGuard no_grad;
  bench::run_steps(state, device, batch, 2 * macs * batch, [&] { benchmark::DoNotOptimize((*model)(x)); });
}

void effnet_b1_fwd_bwd(benchmark::State& state, Device device, int64_t batch) {
  if (bench::skip_if_unavailable(state, device)) return;
  manual_seed(1);
  auto model = nets::efficientnet("b1", 1000);
  const double macs = double(forward_macs_per_image("b1", *model, {1, 3, kEffnetSize, kEffnetSize}));
  model->to(device);
  model->train();
  const std::vector<Tensor> params = model->parameters(true);
  const Tensor x = randn({batch, 3, kEffnetSize, kEffnetSize}, DType::f32, device);
  std::vector<int64_t> label_values;
  for (int64_t i = 0; i < batch; ++i) label_values.push_back(i % 4);
  const Tensor labels = from_vector<int64_t>(label_values, {batch}, device);
  bench::run_steps(state, device, batch, 6 * macs * batch, [&] {
    categorical_cross_entropy((*model)(x), labels).backward();
    for (const Tensor& p : params) p.set_grad(Tensor());
  });
}

void effnet_b1_train(benchmark::State& state, Device device, int64_t batch, bool frozen_base, Precision precision) {
  if (bench::skip_if_unavailable(state, device)) return;
  manual_seed(1);
  auto model = nets::paper_classifier(4, frozen_base);
  const double macs = double(forward_macs_per_image("b1_paper", *model, {1, 3, kEffnetSize, kEffnetSize}));
  model->to(device);
  model->train();
  Adam optimizer(model->named_parameters(), Adam::Options{});
  const Tensor x = randn({batch, 3, kEffnetSize, kEffnetSize}, DType::f32, device);
  std::vector<int64_t> label_values;
  for (int64_t i = 0; i < batch; ++i) label_values.push_back(i % 4);
  const Tensor labels = from_vector<int64_t>(label_values, {batch}, device);
  GradScaler scaler;
  bench::run_steps(state, device, batch, (frozen_base ? 2 : 6) * macs * batch, [&] {
    train_step(precision, optimizer, scaler, [&] { return categorical_cross_entropy((*model)(x), labels); });
  });
}

// The U-Net at `width` on `device` (seeded) and the multiply-adds of one image's forward.
std::unique_ptr<nets::UNet> make_unet(int64_t width, Device device, double& macs_per_image) {
  manual_seed(1);
  nets::UNetConfig config;
  config.width = width;
  auto model = std::make_unique<nets::UNet>(config);
  macs_per_image =
      double(forward_macs_per_image("unet" + std::to_string(width), *model, {1, 3, kUnetSize, kUnetSize}));
  model->to(device);
  return model;
}

void unet_train(benchmark::State& state, Device device, int64_t width, int64_t batch, Precision precision) {
  if (bench::skip_if_unavailable(state, device)) return;
  double macs = 0;
  auto model_ptr = make_unet(width, device, macs);
  nets::UNet& model = *model_ptr;
  model.train();
  Adam optimizer(model.named_parameters(), Adam::Options{});
  const Tensor x = randn({batch, 3, kUnetSize, kUnetSize}, DType::f32, device);
  std::vector<float> mask(static_cast<size_t>(batch * kUnetSize * kUnetSize));
  for (size_t i = 0; i < mask.size(); ++i) mask[i] = ((i / kUnetSize) % 64 < 20 && i % kUnetSize < 100) ? 1.f : 0.f;
  const Tensor target = from_vector<float>(mask, {batch, 1, kUnetSize, kUnetSize}, device);
  GradScaler scaler;
  bench::run_steps(state, device, batch, 6 * macs * batch, [&] {
    train_step(precision, optimizer, scaler, [&] { return bce_dice_loss(model(x), target); });
  });
}

void unet_infer(benchmark::State& state, Device device, int64_t width, int64_t batch) {
  if (bench::skip_if_unavailable(state, device)) return;
  double macs = 0;
  auto model = make_unet(width, device, macs);
  model->eval();
  const Tensor x = randn({batch, 3, kUnetSize, kUnetSize}, DType::f32, device);
  NoGradGuard no_grad;
  bench::run_steps(state, device, batch, 2 * macs * batch, [&] { benchmark::DoNotOptimize((*model)(x)); });
}

// Names: net/<workload>/<device>/<parameters>, the same in tools/bench_torch.py.
const bool registered = [] {
  std::vector<Device> devices{Device::cpu};
#ifdef GLIA_HAVE_CUDA
  devices.push_back(Device::cuda);
#endif
  for (Device d : devices) {
    const std::string dev = device_name(d);
    const bool gpu = d == Device::cuda;
    // The GPU also runs the batches a training run there would use: B1 at 128, the U-Net at 32.
    const int64_t infer_big = gpu ? 32 : 8;
    const std::vector<int64_t> train_batches = gpu ? std::vector<int64_t>{32, 128} : std::vector<int64_t>{8};
    const std::vector<int64_t> unet_batches = gpu ? std::vector<int64_t>{8, 32} : std::vector<int64_t>{1};
    for (int64_t batch : {int64_t{1}, infer_big})
      benchmark::RegisterBenchmark(("net/effnet_b1_infer/" + dev + "/batch:" + std::to_string(batch)).c_str(),
                                   effnet_b1_infer, d, batch)
          ->Unit(benchmark::kMillisecond)->UseRealTime();
    benchmark::RegisterBenchmark(("net/effnet_b1_fwd_bwd/" + dev + "/batch:" + std::to_string(train_batches[0])).c_str(),
                                 effnet_b1_fwd_bwd, d, train_batches[0])
        ->Unit(benchmark::kMillisecond)->UseRealTime();
    // fp16 only where it is the usual choice (tensor cores); the CPU's 16-bit type is bf16.
    const std::vector<Precision> precisions =
        gpu ? std::vector<Precision>{Precision::fp32, Precision::bf16, Precision::fp16}
            : std::vector<Precision>{Precision::fp32, Precision::bf16};
    auto suffix = [](Precision p) {
      return p == Precision::fp32 ? std::string() : std::string("/precision:") + precision_name(p);
    };
    for (Precision p : precisions)
      for (int64_t batch : train_batches)
        for (bool frozen : {false, true})
          benchmark::RegisterBenchmark(
              ("net/effnet_b1_train" + std::string(frozen ? "_frozen" : "") + "/" + dev + "/batch:" +
               std::to_string(batch) + suffix(p)).c_str(),
              effnet_b1_train, d, batch, frozen, p)
              ->Unit(benchmark::kMillisecond)->UseRealTime();
    for (Precision p : precisions)
      for (int64_t batch : unet_batches)
        for (int64_t width : {int64_t{64}, int64_t{16}})
          benchmark::RegisterBenchmark(("net/unet_train/" + dev + "/width:" + std::to_string(width) + "/batch:" +
                                        std::to_string(batch) + suffix(p)).c_str(),
                                       unet_train, d, width, batch, p)
              ->Unit(benchmark::kMillisecond)->UseRealTime();
    for (int64_t batch : unet_batches)
      for (int64_t width : {int64_t{64}, int64_t{16}})
        benchmark::RegisterBenchmark(("net/unet_infer/" + dev + "/width:" + std::to_string(width) + "/batch:" +
                                      std::to_string(batch)).c_str(),
                                     unet_infer, d, width, batch)
            ->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  return true;
}();

}  // namespace
