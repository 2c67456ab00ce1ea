// A/B of the layer ops that tensor/ now runs on dedicated kernels against the composed
// forms they replaced (kept here, and only here, as the baseline), in one process so a
// loaded machine slows both sides alike: compare the ratio of a pair, not its times.
//   dropout            x * (bernoulli(1 - p) * 1 / (1 - p))       [8, 40, 60, 60], p 0.2
//   stochastic_depth   the same with a [N, 1, 1, 1] mask           [8, 40, 60, 60], p 0.2
//   avg_pool2d         3x3 stride 2 pad 1: 9 strided slices + adds [8, 64, 64, 64]
//   adaptive_avg_pool  to 7x7: one mean per cell, concatenated     [8, 64, 28, 28]
//   upsample_nearest   2x: A_h . x . A_w^T (two matmuls)            [8, 64, 32, 32]
//   upsample_bilinear  2x: the same with interpolation weights      [8, 64, 32, 32]
// Names: nn/<op>/<composed|kernel>/<fwd|fwd_bwd>/<device>; fwd runs without autograd,
// fwd_bwd records the graph and back-propagates a fixed gradient to the input. The
// "tiny" cases ([2, 3, 8, 8]) are the smoke run's. float32, cpu (sim would time the
// emulator).
//   bench_nn_composed --benchmark_filter='nn/avg_pool2d/'
#include <benchmark/benchmark.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "tensor/autograd.h"
#include "tensor/nn_ops.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace {

using namespace glia;
using Op = std::function<Tensor(const Tensor&, Generator&)>;

constexpr double kP = 0.2;

// ---- the composed forms tensor/ used before the kernels --------------------------------

Tensor composed_keep(const Tensor& x, const Shape& mask_shape, Generator& g) {
  Tensor keep = bernoulli(mask_shape, 1 - kP, x.dtype(), x.device(), &g);
  return x * (keep * (1.0 / (1 - kP)));
}

Tensor composed_avg_pool(const Tensor& x, int64_t k, int64_t stride, int64_t pad) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
  Tensor side = zeros({n, c, h, pad}, x.dtype(), x.device());
  Tensor cap = zeros({n, c, pad, w + 2 * pad}, x.dtype(), x.device());
  Tensor xp = concat({cap, concat({side, x, side}, 3), cap}, 2);
  Tensor total;
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) {
      Tensor tap = xp.slice(2, i, i + stride * (oh - 1) + 1, stride).slice(3, j, j + stride * (ow - 1) + 1, stride);
      total = total.defined() ? add(total, tap) : tap.contiguous();
    }
  return total * (1.0 / static_cast<double>(k * k));
}

Tensor composed_adaptive(const Tensor& x, int64_t out) {
  const int64_t h = x.size(2), w = x.size(3);
  std::vector<Tensor> rows;
  for (int64_t i = 0; i < out; ++i) {
    std::vector<Tensor> cells;
    for (int64_t j = 0; j < out; ++j)
      cells.push_back(mean(x.slice(2, i * h / out, ((i + 1) * h + out - 1) / out)
                               .slice(3, j * w / out, ((j + 1) * w + out - 1) / out),
                           {2, 3}, true));
    rows.push_back(concat(cells, 3));
  }
  return concat(rows, 2);
}

// [2 * in, in] weights of 2x nearest (one 1 per row) or bilinear, align_corners=false.
Tensor upsample_matrix(int64_t in, bool bilinear, const Tensor& like) {
  std::vector<double> a(static_cast<size_t>(2 * in * in), 0.0);
  for (int64_t o = 0; o < 2 * in; ++o) {
    if (!bilinear) {
      a[static_cast<size_t>(o * in + o / 2)] = 1;
      continue;
    }
    const double src = std::max((static_cast<double>(o) + 0.5) / 2 - 0.5, 0.0);
    const int64_t i0 = std::min<int64_t>(static_cast<int64_t>(src), in - 1), i1 = std::min(i0 + 1, in - 1);
    a[static_cast<size_t>(o * in + i0)] += 1 - (src - static_cast<double>(i0));
    a[static_cast<size_t>(o * in + i1)] += src - static_cast<double>(i0);
  }
  return from_vector(a, {2 * in, in}, like.dtype(), like.device());
}

Tensor composed_upsample(const Tensor& x, bool bilinear) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  Tensor mh = upsample_matrix(h, bilinear, x), mw = upsample_matrix(w, bilinear, x);
  return matmul(matmul(mh, x.reshape({n * c, h, w})), mw.transpose(0, 1)).reshape({n, c, 2 * h, 2 * w});
}

// ---- cases ------------------------------------------------------------------------------

struct Case {
  std::string op;
  Shape shape, tiny;
  Op composed, kernel;
};

std::vector<Case> cases() {
  const Shape act{8, 40, 60, 60}, tiny{2, 3, 8, 8};
  return {
      {"dropout", act, tiny, [](const Tensor& x, Generator& g) { return composed_keep(x, x.sizes(), g); },
       [](const Tensor& x, Generator& g) { return dropout(x, kP, true, &g); }},
      {"stochastic_depth", act, tiny,
       [](const Tensor& x, Generator& g) { return composed_keep(x, {x.size(0), 1, 1, 1}, g); },
       [](const Tensor& x, Generator& g) { return stochastic_depth(x, kP, true, &g); }},
      {"avg_pool2d", {8, 64, 64, 64}, tiny, [](const Tensor& x, Generator&) { return composed_avg_pool(x, 3, 2, 1); },
       [](const Tensor& x, Generator&) { return avg_pool2d(x, 3, 2, 1); }},
      {"adaptive_avg_pool", {8, 64, 28, 28}, tiny, [](const Tensor& x, Generator&) { return composed_adaptive(x, 7); },
       [](const Tensor& x, Generator&) { return adaptive_avg_pool2d(x, 7, 7); }},
      {"upsample_nearest", {8, 64, 32, 32}, tiny, [](const Tensor& x, Generator&) { return composed_upsample(x, false); },
       [](const Tensor& x, Generator&) { return upsample_nearest2d(x, 2 * x.size(2), 2 * x.size(3)); }},
      {"upsample_bilinear", {8, 64, 32, 32}, tiny, [](const Tensor& x, Generator&) { return composed_upsample(x, true); },
       [](const Tensor& x, Generator&) { return upsample_bilinear2d(x, 2 * x.size(2), 2 * x.size(3)); }},
  };
}

void run(benchmark::State& state, const Shape& shape, const Op& op, bool backward) {
  const Device device = Device::cpu;
  Generator data(3), masks(4);
  Tensor x = randn(shape, DType::f32, device, &data);
  Tensor upstream;
  {
    NoGradGuard no_grad;
    upstream = randn(op(x, masks).sizes(), DType::f32, device, &data);
  }
  state.SetLabel(shape_str(shape));
  if (!backward) {
    NoGradGuard no_grad;
    bench::run_steps(state, device, shape[0], 0, [&] { benchmark::DoNotOptimize(op(x, masks)); });
    return;
  }
  x.requires_grad_();
  bench::run_steps(state, device, shape[0], 0, [&] {
    op(x, masks).backward(upstream);
    x.set_grad(Tensor());
  });
}

const bool registered = [] {
  for (const Case& c : cases())
    for (bool tiny : {true, false})
      for (bool backward : {false, true})
        for (bool kernel : {false, true}) {
          const std::string name = "nn/" + c.op + "/" + (kernel ? "kernel" : "composed") + "/" +
                                   (backward ? "fwd_bwd" : "fwd") + "/cpu" + (tiny ? "/tiny" : "");
          const Shape shape = tiny ? c.tiny : c.shape;
          const Op op = kernel ? c.kernel : c.composed;
          benchmark::RegisterBenchmark(name.c_str(), [shape, op, backward](benchmark::State& s) {
            run(s, shape, op, backward);
          })->Unit(benchmark::kMillisecond)->UseRealTime();
        }
  return true;
}();

}  // namespace
