// The networks' building blocks at their real shapes, each timed alone: where inside a
// network the time goes, one block at a time, beside PyTorch (tools/bench_torch_nets.py
// builds the same blocks from torchvision's EfficientNet-B1 and tools/unet.py).
//   b1_stem           features.0     conv 3x3 s2 3->32, BN, SiLU          on [N, 3, 240, 240]
//   b1_mbconv1..7     features.i.0   the first MBConv of stage i (expand ratio, kernel 3/5,
//                                    stride, squeeze-excitation as the network has them)
//   b1_head           features.8     conv 1x1 320->1280, BN, SiLU         on [N, 320, 8, 8]
//   unet_enc0..3      encoders.i     residual block of level i (width 64, 256x256 input)
//   unet_bottleneck   bottleneck     residual block 512->1024             on [N, 512, 16, 16]
//   unet_dec0..3      upconvs.i + concat(skip, up) + decoders.i, deepest level first
// The blocks are taken out of the networks themselves (nets::efficientnet("b1"),
// nets::UNet width 64), so they are exactly what the networks run.
//
// Passes: fwd is the inference forward (eval mode, no autograd); fwd_bwd is a training
// forward (batch statistics, autograd) and the backward of a fixed random upstream
// gradient to every parameter and to the block's inputs (not to the stem's image),
// with the gradients dropped after each step. GFLOP/s counts 2 x the forward's
// multiply-adds (nn::summarize), 3x that for fwd_bwd.
//
// Names: layer/<block>/<pass>/<device>/batch:<N>; cpu at batch 1 (and 8 for the B1 blocks,
// where a call stays well under a second), cuda at 1 and 32 (an error, skipped, without a
// GPU). The label gives the block and its input shape.
//   bench_layers --benchmark_filter='layer/b1_.*/cpu/batch:1/'
#include <benchmark/benchmark.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "kernels/runtime.h"
#include "nets/efficientnet.h"
#include "nets/unet.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace {

using namespace glia;

constexpr int64_t kEffnetSize = 240, kUnetSize = 256, kUnetWidth = 64;

// One block of a network: its module (for modes and parameters), its inputs' shapes for
// one image, its forward multiply-adds per image and how to call it.
struct Block {
  std::string label;
  nn::Module* module = nullptr;
  std::vector<Shape> inputs;  // batch 1
  int64_t macs = 0;           // per image
  bool input_grad = true;     // false for the stem (its input is the image)
  std::function<Tensor(const std::vector<Tensor>&)> call;
};

Shape with_batch(Shape s, int64_t batch) {
  s[0] = batch;
  return s;
}

// The networks, built once per device (the blocks point into them).
nets::EfficientNet& effnet_b1(Device device) {
  static std::map<Device, std::shared_ptr<nets::EfficientNet>> nets;
  auto& net = nets[device];
  if (!net) {
    manual_seed(1);
    net = nets::efficientnet("b1", 1000);
    net->to(device);
  }
  return *net;
}

nets::UNet& unet(Device device) {
  static std::map<Device, std::shared_ptr<nets::UNet>> nets;
  auto& net = nets[device];
  if (!net) {
    manual_seed(1);
    nets::UNetConfig config;
    config.width = kUnetWidth;
    net = std::make_shared<nets::UNet>(config);
    net->to(device);
  }
  return *net;
}

// Input shape (batch 1) of each of features.0 .. features.8, from one forward on the CPU.
const std::vector<Shape>& effnet_feature_inputs() {
  static const std::vector<Shape> shapes = [] {
    std::vector<Shape> s;
    NoGradGuard no_grad;
    nets::EfficientNet& net = effnet_b1(Device::cpu);
    net.eval();
    Tensor x = zeros({1, 3, kEffnetSize, kEffnetSize});
    for (int64_t i = 0; i < net.features()->size(); ++i) {
      s.push_back(x.sizes());
      x = (*net.features()->at(i))(x);
    }
    return s;
  }();
  return shapes;
}

int64_t macs_of(nn::Module& m, const Shape& input, Device device) {
  return nn::summarize(m, input, DType::f32, device).total_macs;
}

// index 0: the stem, 1..7: the first MBConv of stage i, 8: the head conv.
Block effnet_block(Device device, int64_t index) {
  nets::EfficientNet& net = effnet_b1(device);
  nn::Module* stage = net.features()->at(index);
  const bool mbconv = index >= 1 && index <= 7;
  Block b;
  b.module = mbconv ? static_cast<nn::Sequential*>(stage)->at(0) : stage;
  b.inputs = {effnet_feature_inputs()[static_cast<size_t>(index)]};
  b.macs = macs_of(*b.module, b.inputs[0], device);
  b.input_grad = index != 0;
  const std::string what = mbconv ? "MBConv " + b.module->describe() : std::string("conv-bn-silu");
  b.label = "features." + std::to_string(index) + (mbconv ? ".0 " : " ") + what + " on " + shape_str(b.inputs[0]);
  nn::Module* m = b.module;
  b.call = [m](const std::vector<Tensor>& in) { return (*m)(in[0]); };
  return b;
}

// kind "enc" (level 0..3), "bottleneck", "dec" (decoders.i, deepest first).
Block unet_block(Device device, const std::string& kind, int64_t i) {
  nets::UNet& net = unet(device);
  Block b;
  if (kind == "enc") {
    const int64_t in = i == 0 ? 3 : kUnetWidth << (i - 1), size = kUnetSize >> i;
    b.module = net.child("encoders")->child(std::to_string(i));
    b.inputs = {{1, in, size, size}};
    b.label = "encoders." + std::to_string(i);
  } else if (kind == "bottleneck") {
    const int64_t depth = net.config().depth;
    b.module = net.child("bottleneck");
    b.inputs = {{1, kUnetWidth << (depth - 1), kUnetSize >> depth, kUnetSize >> depth}};
    b.label = "bottleneck";
  } else {  // dec: up = upconvs.i(x); decoders.i(concat(skip, up))
    const int64_t level = net.config().depth - 1 - i, w = kUnetWidth << level, size = kUnetSize >> level;
    nn::Module* up = net.child("upconvs")->child(std::to_string(i));
    nn::Module* dec = net.child("decoders")->child(std::to_string(i));
    b.module = &net;  // holds both: modes and gradients are set on the whole U-Net
    b.inputs = {{1, 2 * w, size / 2, size / 2}, {1, w, size, size}};
    b.macs = macs_of(*up, b.inputs[0], device) + macs_of(*dec, {1, 2 * w, size, size}, device);
    b.label = "upconvs." + std::to_string(i) + " + concat + decoders." + std::to_string(i) + " " + dec->describe() +
              " on x " + shape_str(b.inputs[0]) + ", skip " + shape_str(b.inputs[1]);
    b.call = [up, dec](const std::vector<Tensor>& in) { return (*dec)(concat({in[1], (*up)(in[0])}, 1)); };
    return b;
  }
  b.macs = macs_of(*b.module, b.inputs[0], device);
  b.label += " " + b.module->describe() + " on " + shape_str(b.inputs[0]);
  nn::Module* m = b.module;
  b.call = [m](const std::vector<Tensor>& in) { return (*m)(in[0]); };
  return b;
}

void bench_block(benchmark::State& state, Device device, const std::function<Block(Device)>& make, bool backward,
                 int64_t batch) {
  if (bench::skip_if_unavailable(state, device)) return;
  const Block b = make(device);
  state.SetLabel(b.label);
  manual_seed(2);
  std::vector<Tensor> inputs;
  for (const Shape& s : b.inputs) inputs.push_back(randn(with_batch(s, batch), DType::f32, device));
  const double flops = (backward ? 6.0 : 2.0) * static_cast<double>(b.macs) * static_cast<double>(batch);
  if (!backward) {
    b.module->eval();
    NoGradGuard no_grad;
    bench::run_steps(state, device, batch, flops, [&] { benchmark::DoNotOptimize(b.call(inputs)); });
    return;
  }
  b.module->train();
  if (b.input_grad)
    for (const Tensor& t : inputs) t.requires_grad_();
  Tensor upstream;  // a fixed gradient of the block's output, shaped by one forward
  {
    NoGradGuard no_grad;
    upstream = randn(b.call(inputs).sizes(), DType::f32, device);
  }
  const std::vector<Tensor> params = b.module->parameters(true);
  bench::run_steps(state, device, batch, flops, [&] {
    b.call(inputs).backward(upstream);
    for (const Tensor& p : params) p.set_grad(Tensor());
    for (const Tensor& t : inputs) t.set_grad(Tensor());
  });
}

const bool registered = [] {
  struct Entry {
    std::string name;
    std::function<Block(Device)> make;
    bool cpu_batch8;
  };
  std::vector<Entry> entries;
  for (int64_t i = 0; i <= 8; ++i) {
    const std::string name = i == 0 ? "b1_stem" : i == 8 ? "b1_head" : "b1_mbconv" + std::to_string(i);
    entries.push_back({name, [i](Device d) { return effnet_block(d, i); }, true});
  }
  for (int64_t i = 0; i < 4; ++i)
    entries.push_back({"unet_enc" + std::to_string(i), [i](Device d) { return unet_block(d, "enc", i); }, false});
  entries.push_back({"unet_bottleneck", [](Device d) { return unet_block(d, "bottleneck", 0); }, false});
  for (int64_t i = 0; i < 4; ++i)
    entries.push_back({"unet_dec" + std::to_string(i), [i](Device d) { return unet_block(d, "dec", i); }, false});

  std::vector<Device> devices{Device::cpu};
#ifdef GLIA_HAVE_CUDA
  devices.push_back(Device::cuda);
#endif
  for (const Entry& e : entries)
    for (bool backward : {false, true})
      for (Device d : devices) {
        std::vector<int64_t> batches{1};
        if (d == Device::cuda) batches.push_back(32);
        else if (e.cpu_batch8) batches.push_back(8);
        for (int64_t batch : batches)
          benchmark::RegisterBenchmark(("layer/" + e.name + (backward ? "/fwd_bwd/" : "/fwd/") + device_name(d) +
                                        "/batch:" + std::to_string(batch)).c_str(),
                                       bench_block, d, e.make, backward, batch)
              ->Unit(benchmark::kMillisecond)->UseRealTime();
      }
  return true;
}();

}  // namespace
