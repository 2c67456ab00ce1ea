// conv2d on the GPU: glia's hand-written kernels (kernels/cuda/conv2d.cu, Backend::cuda:
// implicit GEMM, and the direct depthwise kernels) against cuDNN (kernels/cudnn/
// conv_cudnn.cpp, Backend::cudnn) at EfficientNet-B1 (240x240 input) and U-Net layer
// shapes, batch 8, float32: forward, backward to input, backward to weight. GFLOP/s from
// 2 * N * C_out * Ho * Wo * (C_in/groups) * KH * KW FLOPs per call, timed on the GPU with
// events. Without a GPU every case reports an error and is skipped.
//
//   build/bench/bench_conv_gpu --benchmark_format=json
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/device.h"
#include "kernels/runtime.h"
#ifdef GLIA_HAVE_CUDA
#include "kernels/cuda/cuda_runtime_wrappers.h"
#endif

namespace {

using glia::Backend;
using glia::Device;
using glia::kernels::Conv2dShape;

struct Layer {
  const char* name;
  int64_t c_in, hw, c_out, k, stride, groups;
};

// B1 at 240: stem, a stage-2 expand 1x1, depthwise 3x3 s1 / 5x5 s2, a project 1x1, a late
// stage's 1x1; U-Net (base width 32): a full-resolution and a deeper 3x3 conv.
const Layer kLayers[] = {
    {"b1_stem_3x3s2_3to32", 3, 240, 32, 3, 2, 1},
    {"b1_expand_1x1_24to144", 24, 60, 144, 1, 1, 1},
    {"b1_dw3x3s1_144", 144, 60, 144, 3, 1, 144},
    {"b1_dw5x5s2_144", 144, 60, 144, 5, 2, 144},
    {"b1_dw3x3s1_480", 480, 15, 480, 3, 1, 480},
    {"b1_project_1x1_240to40", 240, 30, 40, 1, 1, 1},
    {"b1_head_1x1_320to1280", 320, 8, 1280, 1, 1, 1},
    {"unet_3x3_32to32_256", 32, 256, 32, 3, 1, 1},
    {"unet_3x3_128to128_64", 128, 64, 128, 3, 1, 1},
};
constexpr int kNumLayers = sizeof(kLayers) / sizeof(kLayers[0]);
const char* const kOps[] = {"forward", "backward_input", "backward_weight"};

Conv2dShape shape_of(const Layer& l) {
  Conv2dShape s;
  s.n = 8, s.c_in = l.c_in, s.h_in = s.w_in = l.hw, s.c_out = l.c_out, s.kh = s.kw = l.k;
  s.stride_h = s.stride_w = l.stride;
  // TensorFlow "same" padding, as B1 uses (asymmetric for stride 2 on even sizes).
  auto p = glia::kernels::same_padding(l.hw, l.k, l.stride);
  s.pad_top = s.pad_left = p.before, s.pad_bottom = s.pad_right = p.after;
  s.groups = l.groups;
  return s;
}

void conv(benchmark::State& state, Backend b) {
  const Layer& l = kLayers[state.range(0)];
  const int op = static_cast<int>(state.range(1));
  state.SetLabel(std::string(l.name) + "/" + kOps[op]);
  if (!glia::device_available(Device::cuda)) {
    state.SkipWithError("device 'cuda' is not available here");
    return;
  }
  if (!glia::kernels::conv2d_kernel.has(b)) {
    state.SkipWithError((std::string("no conv2d kernel on backend '") + glia::backend_name(b) + "'").c_str());
    return;
  }
  const Conv2dShape s = shape_of(l);
  const size_t nx = size_t(s.n * s.c_in * s.h_in * s.w_in), ny = size_t(s.n * s.c_out * s.h_out() * s.w_out());
  const size_t nw = size_t(s.c_out * (s.c_in / s.groups) * s.kh * s.kw);
  std::vector<float> host(std::max(nx, std::max(ny, nw)));
  for (size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>((i * 7919) % 1000) / 1000.0f - 0.5f;
  auto upload = [&](size_t n) {
    void* p = glia::rt::alloc(Device::cuda, n * sizeof(float));
    glia::rt::copy(p, Device::cuda, host.data(), Device::cpu, n * sizeof(float));
    return p;
  };
  void* x = upload(nx);
  void* w = upload(nw);
  void* y = upload(ny);
  auto run = [&] {
    if (op == 0) glia::kernels::conv2d_kernel.get(b)({glia::DType::f32, s, x, w, nullptr, y});
    else if (op == 1) glia::kernels::conv2d_backward_input_kernel.get(b)({glia::DType::f32, s, y, w, x});
    else glia::kernels::conv2d_backward_weight_kernel.get(b)({glia::DType::f32, s, x, y, w});
  };
  run();  // warm-up: handles, algorithm choice
  glia::rt::synchronize(Device::cuda);
  for (auto _ : state) {
#ifdef GLIA_HAVE_CUDA
    glia::cuda_rt::GpuTimer timer;
    run();
    state.SetIterationTime(timer.stop_ms() * 1e-3);
#else
    run();
#endif
  }
  const double flops = 2.0 * double(s.n * s.c_out * s.h_out() * s.w_out()) * double(s.c_in / s.groups) * double(s.kh * s.kw);
  state.counters["GFLOP"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  glia::rt::release(Device::cuda, x, nx * sizeof(float));
  glia::rt::release(Device::cuda, w, nw * sizeof(float));
  glia::rt::release(Device::cuda, y, ny * sizeof(float));
}

void BM_ConvHandCuda(benchmark::State& state) { conv(state, Backend::cuda); }
void BM_ConvCudnn(benchmark::State& state) { conv(state, Backend::cudnn); }

BENCHMARK(BM_ConvHandCuda)
    ->ArgsProduct({benchmark::CreateDenseRange(0, kNumLayers - 1, 1), {0, 1, 2}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ConvCudnn)
    ->ArgsProduct({benchmark::CreateDenseRange(0, kNumLayers - 1, 1), {0, 1, 2}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
