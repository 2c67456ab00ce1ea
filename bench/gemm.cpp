// GEMM (kernels/gemm.h) on every backend: cpu is OpenBLAS, sim and cuda glia's tiled
// register-blocked kernel (kernels/cuda/gemm.cu), cudnn cuBLAS. Shapes:
//   square_<n>        n x n x n: 256 and 1024 on cpu, 512 to 4096 on the GPU
//   <net>_im2col_...  the GEMM of a convolution lowered to im2col, one per image of the
//                     batch (batched GEMM, the weights shared): C_out x HW x C_in*K*K
//   fc_1280to<c>      a classifier's Linear layer: N x classes x 1280
// FLOPs 2 * M * N * K per GEMM; least bytes A, B and C once each (float32).
// The "tiny" shape runs on cpu and sim only (emulator time is meaningless).
//   harness_<case>_<ta><tb>  the GEMM cases of the kernel test harness
//                     (tests/kernels_ops/cases.h), on cpu and, where small enough, sim.
//   bench_gemm --benchmark_filter=square
// bf16 (family gemm_bf16, register_gemm_bf16_family below): the same shapes with bfloat16 A, B
// and C, float32 accumulate, on every backend whose kernel takes bf16 (cudnn: cuBLAS
// GemmEx; cuda: the hand tensor-core kernel once it exists; others skip with the
// kernel's error). gpu-check compares gemm_bf16/forward/cuda/square_4096 (hand) with
// .../cudnn/square_4096 (cuBLAS).
// PyTorch's side: tools/bench_torch_kernels.py (same names).
//   bf16_avx512_<shape>, bf16_plain_<shape>  (cpu) the same shapes with bfloat16 A and B,
//                     float32 accumulation and C (kernels/cpu/half_gemm.h), on the
//                     AVX512-BF16 path and on the plain one (widen + OpenBLAS SGEMM):
//                     bench_gemm --benchmark_filter='gemm/forward/cpu/(bf16_avx512_|bf16_plain_)?(square|unet)'
// PyTorch's side: tools/bench_torch_kernels.py (same names; not yet the bf16_ cases).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench_16bit.h"
#include "bench/bench_kernels.h"
#include "kernels/cpu/half_gemm.h"
#include "kernels/gemm.h"
#include "tests/kernels_ops/cases.h"

namespace {

using namespace glia;
using namespace glia::kernels;
using bench::Buffer;

enum class Kind { square, per_image, rows };  // batch: none, batched GEMM, M = batch
struct GemmShape {
  const char* name;
  Kind kind;
  int64_t m, n, k;  // per image (per_image), per sample row (rows: m is 1)
};

const std::vector<GemmShape> kCpuSquare = {{"square_256", Kind::square, 256, 256, 256},
                                           {"square_1024", Kind::square, 1024, 1024, 1024}};
const std::vector<GemmShape> kGpuSquare = {{"square_512", Kind::square, 512, 512, 512},
                                           {"square_1024", Kind::square, 1024, 1024, 1024},
                                           {"square_2048", Kind::square, 2048, 2048, 2048},
                                           {"square_4096", Kind::square, 4096, 4096, 4096}};
const std::vector<GemmShape> kNetworkShapes = {
    {"b1_s2_expand_im2col_144x3600x24", Kind::per_image, 144, 3600, 24},
    {"b1_head_im2col_1280x64x320", Kind::per_image, 1280, 64, 320},
    {"unet_l1_im2col_64x65536x576", Kind::per_image, 64, 65536, 576},
    {"unet_l3_im2col_256x4096x2304", Kind::per_image, 256, 4096, 2304},
    {"fc_1280to4", Kind::rows, 1, 4, 1280},
    {"fc_1280to1000", Kind::rows, 1, 1000, 1280},
};
const GemmShape kTiny{"tiny_24x40x56", Kind::per_image, 24, 40, 56};
constexpr int64_t kTinyBatch = 2;

struct Work {
  GemmParams p;
  int64_t na, nb, nc;
  double flops, bytes;
};
Work work_of(const GemmShape& g, int64_t batch) {
  Work w;
  GemmParams& p = w.p;
  p.m = g.kind == Kind::rows ? batch : g.m, p.n = g.n, p.k = g.k;
  p.lda = p.k, p.ldb = p.n, p.ldc = p.n;
  p.batch = g.kind == Kind::per_image ? batch : 1;
  p.stride_a = 0, p.stride_b = p.k * p.n, p.stride_c = p.m * p.n;  // one weight matrix for every image
  w.na = p.m * p.k, w.nb = p.batch * p.k * p.n, w.nc = p.batch * p.m * p.n;
  w.flops = 2.0 * double(p.batch) * double(p.m) * double(p.n) * double(p.k);
  w.bytes = 4.0 * double(w.na + w.nb + w.nc);
  return w;
}

void run_gemm(benchmark::State& state, Backend b, const GemmShape& g, int64_t batch) {
  if (!bench::runnable(state, b, gemm_kernel)) return;
  const Device d = bench::device_of(b);
  Work w = work_of(g, batch);
  Buffer a = Buffer::floats(d, w.na), bm = Buffer::floats(d, w.nb), c = Buffer::floats(d, w.nc);
  w.p.a = a.get(), w.p.b = bm.get(), w.p.c = c.get();
  auto& fn = gemm_kernel.get(b);
  bench::time_counted(state, b, fn, w.p);
}

// One case of the test harness's table, with its leading dimensions and batch layout.
void run_harness_case(benchmark::State& state, Backend b, const test::ops::GemmCase& g) {
  if (!bench::runnable(state, b, gemm_kernel)) return;
  const Device d = bench::device_of(b);
  GemmParams p;
  p.trans_a = g.trans_a, p.trans_b = g.trans_b, p.m = g.m, p.n = g.n, p.k = g.k, p.alpha = g.alpha, p.beta = g.beta;
  p.lda = (g.trans_a ? g.m : g.k) + g.pad, p.ldb = (g.trans_b ? g.k : g.n) + g.pad, p.ldc = g.n + g.pad;
  p.batch = g.batch;
  p.stride_a = (g.trans_a ? g.k : g.m) * p.lda + 3, p.stride_b = (g.trans_b ? g.n : g.k) * p.ldb + 3;
  p.stride_c = g.m * p.ldc + 3;
  Buffer a = Buffer::floats(d, p.stride_a * g.batch), bm = Buffer::floats(d, p.stride_b * g.batch);
  Buffer c = Buffer::floats(d, p.stride_c * g.batch);
  p.a = a.get(), p.b = bm.get(), p.c = c.get();
  auto& fn = gemm_kernel.get(b);
  bench::time_calls(state, b, [&] { fn(p); });
  bench::set_throughput(state, 2.0 * g.work(), 4.0 * double(p.stride_a + p.stride_b + 2 * p.stride_c) * double(g.batch), d);
}

// The shapes every family runs on backend b: the tiny case (cpu, sim only: the emulator is
// slow), the square sizes, and the networks' shapes at the batches bench::batches picks.
template <class Add>
void add_table_shapes(Backend b, Add add) {
  if (b == Backend::cpu || b == Backend::sim) add(kTiny, kTinyBatch);
  if (b == Backend::sim) return;
  for (const GemmShape& g : b == Backend::cpu ? kCpuSquare : kGpuSquare) add(g, 1);
  for (const GemmShape& g : kNetworkShapes) {
    const Work one = work_of(g, 1);
    for (int64_t n : bench::batches(b, one.flops, one.bytes)) add(g, n);
  }
}

void register_gemm() {
  for (Backend b : {Backend::cpu, Backend::sim})
    for (const test::ops::GemmCase& g : test::ops::gemm_cases()) {
      if (b == Backend::sim && g.work() > test::ops::kSimMaxWork) continue;
      const std::string shape = std::string("harness_") + g.name + "_" + (g.trans_a ? "t" : "n") + (g.trans_b ? "t" : "n");
      bench::add_case(bench::case_name("gemm", "forward", b, shape, g.batch), b,
                      [=](benchmark::State& state) { run_harness_case(state, b, g); });
    }
  for (Backend b : bench::backends(/*library_variant=*/true)) {
    auto add = [&](const GemmShape& g, int64_t n) {
      bench::add_case(bench::case_name("gemm", "forward", b, g.name, n), b,
                      [=](benchmark::State& state) { run_gemm(state, b, g, n); });
    };
    add_table_shapes(b, add);
  }
}
GLIA_BENCH_REGISTER(register_gemm);

// ---- bf16 ----------------------------------------------------------------------------------------
void run_gemm_bf16_family(benchmark::State& state, Backend b, const GemmShape& g, int64_t batch) {
  if (!bench::runnable(state, b, gemm_kernel)) return;
  const Device d = bench::device_of(b);
  Work w = work_of(g, batch);
  w.p.dtype = DType::bf16, w.p.out_dtype = DType::bf16;  // C bf16 too, as torch.matmul of bf16 tensors gives
  Buffer a = bench::bf16_ramp(d, w.na), bm = bench::bf16_ramp(d, w.nb), c = bench::bf16_ramp(d, w.nc);
  w.p.a = a.get(), w.p.b = bm.get(), w.p.c = c.get();
  auto& fn = gemm_kernel.get(b);
  if (!bench::takes_bf16(state, b, [&] { fn(w.p); })) return;
  bench::time_counted(state, b, fn, w.p);  // bytes from cost(): 2 per element
}

// The float32 tables again, as gemm_bf16/forward/<backend>/<shape>/n:<batch>.
void register_gemm_bf16_family() {
  for (Backend b : bench::backends(/*library_variant=*/true)) {
    auto add = [&](const GemmShape& g, int64_t n) {
      bench::add_case(bench::case_name("gemm_bf16", "forward", b, g.name, n), b,
                      [=](benchmark::State& state) { run_gemm_bf16_family(state, b, g, n); });
    };
    add_table_shapes(b, add);
  }
}
GLIA_BENCH_REGISTER(register_gemm_bf16_family);

// bfloat16 inputs on cpu, float32 C: the fp32 case of the same shape is the baseline. The
// operands are the fp32 case's ramp values rounded to bfloat16.
void run_gemm_bf16(benchmark::State& state, bool avx512, const GemmShape& g, int64_t batch) {
  if (avx512 && !cpu::avx512_bf16_supported()) {
    state.SkipWithError("this CPU has no AVX512-BF16");
    return;
  }
  Work w = work_of(g, batch);
  auto bf16_ramp = [](int64_t n) {
    std::vector<glia::bfloat16> v;
    for (float f : bench::ramp_values(n, -0.5f, 0.5f)) v.push_back(glia::bfloat16(f));
    return v;
  };
  const std::vector<glia::bfloat16> a = bf16_ramp(w.na), bm = bf16_ramp(w.nb);
  std::vector<float> c(size_t(w.nc));
  w.p.dtype = DType::bf16;
  w.p.out_dtype = DType::f32;
  w.p.a = a.data(), w.p.b = bm.data(), w.p.c = c.data();
  const bool old = cpu::use_avx512_bf16(avx512);
  bench::time_counted(state, Backend::cpu, cpu::gemm, w.p);
  cpu::use_avx512_bf16(old);
}

void register_gemm_bf16() {
  for (bool avx512 : {true, false}) {
    auto add = [&](const GemmShape& g, int64_t n) {
      const std::string shape = std::string(avx512 ? "bf16_avx512_" : "bf16_plain_") + g.name;
      bench::add_case(bench::case_name("gemm", "forward", Backend::cpu, shape, n), Backend::cpu,
                      [=](benchmark::State& state) { run_gemm_bf16(state, avx512, g, n); });
    };
    add(kTiny, kTinyBatch);
    for (const GemmShape& g : kCpuSquare) add(g, 1);
    for (const GemmShape& g : kNetworkShapes) {
      const Work one = work_of(g, 1);
      for (int64_t n : bench::batches(Backend::cpu, one.flops, one.bytes)) add(g, n);
    }
  }
}
GLIA_BENCH_REGISTER(register_gemm_bf16);

}  // namespace
