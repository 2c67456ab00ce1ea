// Softmax family (kernels/softmax.h) on every backend: softmax over classes and its
// backward, cross-entropy on logits with class-index targets (forward, backward) at the
// paper's 4-class head and torchvision's 1000-class head (n rows), and binary
// cross-entropy with logits (forward, backward) over the U-Net's output map [N, 1, 256, 256].
// Memory-bound: GB/s from the least bytes (inputs read once, outputs written once).
// The "tiny" shapes run on cpu and sim only (emulator time is meaningless).
//   bench_softmax --benchmark_filter=cross_entropy
// PyTorch's side: tools/bench_torch_kernels.py (same names).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench_kernels.h"
#include "kernels/softmax.h"

namespace {

using namespace glia;
using namespace glia::kernels;
using bench::Buffer;

enum class Op { softmax, softmax_backward, cross_entropy, cross_entropy_backward, bce, bce_backward };
const char* op_name(Op op) {
  switch (op) {
    case Op::softmax: return "forward";
    case Op::softmax_backward: return "backward";
    case Op::cross_entropy: return "cross_entropy";
    case Op::cross_entropy_backward: return "cross_entropy_backward";
    case Op::bce: return "bce_with_logits";
    case Op::bce_backward: return "bce_with_logits_backward";
  }
  return "?";
}
bool is_bce(Op op) { return op == Op::bce || op == Op::bce_backward; }

// A row width: classes per sample (softmax, cross-entropy) or elements per image (BCE).
struct Width {
  const char* name;
  int64_t size;
};
const std::vector<Width> kClassWidths = {{"classes_4", 4}, {"classes_1000", 1000}};
const Width kUnetMap{"unet_out_1x256", 256 * 256};
const Width kTinyClasses{"tiny_classes_10", 10}, kTinyMap{"tiny_map_1x12", 144};
constexpr int64_t kTinyBatch = 2;

double bytes_of(Op op, int64_t n, int64_t width) {
  const double all = double(n * width);
  switch (op) {
    case Op::softmax: return 8.0 * all;
    case Op::softmax_backward: return 12.0 * all;
    case Op::cross_entropy: return 4.0 * all + 12.0 * double(n);            // logits, targets, loss
    case Op::cross_entropy_backward: return 8.0 * all + 16.0 * double(n);  // + grad_loss, grad_logits
    case Op::bce: return 12.0 * all;
    case Op::bce_backward: return 16.0 * all;
  }
  return 0;
}

bool op_runnable(benchmark::State& state, Backend b, Op op) {
  switch (op) {
    case Op::softmax: return bench::runnable(state, b, softmax_kernel);
    case Op::softmax_backward: return bench::runnable(state, b, softmax_backward_kernel);
    case Op::cross_entropy: return bench::runnable(state, b, cross_entropy_kernel);
    case Op::cross_entropy_backward: return bench::runnable(state, b, cross_entropy_backward_kernel);
    case Op::bce: return bench::runnable(state, b, bce_with_logits_kernel);
    case Op::bce_backward: return bench::runnable(state, b, bce_with_logits_backward_kernel);
  }
  return false;
}

void run_softmax(benchmark::State& state, Backend b, Op op, Width width, int64_t n) {
  if (!op_runnable(state, b, op)) return;
  const Device d = bench::device_of(b);
  const int64_t all = n * width.size;
  Buffer x = Buffer::floats(d, all), gy = Buffer::floats(d, all), out = Buffer::floats(d, all);
  Buffer per_sample = Buffer::floats(d, n), target_index = Buffer::int64s(d, n, width.size);
  Buffer target_prob = Buffer::floats(d, all, 0.0f, 1.0f);
  CrossEntropyParams ce;
  ce.n = n, ce.classes = width.size, ce.logits = x.get(), ce.target_index = target_index.as<int64_t>();
  ce.loss = per_sample.get();
  BceWithLogitsParams bce;
  bce.n = all, bce.logits = x.get(), bce.target = target_prob.get(), bce.loss = out.get();
  switch (op) {
    case Op::softmax: {
      auto& fn = softmax_kernel.get(b);
      bench::time_counted(state, b, fn, SoftmaxParams{DType::f32, false, n, width.size, 1, x.get(), out.get()});
      break;
    }
    case Op::softmax_backward: {
      auto& fn = softmax_backward_kernel.get(b);
      bench::time_counted(state, b, fn, SoftmaxBackwardParams{DType::f32, false, n, width.size, 1, x.get(), gy.get(), out.get()});
      break;
    }
    case Op::cross_entropy: {
      auto& fn = cross_entropy_kernel.get(b);
      bench::time_counted(state, b, fn, ce);
      break;
    }
    case Op::cross_entropy_backward: {
      auto& fn = cross_entropy_backward_kernel.get(b);
      bench::time_counted(state, b, fn, CrossEntropyBackwardParams{ce, per_sample.get(), out.get()});
      break;
    }
    case Op::bce: {
      auto& fn = bce_with_logits_kernel.get(b);
      bench::time_counted(state, b, fn, bce);
      break;
    }
    case Op::bce_backward: {
      auto& fn = bce_with_logits_backward_kernel.get(b);
      bench::time_counted(state, b, fn, BceWithLogitsBackwardParams{bce, gy.get(), out.get()});
      break;
    }
  }
}

void register_softmax() {
  for (Backend b : bench::backends(/*library_variant=*/false)) {
    for (Op op : {Op::softmax, Op::softmax_backward, Op::cross_entropy, Op::cross_entropy_backward, Op::bce,
                  Op::bce_backward}) {
      auto add = [&](const Width& w, int64_t n) {
        bench::add_case(bench::case_name("softmax", op_name(op), b, w.name, n), b,
                        [=](benchmark::State& state) { run_softmax(state, b, op, w, n); });
      };
      if (b == Backend::cpu || b == Backend::sim) add(is_bce(op) ? kTinyMap : kTinyClasses, kTinyBatch);
      const std::vector<Width> widths = is_bce(op) ? std::vector<Width>{kUnetMap} : kClassWidths;
      for (const Width& w : widths)
        for (int64_t n : bench::batches(b, 0, bytes_of(op, 1, w.size))) add(w, n);
    }
  }
}
GLIA_BENCH_REGISTER(register_softmax);

}  // namespace
