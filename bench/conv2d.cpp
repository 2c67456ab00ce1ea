// conv2d (kernels/conv2d.h) on every backend: forward, backward to input, backward to
// weight, at every kind of convolution EfficientNet-B1 (240x240 input) and the residual
// U-Net (256x256, width 64) run: B1's stem, each stage's 1x1 expand, depthwise 3x3/5x5 at
// stride 1 and 2, 1x1 project, the squeeze-excite 1x1s and the head 1x1; the U-Net's 3x3
// per level, its 1x1 shortcuts and head. Padding k/2 on both sides, as both networks use.
// FLOPs 2 * N * C_out * Ho * Wo * (C_in/groups) * KH * KW per pass; least bytes: x, w and
// y once each (float32). Backends and batches: bench/bench_kernels.h; the "tiny" shapes
// run on cpu and sim (emulator time is meaningless: they prove the path and count work).
//   bench_conv2d --benchmark_filter='conv2d/forward/cpu/b1_'
//   bench_conv2d --benchmark_filter='/cudnn/|/cuda/'        (a CUDA build on a GPU)
//   bf16_avx512_<layer>, bf16_plain_<layer>  (cpu) bfloat16 x, w, gy with float32
//                     accumulation and float32 output (kernels/cpu/conv2d_half.cpp), on
//                     the AVX512-BF16 GEMM path and on the plain one; the float32 case of
//                     the same layer is the baseline.
// PyTorch's side: tools/bench_torch_kernels.py (same names; not yet the bf16_ cases).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench_kernels.h"
#include "kernels/conv2d.h"
#include "kernels/cpu/half_gemm.h"

namespace {

using namespace glia;
using namespace glia::kernels;
using bench::Buffer;

struct ConvLayer {
  const char* name;
  int64_t c_in, hw, c_out, k, stride, groups;
};

// clang-format off
const std::vector<ConvLayer> kNetworkLayers = {
    // EfficientNet-B1, stem to head (stage s1..s7: 120, 120, 60, 30, 15, 15, 8, 8 pixels)
    {"b1_stem_3x3s2_3to32", 3, 240, 32, 3, 2, 1},
    {"b1_s1_dw3x3s1_32", 32, 120, 32, 3, 1, 32},
    {"b1_s1_project_32to16", 32, 120, 16, 1, 1, 1},
    {"b1_s2_expand_16to96", 16, 120, 96, 1, 1, 1},
    {"b1_s2_dw3x3s2_96", 96, 120, 96, 3, 2, 96},
    {"b1_s2_expand_24to144", 24, 60, 144, 1, 1, 1},
    {"b1_s2_dw3x3s1_144", 144, 60, 144, 3, 1, 144},
    {"b1_s2_se_reduce_144to6", 144, 1, 6, 1, 1, 1},
    {"b1_s2_se_expand_6to144", 6, 1, 144, 1, 1, 1},
    {"b1_s2_project_144to24", 144, 60, 24, 1, 1, 1},
    {"b1_s3_dw5x5s2_144", 144, 60, 144, 5, 2, 144},
    {"b1_s3_expand_40to240", 40, 30, 240, 1, 1, 1},
    {"b1_s3_dw5x5s1_240", 240, 30, 240, 5, 1, 240},
    {"b1_s3_project_240to40", 240, 30, 40, 1, 1, 1},
    {"b1_s4_dw3x3s2_240", 240, 30, 240, 3, 2, 240},
    {"b1_s4_expand_80to480", 80, 15, 480, 1, 1, 1},
    {"b1_s4_dw3x3s1_480", 480, 15, 480, 3, 1, 480},
    {"b1_s4_project_480to80", 480, 15, 80, 1, 1, 1},
    {"b1_s5_expand_112to672", 112, 15, 672, 1, 1, 1},
    {"b1_s5_dw5x5s1_672", 672, 15, 672, 5, 1, 672},
    {"b1_s5_project_672to112", 672, 15, 112, 1, 1, 1},
    {"b1_s6_dw5x5s2_672", 672, 15, 672, 5, 2, 672},
    {"b1_s6_expand_192to1152", 192, 8, 1152, 1, 1, 1},
    {"b1_s6_dw5x5s1_1152", 1152, 8, 1152, 5, 1, 1152},
    {"b1_s6_project_1152to192", 1152, 8, 192, 1, 1, 1},
    {"b1_s7_dw3x3s1_1152", 1152, 8, 1152, 3, 1, 1152},
    {"b1_s7_project_1152to320", 1152, 8, 320, 1, 1, 1},
    {"b1_head_1x1_320to1280", 320, 8, 1280, 1, 1, 1},
    // residual U-Net, width 64: level l1..l4 encoders (256..32 pixels), l5 the bottleneck
    {"unet_l1_3x3_3to64", 3, 256, 64, 3, 1, 1},
    {"unet_l1_3x3_64to64", 64, 256, 64, 3, 1, 1},
    {"unet_l1_shortcut_1x1_3to64", 3, 256, 64, 1, 1, 1},
    {"unet_l1_dec_3x3_128to64", 128, 256, 64, 3, 1, 1},
    {"unet_l1_dec_shortcut_1x1_128to64", 128, 256, 64, 1, 1, 1},
    {"unet_l1_head_1x1_64to1", 64, 256, 1, 1, 1, 1},
    {"unet_l2_3x3_64to128", 64, 128, 128, 3, 1, 1},
    {"unet_l2_3x3_128to128", 128, 128, 128, 3, 1, 1},
    {"unet_l2_shortcut_1x1_64to128", 64, 128, 128, 1, 1, 1},
    {"unet_l3_3x3_256to256", 256, 64, 256, 3, 1, 1},
    {"unet_l4_3x3_512to512", 512, 32, 512, 3, 1, 1},
    {"unet_l5_3x3_512to1024", 512, 16, 1024, 3, 1, 1},
    {"unet_l5_3x3_1024to1024", 1024, 16, 1024, 3, 1, 1},
};
// Small enough for the emulator (and the ctest smoke run): batch 2.
const std::vector<ConvLayer> kTinyLayers = {
    {"tiny_3x3_8to16_12", 8, 12, 16, 3, 1, 1},
    {"tiny_dw3x3s2_16_12", 16, 12, 16, 3, 2, 16},
};
// clang-format on
constexpr int64_t kTinyBatch = 2;

Conv2dShape shape_of(const ConvLayer& l, int64_t n) {
  Conv2dShape s;
  s.n = n, s.c_in = l.c_in, s.h_in = s.w_in = l.hw, s.c_out = l.c_out, s.kh = s.kw = l.k;
  s.stride_h = s.stride_w = l.stride;
  s.pad_top = s.pad_bottom = s.pad_left = s.pad_right = l.k / 2;
  s.groups = l.groups;
  return s;
}

struct Work {
  int64_t nx, nw, ny;
  double flops, bytes;
};
Work work_of(const Conv2dShape& s) {
  Work w;
  w.nx = s.n * s.c_in * s.h_in * s.w_in;
  w.nw = s.c_out * (s.c_in / s.groups) * s.kh * s.kw;
  w.ny = s.n * s.c_out * s.h_out() * s.w_out();
  w.flops = 2.0 * double(w.ny) * double(s.c_in / s.groups * s.kh * s.kw);
  w.bytes = 4.0 * double(w.nx + w.nw + w.ny);
  return w;
}

enum class Pass { forward, backward_input, backward_weight };
const char* pass_name(Pass p) {
  return p == Pass::forward ? "forward" : p == Pass::backward_input ? "backward_input" : "backward_weight";
}

bool pass_runnable(benchmark::State& state, Backend b, Pass pass) {
  if (pass == Pass::forward) return bench::runnable(state, b, conv2d_kernel);
  if (pass == Pass::backward_input) return bench::runnable(state, b, conv2d_backward_input_kernel);
  return bench::runnable(state, b, conv2d_backward_weight_kernel);
}

void run_conv2d(benchmark::State& state, Backend b, Pass pass, const ConvLayer& layer, int64_t n) {
  if (!pass_runnable(state, b, pass)) return;
  const Device d = bench::device_of(b);
  const Conv2dShape s = shape_of(layer, n);
  const Work work = work_of(s);
  Buffer x = Buffer::floats(d, work.nx), w = Buffer::floats(d, work.nw), y = Buffer::floats(d, work.ny);
  if (pass == Pass::forward) {
    auto& fn = conv2d_kernel.get(b);
    bench::time_counted(state, b, fn, Conv2dParams{DType::f32, s, x.get(), w.get(), nullptr, y.get()});
  } else if (pass == Pass::backward_input) {
    auto& fn = conv2d_backward_input_kernel.get(b);
    bench::time_counted(state, b, fn, Conv2dBackwardInputParams{DType::f32, s, y.get(), w.get(), x.get()});
  } else {
    auto& fn = conv2d_backward_weight_kernel.get(b);
    bench::time_counted(state, b, fn, Conv2dBackwardWeightParams{DType::f32, s, x.get(), y.get(), w.get()});
  }
}

void register_conv2d() {
  for (Backend b : bench::backends(/*library_variant=*/true)) {
    for (Pass pass : {Pass::forward, Pass::backward_input, Pass::backward_weight}) {
      auto add = [&](const ConvLayer& l, int64_t n) {
        bench::add_case(bench::case_name("conv2d", pass_name(pass), b, l.name, n), b,
                        [=](benchmark::State& state) { run_conv2d(state, b, pass, l, n); });
      };
      if (b == Backend::cpu || b == Backend::sim)
        for (const ConvLayer& l : kTinyLayers) add(l, kTinyBatch);
      for (const ConvLayer& l : kNetworkLayers) {
        const Work one = work_of(shape_of(l, 1));
        for (int64_t n : bench::batches(b, one.flops, one.bytes)) add(l, n);
      }
    }
  }
}
GLIA_BENCH_REGISTER(register_conv2d);

void run_conv2d_bf16(benchmark::State& state, bool avx512, Pass pass, const ConvLayer& layer, int64_t n) {
  if (avx512 && !cpu::avx512_bf16_supported()) {
    state.SkipWithError("this CPU has no AVX512-BF16");
    return;
  }
  const Conv2dShape s = shape_of(layer, n);
  const Work work = work_of(s);
  auto bf16_ramp = [](int64_t count) {
    std::vector<glia::bfloat16> v;
    for (float f : bench::ramp_values(count, -0.5f, 0.5f)) v.push_back(glia::bfloat16(f));
    return v;
  };
  const std::vector<glia::bfloat16> x = bf16_ramp(work.nx), w = bf16_ramp(work.nw), gy = bf16_ramp(work.ny);
  std::vector<float> out(size_t(std::max({work.nx, work.nw, work.ny})));
  const bool old = cpu::use_avx512_bf16(avx512);
  if (pass == Pass::forward) {
    bench::time_counted(state, Backend::cpu, cpu::conv2d,
                        Conv2dParams{DType::bf16, s, x.data(), w.data(), nullptr, out.data(), DType::f32});
  } else if (pass == Pass::backward_input) {
    bench::time_counted(state, Backend::cpu, cpu::conv2d_backward_input,
                        Conv2dBackwardInputParams{DType::bf16, s, gy.data(), w.data(), out.data(), DType::f32});
  } else {
    bench::time_counted(state, Backend::cpu, cpu::conv2d_backward_weight,
                        Conv2dBackwardWeightParams{DType::bf16, s, x.data(), gy.data(), out.data(), DType::f32});
  }
  cpu::use_avx512_bf16(old);
}

void register_conv2d_bf16() {
  for (bool avx512 : {true, false})
    for (Pass pass : {Pass::forward, Pass::backward_input, Pass::backward_weight})
      for (const ConvLayer& l : kNetworkLayers) {
        const Work one = work_of(shape_of(l, 1));
        for (int64_t n : bench::batches(Backend::cpu, one.flops, one.bytes)) {
          const std::string shape = std::string(avx512 ? "bf16_avx512_" : "bf16_plain_") + l.name;
          bench::add_case(bench::case_name("conv2d", pass_name(pass), Backend::cpu, shape, n), Backend::cpu,
                          [=](benchmark::State& state) { run_conv2d_bf16(state, avx512, pass, l, n); });
        }
      }
}
GLIA_BENCH_REGISTER(register_conv2d_bf16);

}  // namespace
