// Elementwise family (kernels/elementwise.h) on every backend, at the activation sizes of
// EfficientNet-B1's stages and the U-Net's levels (bench/bench_kernels.h):
//   add              residual adds (both networks): a + b, same shape
//   mul_per_channel  squeeze-excite's scale (B1): x[N, C, H, W] * s[N, C] broadcast over H, W
//   silu, sigmoid    B1's activations, forward and backward
//   relu             the U-Net's activation, forward and backward
// plus the flat 4M-element add and SiLU of the older CPU suite. All memory-bound: GB/s
// from the least bytes (each input read once, the output written once); unary ops count
// no FLOPs (an exp is not one FLOP). The "tiny" shape runs on cpu and sim only.
//   bench_elementwise --benchmark_filter='silu.*/cpu/'
// PyTorch's side: tools/bench_torch_kernels.py (same names).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench_kernels.h"
#include "kernels/elementwise.h"

namespace {

using namespace glia;
using namespace glia::kernels;
using bench::Activation;
using bench::Buffer;

enum class Kind { add, mul_per_channel, unary, unary_backward };

struct Op {
  const char* name;
  Kind kind;
  UnaryOp unary;
  bool b1, unet, flat;  // which shape sets it runs at
};

const std::vector<Op> kOps = {
    {"add", Kind::add, UnaryOp::neg, true, true, true},
    {"mul_per_channel", Kind::mul_per_channel, UnaryOp::neg, true, false, false},
    {"silu", Kind::unary, UnaryOp::silu, true, false, true},
    {"silu_backward", Kind::unary_backward, UnaryOp::silu, true, false, true},
    {"sigmoid", Kind::unary, UnaryOp::sigmoid, true, false, false},
    {"sigmoid_backward", Kind::unary_backward, UnaryOp::sigmoid, true, false, false},
    {"relu", Kind::unary, UnaryOp::relu, false, true, false},
    {"relu_backward", Kind::unary_backward, UnaryOp::relu, false, true, false},
};

const Activation kTiny{"tiny_8x12", 8, 12};
constexpr int64_t kTinyBatch = 2;
const Activation kFlat{"flat_4194304", 1, 2048};  // 4 << 20 elements

double bytes_of(const Op& op, int64_t numel, int64_t channels) {
  switch (op.kind) {
    case Kind::add: return 12.0 * double(numel);
    case Kind::mul_per_channel: return 8.0 * double(numel) + 4.0 * double(channels);
    case Kind::unary: return 8.0 * double(numel);
    case Kind::unary_backward: return 12.0 * double(numel);
  }
  return 0;
}

bool op_runnable(benchmark::State& state, Backend b, const Op& op) {
  if (op.kind == Kind::unary) return bench::runnable(state, b, unary_kernel);
  if (op.kind == Kind::unary_backward) return bench::runnable(state, b, unary_backward_kernel);
  return bench::runnable(state, b, binary_kernel);
}

void run_elementwise(benchmark::State& state, Backend b, const Op& op, const Activation& a, int64_t n) {
  if (!op_runnable(state, b, op)) return;
  const Device d = bench::device_of(b);
  const int64_t numel = n * a.numel(), channels = n * a.c, hw = a.hw * a.hw;
  Buffer x = Buffer::floats(d, numel), y = Buffer::floats(d, numel), out = Buffer::floats(d, numel);
  if (op.kind == Kind::unary) {
    auto& fn = unary_kernel.get(b);
    bench::time_counted(state, b, fn, UnaryParams{DType::f32, op.unary, 0, numel, x.get(), out.get()});
  } else if (op.kind == Kind::unary_backward) {
    auto& fn = unary_backward_kernel.get(b);
    bench::time_counted(state, b, fn, UnaryBackwardParams{DType::f32, op.unary, 0, numel, x.get(), y.get(), out.get()});
  } else {
    BinaryParams p;
    p.op = op.kind == Kind::add ? BinaryOp::add : BinaryOp::mul;
    p.ndim = 2;  // [N * C, H * W]; the per-channel factor has stride 0 along H * W
    p.sizes[0] = channels, p.sizes[1] = hw;
    p.a_strides[0] = hw, p.a_strides[1] = 1;
    if (op.kind == Kind::add) p.b_strides[0] = hw, p.b_strides[1] = 1;
    else p.b_strides[0] = 1, p.b_strides[1] = 0;
    p.numel = numel, p.a = x.get(), p.b = y.get(), p.out = out.get();
    auto& fn = binary_kernel.get(b);
    bench::time_counted(state, b, fn, p);
  }
}

void register_elementwise() {
  for (Backend b : bench::backends(/*library_variant=*/false)) {
    for (const Op& op : kOps) {
      auto add = [&](const Activation& a, int64_t n) {
        bench::add_case(bench::case_name("elementwise", op.name, b, a.name, n), b,
                        [=](benchmark::State& state) { run_elementwise(state, b, op, a, n); });
      };
      if (b == Backend::cpu || b == Backend::sim) add(kTiny, kTinyBatch);
      if (b == Backend::sim) continue;
      if (op.flat && b == Backend::cpu) add(kFlat, 1);
      std::vector<Activation> shapes;
      if (op.b1) shapes = bench::b1_stage_activations();
      if (op.unet) shapes.insert(shapes.end(), bench::unet_level_activations().begin(), bench::unet_level_activations().end());
      for (const Activation& a : shapes)
        for (int64_t n : bench::batches(b, 0, bytes_of(op, a.numel(), a.c))) add(a, n);
    }
  }
}
GLIA_BENCH_REGISTER(register_elementwise);

}  // namespace
