// CPU kernel throughput: OpenBLAS sgemm at square and conv-like (im2col) shapes, and the
// memory-bound elementwise / softmax / reduce kernels. Real time, since OpenMP and
// OpenBLAS run on several threads.
//   bench_cpu_ops --benchmark_filter=gemm
#include <benchmark/benchmark.h>

#include <vector>

#include "bench/bench_common.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/reduce.h"
#include "kernels/softmax.h"

namespace {

using namespace glia;
using namespace glia::kernels;

std::vector<float> ramp(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = 0.001f * static_cast<float>(i % 1000) - 0.5f;
  return v;
}

void BM_sgemm(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const auto a = ramp(static_cast<size_t>(m * k)), b = ramp(static_cast<size_t>(k * n));
  std::vector<float> c(static_cast<size_t>(m * n));
  GemmParams p;
  p.m = m;
  p.n = n;
  p.k = k;
  p.a = a.data();
  p.lda = k;
  p.b = b.data();
  p.ldb = n;
  p.c = c.data();
  p.ldc = n;
  for (auto _ : state) {
    cpu::gemm(p);
    benchmark::DoNotOptimize(c.data());
  }
  bench::set_throughput(state, 2.0 * m * n * k, 0);
}
// square, large square, and a conv-like layer: 64 output channels x 112*112 pixels x 3*3*64
BENCHMARK(BM_sgemm)->Args({256, 256, 256})->Args({1024, 1024, 1024})->Args({64, 12544, 576})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_binary_add(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto a = ramp(static_cast<size_t>(n)), b = ramp(static_cast<size_t>(n));
  std::vector<float> out(static_cast<size_t>(n));
  BinaryParams p;
  p.ndim = 1;
  p.sizes[0] = n;
  p.a_strides[0] = p.b_strides[0] = 1;
  p.numel = n;
  p.a = a.data();
  p.b = b.data();
  p.out = out.data();
  for (auto _ : state) {
    cpu::binary(p);
    benchmark::DoNotOptimize(out.data());
  }
  bench::set_throughput(state, 0, 3.0 * sizeof(float) * n);
}
BENCHMARK(BM_binary_add)->Arg(4 << 20)->Unit(benchmark::kMicrosecond)->UseRealTime();

// SiLU (EfficientNet's activation) forward and backward: exp-bound, so this is where a
// scalar libm expf shows against a vectorised one.
template <bool kBackward>
void BM_silu(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto x = ramp(static_cast<size_t>(n)), gy = ramp(static_cast<size_t>(n));
  std::vector<float> out(static_cast<size_t>(n));
  for (auto _ : state) {
    if (kBackward) {
      cpu::unary_backward({DType::f32, UnaryOp::silu, 0, n, x.data(), gy.data(), out.data()});
    } else {
      cpu::unary({DType::f32, UnaryOp::silu, 0, n, x.data(), out.data()});
    }
    benchmark::DoNotOptimize(out.data());
  }
  bench::set_throughput(state, 0, (kBackward ? 3.0 : 2.0) * sizeof(float) * n);
}
BENCHMARK(BM_silu<false>)->Arg(4 << 20)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_silu<true>)->Arg(4 << 20)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_softmax(benchmark::State& state) {
  const int64_t rows = state.range(0), dim = state.range(1);
  const auto x = ramp(static_cast<size_t>(rows * dim));
  std::vector<float> y(x.size());
  SoftmaxParams p;
  p.outer = rows;
  p.dim = dim;
  p.x = x.data();
  p.y = y.data();
  for (auto _ : state) {
    cpu::softmax(p);
    benchmark::DoNotOptimize(y.data());
  }
  bench::set_throughput(state, 0, 2.0 * sizeof(float) * rows * dim);
}
BENCHMARK(BM_softmax)->Args({32, 1000})->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_reduce_sum(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto x = ramp(static_cast<size_t>(n));
  float out = 0;
  ReduceParams p;
  p.reduce = n;
  p.x = x.data();
  p.out = &out;
  for (auto _ : state) {
    cpu::reduce(p);
    benchmark::DoNotOptimize(out);
  }
  bench::set_throughput(state, 0, sizeof(float) * static_cast<double>(n));
}
BENCHMARK(BM_reduce_sum)->Arg(4 << 20)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
