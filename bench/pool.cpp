// Pooling family (kernels/pool.h) on every backend (cudnn: cuDNN's average pooling):
//   max_pool2d / avg_pool2d, forward and backward, 2x2 stride 2 at the U-Net's encoder
//     levels (its downsampling), plus the older CPU suite's batch-4 shapes (one a 3x3
//     stride-2 pad-1 window)
//   global_avg_pool, forward and backward, at EfficientNet-B1's stages (squeeze-excite's
//     squeeze) and head (before the classifier)
// Memory-bound: least bytes x read and y written (max pooling: and the int64 argmax).
// The "tiny" shapes run on cpu and sim only (emulator time is meaningless).
//   bench_pool --benchmark_filter=max_pool2d
// PyTorch's side: tools/bench_torch_kernels.py (same names).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bench/bench_kernels.h"
#include "kernels/pool.h"

namespace {

using namespace glia;
using namespace glia::kernels;
using bench::Activation;
using bench::Buffer;

enum class Op { max, max_backward, avg, avg_backward, global_avg, global_avg_backward };
const char* op_name(Op op) {
  switch (op) {
    case Op::max: return "max_pool2d";
    case Op::max_backward: return "max_pool2d_backward";
    case Op::avg: return "avg_pool2d";
    case Op::avg_backward: return "avg_pool2d_backward";
    case Op::global_avg: return "global_avg_pool";
    case Op::global_avg_backward: return "global_avg_pool_backward";
  }
  return "?";
}
bool is_global(Op op) { return op == Op::global_avg || op == Op::global_avg_backward; }

struct Window {
  Activation a;  // the input
  int64_t k, stride, pad;
  std::string name() const {
    return std::string(a.name) + "_" + std::to_string(k) + "x" + std::to_string(k) + "s" + std::to_string(stride) +
           (pad > 0 ? "p" + std::to_string(pad) : "");
  }
};
// The U-Net pools each encoder level's output 2x2 (l1..l4).
std::vector<Window> unet_windows() {
  std::vector<Window> v;
  const auto& levels = bench::unet_level_activations();
  for (size_t i = 0; i + 1 < levels.size(); ++i) v.push_back({levels[i], 2, 2, 0});
  return v;
}
const std::vector<std::pair<Window, int64_t>> kCpuSmall = {
    {{{"unet_l1_64x256", 64, 256}, 2, 2, 0}, 4}, {{{"small_64x128", 64, 128}, 3, 2, 1}, 4}};
const Window kTinyWindow{{"tiny_8x12", 8, 12}, 2, 2, 0};
const Activation kTinyMap{"tiny_8x12", 8, 12};
constexpr int64_t kTinyBatch = 2;

Pool2dShape shape_of(const Window& w, int64_t n) {
  Pool2dShape s;
  s.n = n, s.c = w.a.c, s.h_in = s.w_in = w.a.hw, s.kh = s.kw = w.k;
  s.stride_h = s.stride_w = w.stride, s.pad_h = s.pad_w = w.pad;
  return s;
}

// (input elements, output elements) -> least bytes
double bytes_of(Op op, int64_t nx, int64_t ny) {
  const bool max = op == Op::max || op == Op::max_backward;
  return 4.0 * double(nx + ny) + (max ? 8.0 * double(ny) : 0.0);
}

bool op_runnable(benchmark::State& state, Backend b, Op op) {
  switch (op) {
    case Op::max: return bench::runnable(state, b, max_pool2d_kernel);
    case Op::max_backward: return bench::runnable(state, b, max_pool2d_backward_kernel);
    case Op::avg: return bench::runnable(state, b, avg_pool2d_kernel);
    case Op::avg_backward: return bench::runnable(state, b, avg_pool2d_backward_kernel);
    case Op::global_avg: return bench::runnable(state, b, global_avg_pool_kernel);
    case Op::global_avg_backward: return bench::runnable(state, b, global_avg_pool_backward_kernel);
  }
  return false;
}

void run_window(benchmark::State& state, Backend b, Op op, const Window& win, int64_t n) {
  if (!op_runnable(state, b, op)) return;
  const Device d = bench::device_of(b);
  const Pool2dShape s = shape_of(win, n);
  const int64_t nx = s.n * s.c * s.h_in * s.w_in, ny = s.n * s.c * s.h_out() * s.w_out();
  Buffer x = Buffer::floats(d, nx), y = Buffer::floats(d, ny);
  Buffer indices = Buffer::int64s(d, ny, s.h_in * s.w_in);  // valid argmax positions in each plane
  switch (op) {
    case Op::max: {
      auto& fn = max_pool2d_kernel.get(b);
      bench::time_calls(state, b, [&] { fn({DType::f32, s, x.get(), y.get(), indices.as<int64_t>()}); });
      break;
    }
    case Op::max_backward: {
      auto& fn = max_pool2d_backward_kernel.get(b);
      bench::time_calls(state, b, [&] { fn({DType::f32, s, y.get(), indices.as<int64_t>(), x.get()}); });
      break;
    }
    case Op::avg: {
      auto& fn = avg_pool2d_kernel.get(b);
      bench::time_calls(state, b, [&] { fn({DType::f32, s, true, x.get(), y.get()}); });
      break;
    }
    default: {
      auto& fn = avg_pool2d_backward_kernel.get(b);
      bench::time_calls(state, b, [&] { fn({DType::f32, s, true, y.get(), x.get()}); });
      break;
    }
  }
  bench::set_throughput(state, 0, bytes_of(op, nx, ny), d);
}

void run_global(benchmark::State& state, Backend b, Op op, const Activation& a, int64_t n) {
  if (!op_runnable(state, b, op)) return;
  const Device d = bench::device_of(b);
  const int64_t nx = n * a.numel(), ny = n * a.c;
  Buffer x = Buffer::floats(d, nx), y = Buffer::floats(d, ny);
  if (op == Op::global_avg) {
    auto& fn = global_avg_pool_kernel.get(b);
    bench::time_calls(state, b, [&] { fn({DType::f32, n, a.c, a.hw * a.hw, x.get(), y.get()}); });
  } else {
    auto& fn = global_avg_pool_backward_kernel.get(b);
    bench::time_calls(state, b, [&] { fn({DType::f32, n, a.c, a.hw * a.hw, y.get(), x.get()}); });
  }
  bench::set_throughput(state, 0, bytes_of(op, nx, ny), d);
}

void register_pool() {
  for (Backend b : bench::backends(/*library_variant=*/true)) {
    for (Op op : {Op::max, Op::max_backward, Op::avg, Op::avg_backward, Op::global_avg, Op::global_avg_backward}) {
      if (b == Backend::cudnn && op != Op::avg) continue;  // cuDNN serves the average forward only
      const bool host = b == Backend::cpu || b == Backend::sim;
      if (is_global(op)) {
        auto add = [&](const Activation& a, int64_t n) {
          bench::add_case(bench::case_name("pool", op_name(op), b, a.name, n), b,
                          [=](benchmark::State& state) { run_global(state, b, op, a, n); });
        };
        if (host) add(kTinyMap, kTinyBatch);
        for (const Activation& a : bench::b1_stage_activations())
          for (int64_t n : bench::batches(b, 0, bytes_of(op, a.numel(), a.c))) add(a, n);
        continue;
      }
      auto add = [&](const Window& w, int64_t n) {
        bench::add_case(bench::case_name("pool", op_name(op), b, w.name(), n), b,
                        [=](benchmark::State& state) { run_window(state, b, op, w, n); });
      };
      if (host) add(kTinyWindow, kTinyBatch);
      if (b == Backend::cpu)
        for (const auto& [w, n] : kCpuSmall) add(w, n);
      for (const Window& w : unet_windows()) {
        const Pool2dShape one = shape_of(w, 1);
        for (int64_t n : bench::batches(b, 0, bytes_of(op, w.a.numel(), one.c * one.h_out() * one.w_out()))) add(w, n);
      }
    }
  }
}
GLIA_BENCH_REGISTER(register_pool);

}  // namespace
