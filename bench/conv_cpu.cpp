// CPU layer-kernel throughput at EfficientNet-B1 (240x240 input) and residual U-Net
// (256x256) shapes: conv2d forward and both backwards, batch norm, max pool. GFLOP/s from
// 2 * multiply-adds, GB/s from the least bytes an op must move (each input read once,
// each output written once). Real time, since OpenMP and OpenBLAS use several threads.
//   bench_conv_cpu --benchmark_filter=conv
// Compare with PyTorch: /usr/bin/python3 tools/bench_torch_conv.py (same shapes).
// The GEMM-based convs depend on OpenBLAS picking the right kernel for the CPU: the
// context line "openblas_core" shows it (a virtualised AVX-512 Xeon can be misdetected as
// "Prescott", 3-4x slower; OPENBLAS_CORETYPE=SkylakeX overrides).
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdint>
#include <vector>

#include "bench/bench_common.h"
#include "kernels/batch_norm.h"
#include "kernels/conv2d.h"
#include "kernels/pool.h"

namespace {

using namespace glia;
using namespace glia::kernels;

const bool openblas_context_added = [] {
  benchmark::AddCustomContext("openblas_core", openblas_get_corename());
  return true;
}();

std::vector<float> ramp(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.001f * static_cast<float>(i % 1000) - 0.5f;
  return v;
}

// args: n, c_in, hw, c_out, k, stride, groups; "same" padding.
Conv2dShape conv_shape(const benchmark::State& state) {
  Conv2dShape s;
  s.n = state.range(0), s.c_in = state.range(1), s.h_in = s.w_in = state.range(2), s.c_out = state.range(3);
  s.kh = s.kw = state.range(4);
  s.stride_h = s.stride_w = state.range(5);
  s.groups = state.range(6);
  auto pad = same_padding(s.h_in, s.kh, s.stride_h);
  s.pad_top = s.pad_left = pad.before;
  s.pad_bottom = s.pad_right = pad.after;
  return s;
}

enum class Pass { forward, backward_input, backward_weight };

template <Pass kPass>
void BM_conv2d(benchmark::State& state) {
  const Conv2dShape s = conv_shape(state);
  const int64_t nx = s.n * s.c_in * s.h_in * s.w_in, nw = s.c_out * (s.c_in / s.groups) * s.kh * s.kw;
  const int64_t ny = s.n * s.c_out * s.h_out() * s.w_out();
  auto x = ramp(nx), w = ramp(nw), y = ramp(ny), b = ramp(s.c_out);
  for (auto _ : state) {
    if (kPass == Pass::forward) cpu::conv2d({DType::f32, s, x.data(), w.data(), b.data(), y.data()});
    if (kPass == Pass::backward_input) cpu::conv2d_backward_input({DType::f32, s, y.data(), w.data(), x.data()});
    if (kPass == Pass::backward_weight) cpu::conv2d_backward_weight({DType::f32, s, x.data(), y.data(), w.data()});
    benchmark::ClobberMemory();
  }
  const double macs = double(ny) * double(s.c_in / s.groups * s.kh * s.kw);
  bench::set_throughput(state, 2 * macs, 4.0 * double(nx + nw + ny));
}

// n, c_in, hw, c_out, k, stride, groups
#define GLIA_CONV_SHAPES(bm)                                                                    \
  BENCHMARK(bm)                                                                                 \
      ->ArgNames({"n", "cin", "hw", "cout", "k", "s", "g"})                                     \
      ->Args({1, 3, 240, 32, 3, 2, 1})     /* EfficientNet stem */                              \
      ->Args({1, 96, 60, 96, 3, 1, 96})    /* depthwise 3x3, stage 2 */                         \
      ->Args({1, 96, 120, 96, 3, 2, 96})   /* depthwise 3x3 stride 2, stage 2 entry */         \
      ->Args({1, 24, 60, 144, 1, 1, 1})    /* 1x1 expand, stage 2 */                            \
      ->Args({1, 240, 30, 240, 5, 1, 240}) /* depthwise 5x5, stage 3 */                         \
      ->Args({1, 64, 256, 64, 3, 1, 1})    /* U-Net level 1 */                                  \
      ->Args({1, 256, 64, 256, 3, 1, 1})   /* U-Net level 3 */                                  \
      ->Unit(benchmark::kMillisecond)                                                           \
      ->UseRealTime()
GLIA_CONV_SHAPES(BM_conv2d<Pass::forward>);
GLIA_CONV_SHAPES(BM_conv2d<Pass::backward_input>);
GLIA_CONV_SHAPES(BM_conv2d<Pass::backward_weight>);

// args: n, c, hw
void BM_batch_norm_train(benchmark::State& state) {
  const int64_t n = state.range(0), c = state.range(1), hw = state.range(2) * state.range(2), numel = n * c * hw;
  auto x = ramp(numel), y = ramp(numel), g = ramp(c), b = ramp(c), rm = ramp(c), rv = ramp(c), sm = ramp(c),
       si = ramp(c);
  for (float& v : rv) v = 1.f;
  BatchNormParams p;
  p.n = n, p.c = c, p.hw = hw, p.x = x.data(), p.gamma = g.data(), p.beta = b.data(), p.y = y.data();
  p.running_mean = rm.data(), p.running_var = rv.data(), p.save_mean = sm.data(), p.save_invstd = si.data();
  for (auto _ : state) {
    cpu::batch_norm(p);
    benchmark::ClobberMemory();
  }
  bench::set_throughput(state, 0, 8.0 * double(numel));  // read x, write y
}
BENCHMARK(BM_batch_norm_train)->Args({8, 144, 60})->Args({4, 64, 128})->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_batch_norm_backward(benchmark::State& state) {
  const int64_t n = state.range(0), c = state.range(1), hw = state.range(2) * state.range(2), numel = n * c * hw;
  auto x = ramp(numel), gy = ramp(numel), gx = ramp(numel), g = ramp(c), sm = ramp(c), si = ramp(c), gg = ramp(c),
       gb = ramp(c);
  BatchNormBackwardParams p;
  p.n = n, p.c = c, p.hw = hw, p.x = x.data(), p.gy = gy.data(), p.gamma = g.data(), p.save_mean = sm.data(),
  p.save_invstd = si.data(), p.gx = gx.data(), p.ggamma = gg.data(), p.gbeta = gb.data();
  for (auto _ : state) {
    cpu::batch_norm_backward(p);
    benchmark::ClobberMemory();
  }
  bench::set_throughput(state, 0, 12.0 * double(numel));  // read x, gy, write gx
}
BENCHMARK(BM_batch_norm_backward)->Args({8, 144, 60})->Args({4, 64, 128})->Unit(benchmark::kMillisecond)->UseRealTime();

// args: n, c, hw, k, stride, pad
void BM_max_pool2d(benchmark::State& state) {
  Pool2dShape s;
  s.n = state.range(0), s.c = state.range(1), s.h_in = s.w_in = state.range(2);
  s.kh = s.kw = state.range(3), s.stride_h = s.stride_w = state.range(4), s.pad_h = s.pad_w = state.range(5);
  const int64_t nx = s.n * s.c * s.h_in * s.w_in, ny = s.n * s.c * s.h_out() * s.w_out();
  auto x = ramp(nx), y = ramp(ny);
  std::vector<int64_t> idx(static_cast<size_t>(ny));
  for (auto _ : state) {
    cpu::max_pool2d({DType::f32, s, x.data(), y.data(), idx.data()});
    benchmark::ClobberMemory();
  }
  bench::set_throughput(state, 0, 4.0 * double(nx + ny) + 8.0 * double(ny));
}
BENCHMARK(BM_max_pool2d)->Args({4, 64, 256, 2, 2, 0})->Args({4, 64, 128, 3, 2, 1})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
