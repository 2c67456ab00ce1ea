// conv_transpose2d (kernels/conv_transpose2d.h) on every backend: forward, backward to
// input, backward to weight, at the residual U-Net's up-convolutions (width 64, 256x256
// input): 2x2 stride 2, halving the channels and doubling the size, one per decoder level
// (up4: 1024 -> 512 at 16 -> 32 pixels, ..., up1: 128 -> 64 at 128 -> 256), and the bias
// gradient of the up-convs (the only biased convs of the U-Net's levels; the kernel is
// conv2d_backward_bias, shared with conv2d: a sum of gy over N, H, W per channel).
// FLOPs 2 * N * C_in * H_in * W_in * C_out * KH * KW per pass; least bytes: x, w, y once
// (bias: gy read once, one add per element).
// The "tiny" shape runs on cpu and sim only (emulator time is meaningless).
//   bench_conv_transpose2d --benchmark_filter=/cpu/
// PyTorch's side: tools/bench_torch_kernels.py (same names).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "bench/bench_kernels.h"
#include "kernels/conv_transpose2d.h"

namespace {

using namespace glia;
using namespace glia::kernels;
using bench::Buffer;

struct UpConv {
  const char* name;
  int64_t c_in, hw_in, c_out, k, stride;
};
const std::vector<UpConv> kUpConvs = {
    {"unet_up4_2x2s2_1024to512_16", 1024, 16, 512, 2, 2},
    {"unet_up3_2x2s2_512to256_32", 512, 32, 256, 2, 2},
    {"unet_up2_2x2s2_256to128_64", 256, 64, 128, 2, 2},
    {"unet_up1_2x2s2_128to64_128", 128, 128, 64, 2, 2},
};
const UpConv kTiny{"tiny_2x2s2_8to4_6", 8, 6, 4, 2, 2};
constexpr int64_t kTinyBatch = 2;

ConvTranspose2dShape shape_of(const UpConv& u, int64_t n) {
  ConvTranspose2dShape s;
  s.n = n, s.c_in = u.c_in, s.h_in = s.w_in = u.hw_in, s.c_out = u.c_out, s.kh = s.kw = u.k;
  s.stride_h = s.stride_w = u.stride;
  return s;
}

struct Work {
  int64_t nx, nw, ny;
  double flops, bytes;
};
Work work_of(const ConvTranspose2dShape& s) {
  Work w;
  w.nx = s.n * s.c_in * s.h_in * s.w_in;
  w.nw = s.c_in * s.c_out * s.kh * s.kw;
  w.ny = s.n * s.c_out * s.h_out() * s.w_out();
  w.flops = 2.0 * double(w.nx) * double(s.c_out * s.kh * s.kw);
  w.bytes = 4.0 * double(w.nx + w.nw + w.ny);
  return w;
}

enum class Pass { forward, backward_input, backward_weight, backward_bias };
const char* pass_name(Pass p) {
  switch (p) {
    case Pass::forward: return "forward";
    case Pass::backward_input: return "backward_input";
    case Pass::backward_weight: return "backward_weight";
    case Pass::backward_bias: return "backward_bias";
  }
  return "?";
}

bool pass_runnable(benchmark::State& state, Backend b, Pass pass) {
  if (pass == Pass::forward) return bench::runnable(state, b, conv_transpose2d_kernel);
  if (pass == Pass::backward_input) return bench::runnable(state, b, conv_transpose2d_backward_input_kernel);
  if (pass == Pass::backward_bias) return bench::runnable(state, b, conv2d_backward_bias_kernel);
  return bench::runnable(state, b, conv_transpose2d_backward_weight_kernel);
}

void run_conv_transpose2d(benchmark::State& state, Backend b, Pass pass, const UpConv& u, int64_t n) {
  if (!pass_runnable(state, b, pass)) return;
  const Device d = bench::device_of(b);
  const ConvTranspose2dShape s = shape_of(u, n);
  const Work work = work_of(s);
  Buffer x = Buffer::floats(d, work.nx), w = Buffer::floats(d, work.nw), y = Buffer::floats(d, work.ny);
  if (pass == Pass::forward) {
    auto& fn = conv_transpose2d_kernel.get(b);
    bench::time_counted(state, b, fn, ConvTranspose2dParams{DType::f32, s, x.get(), w.get(), nullptr, y.get()});
  } else if (pass == Pass::backward_input) {
    auto& fn = conv_transpose2d_backward_input_kernel.get(b);
    bench::time_counted(state, b, fn, ConvTranspose2dBackwardInputParams{DType::f32, s, y.get(), w.get(), x.get()});
  } else if (pass == Pass::backward_weight) {
    auto& fn = conv_transpose2d_backward_weight_kernel.get(b);
    bench::time_counted(state, b, fn, ConvTranspose2dBackwardWeightParams{DType::f32, s, x.get(), y.get(), w.get()});
  } else {
    auto& fn = conv2d_backward_bias_kernel.get(b);
    Buffer gbias = Buffer::floats(d, s.c_out);
    bench::time_counted(state, b, fn, Conv2dBackwardBiasParams{DType::f32, s.n, s.c_out, s.h_out() * s.w_out(), y.get(), gbias.get()});
    return;
  }
}

void register_conv_transpose2d() {
  for (Backend b : bench::backends(/*library_variant=*/true)) {
    for (Pass pass : {Pass::forward, Pass::backward_input, Pass::backward_weight, Pass::backward_bias}) {
      auto add = [&](const UpConv& u, int64_t n) {
        bench::add_case(bench::case_name("conv_transpose2d", pass_name(pass), b, u.name, n), b,
                        [=](benchmark::State& state) { run_conv_transpose2d(state, b, pass, u, n); });
      };
      if (b == Backend::cpu || b == Backend::sim) add(kTiny, kTinyBatch);
      for (const UpConv& u : kUpConvs) {
        const Work one = work_of(shape_of(u, 1));
        for (int64_t n : bench::batches(b, one.flops, one.bytes)) add(u, n);
      }
    }
  }
}
GLIA_BENCH_REGISTER(register_conv_transpose2d);

}  // namespace
