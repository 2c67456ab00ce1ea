// conv2d and conv_transpose2d through cuDNN (real-CUDA builds with GLIA_HAVE_CUDNN): the
// vendor baseline the hand-written kernels in kernels/cuda/conv2d.cu are measured against.
//
// - Plans: the descriptors, the chosen algorithm and its workspace size are made once per
//   (thread, device, direction, shape, dtype) and kept (creating descriptors and asking
//   cuDNN's heuristics costs tens of microseconds a call, as much as a small conv). The
//   workspace itself comes from glia's caching allocator each call (a cache hit after
//   the first step, and safe across streams).
// - Algorithms: cuDNN's heuristic list (cudnn*Algorithm_v7), or with GLIA_CUDNN_FIND=1
//   the measured list (cudnnFind*AlgorithmEx, once per shape); the first entry that
//   succeeded within a 256 MiB workspace. For the two backward products only
//   deterministic algorithms are taken (no float atomics), as the hand kernels
//   guarantee; when none fits, that shape runs on the hand kernel, with a note on
//   stderr the first time.
// - Math: CUDNN_FMA_MATH, so float32 stays float32 (no silent TF32 on Ampere/Hopper) and
//   results are comparable with the hand kernels and the CPU; GLIA_TF32=1 allows
//   CUDNN_TENSOR_OP_MATH (TF32 for float32).
// - cuDNN's legacy API has symmetric padding only: a conv with asymmetric ("same")
//   padding runs on the hand-written kernel instead (so GLIA_CONV=cudnn stays usable).
// - GLIA_CONV=auto (the default) sends depthwise convs to the hand kernel, as PyTorch
//   does for float32: cuDNN's depthwise algorithms are slow for the small per-channel
//   products of MBConv blocks. GLIA_CONV=cudnn keeps them on cuDNN for comparison.
// - conv_transpose2d is cuDNN's backward-data of the equivalent conv (as the hand
//   kernels), its bias added with cudnnAddTensor.
// - bf16 / f16 (issue 17): tensors CUDNN_DATA_BFLOAT16 / CUDNN_DATA_HALF (raw 16-bit
//   bits, __nv_bfloat16's layout), compute type float32, CUDNN_TENSOR_OP_MATH (tensor
//   cores), bias and outputs in the same 16-bit type. Plans are keyed by dtype, so a bf16
//   and a float32 conv of one shape keep separate algorithms. Depthwise 16-bit convs stay
//   on cuDNN under GLIA_CONV=auto (the hand depthwise kernel is float32/float64 only);
//   shapes that leave cuDNN (asymmetric padding, no deterministic algorithm) reach the
//   hand kernel, which names the dtype if it has no 16-bit path. Compiled and linked in
//   CI, not yet run on a GPU: scripts/gpu-check.sh runs them against a float64
//   reference (tests/kernels_ops/conv_16bit_ops_test.cpp) and times them.
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/conv_transpose2d.h"
#include "kernels/cudnn/cudnn_common.h"
#include "kernels/cudnn/cudnn_kernels.h"
#include "kernels/error.h"

namespace glia::kernels::cuda {  // the hand-written kernels (kernels/cuda/conv2d.cu)
void conv2d(const Conv2dParams& p);
void conv2d_backward_input(const Conv2dBackwardInputParams& p);
void conv2d_backward_weight(const Conv2dBackwardWeightParams& p);
void conv_transpose2d(const ConvTranspose2dParams& p);
void conv_transpose2d_backward_input(const ConvTranspose2dBackwardInputParams& p);
void conv_transpose2d_backward_weight(const ConvTranspose2dBackwardWeightParams& p);
}  // namespace glia::kernels::cuda

namespace glia::kernels::cudnn {
namespace {

constexpr size_t kMaxWorkspace = size_t(256) << 20;

bool symmetric(const Conv2dShape& s) { return s.pad_top == s.pad_bottom && s.pad_left == s.pad_right; }

// Descriptors of one conv: x [N, C_in, H, W], w [C_out, C_in/g, KH, KW], y [N, C_out, Ho, Wo].
struct ConvSetup {
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;
  cudnnDataType_t type;

  ConvSetup(const Conv2dShape& s, DType dtype, const char* op) : type(data_type_with_16bit(dtype, op)) {
    int n = to_int(s.n, op, "n"), ci = to_int(s.c_in, op, "c_in"), co = to_int(s.c_out, op, "c_out");
    x.set_nchw(type, n, ci, to_int(s.h_in, op, "h_in"), to_int(s.w_in, op, "w_in"));
    y.set_nchw(type, n, co, to_int(s.h_out(), op, "h_out"), to_int(s.w_out(), op, "w_out"));
    check(cudnnSetFilter4dDescriptor(w.d, type, CUDNN_TENSOR_NCHW, co, to_int(s.c_in / s.groups, op, "c_in/groups"),
                                     to_int(s.kh, op, "kh"), to_int(s.kw, op, "kw")),
          "cudnnSetFilter4dDescriptor");
    check(cudnnSetConvolution2dDescriptor(conv.d, to_int(s.pad_top, op, "pad"), to_int(s.pad_left, op, "pad"),
                                          to_int(s.stride_h, op, "stride"), to_int(s.stride_w, op, "stride"),
                                          to_int(s.dilation_h, op, "dilation"), to_int(s.dilation_w, op, "dilation"),
                                          CUDNN_CROSS_CORRELATION, is_16bit(dtype) ? CUDNN_DATA_FLOAT : type),
          "cudnnSetConvolution2dDescriptor");
    check(cudnnSetConvolutionGroupCount(conv.d, to_int(s.groups, op, "groups")), "cudnnSetConvolutionGroupCount");
    // TF32 only for float32 and only when asked; float64 has no tensor-op math to allow;
    // 16-bit tensors are what tensor cores are for (float32 accumulate either way).
    const bool tensor_ops = (tf32_allowed() && dtype == DType::f32) || is_16bit(dtype);
    check(cudnnSetConvolutionMathType(conv.d, tensor_ops ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH),
          "cudnnSetConvolutionMathType");
  }
};

enum class Direction { forward, backward_data, backward_filter };

const char* direction_name(Direction d) {
  switch (d) {
    case Direction::forward: return "forward";
    case Direction::backward_data: return "backward-data";
    case Direction::backward_filter: return "backward-filter";
  }
  return "?";
}

// One conv, one direction: descriptors and the chosen algorithm, made once per shape.
// ok == false: no algorithm qualified, the shape runs on the hand kernel.
struct Plan {
  explicit Plan(const Conv2dShape& s, DType dtype, const char* op) : c(s, dtype, op) {}
  ConvSetup c;
  bool ok = false;
  int algo = 0;  // cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t
  size_t workspace = 0;
};

// The first choice that succeeded, fits the workspace cap and (when asked) is
// deterministic; nullptr when none does.
template <class Perf>
const Perf* pick(const std::vector<Perf>& perf, int returned, bool need_deterministic) {
  for (int i = 0; i < returned; ++i) {
    const Perf& p = perf[size_t(i)];
    if (p.status != CUDNN_STATUS_SUCCESS || p.memory > kMaxWorkspace) continue;
    if (need_deterministic && p.determinism != CUDNN_DETERMINISTIC) continue;
    return &p;
  }
  return nullptr;
}

template <class Perf>
void choose(Plan& plan, const std::vector<Perf>& perf, int returned, bool need_deterministic) {
  if (const Perf* p = pick(perf, returned, need_deterministic)) {
    plan.ok = true;
    plan.algo = static_cast<int>(p->algo);
    plan.workspace = p->memory;
  }
}

// Operands of one call, for cudnnFind*Ex (which runs the algorithms on real buffers; the
// output it scribbles on is overwritten by the real call that follows).
struct Operands {
  const void* a;  // forward: x; backward-data: w; backward-filter: x
  const void* b;  // forward: w; backward-data: gy; backward-filter: gy
  void* out;      // y, gx, gw
};

void plan_algorithm(Plan& plan, Direction dir, const Operands& io) {
  cudnnHandle_t h = handle();
  ConvSetup& c = plan.c;
  const bool find = find_mode();
  int returned = 0;
  if (dir == Direction::forward) {
    std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
    if (find) {
      Workspace ws(kMaxWorkspace);
      check(cudnnFindConvolutionForwardAlgorithmEx(h, c.x.d, io.a, c.w.d, io.b, c.conv.d, c.y.d, io.out,
                                                   int(perf.size()), &returned, perf.data(), ws.data(), ws.size()),
            "cudnnFindConvolutionForwardAlgorithmEx");
    } else {
      check(cudnnGetConvolutionForwardAlgorithm_v7(h, c.x.d, c.w.d, c.conv.d, c.y.d, int(perf.size()), &returned,
                                                   perf.data()),
            "cudnnGetConvolutionForwardAlgorithm_v7");
    }
    choose(plan, perf, returned, false);
  } else if (dir == Direction::backward_data) {
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
    if (find) {
      Workspace ws(kMaxWorkspace);
      check(cudnnFindConvolutionBackwardDataAlgorithmEx(h, c.w.d, io.a, c.y.d, io.b, c.conv.d, c.x.d, io.out,
                                                        int(perf.size()), &returned, perf.data(), ws.data(),
                                                        ws.size()),
            "cudnnFindConvolutionBackwardDataAlgorithmEx");
    } else {
      check(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, c.w.d, c.y.d, c.conv.d, c.x.d, int(perf.size()), &returned,
                                                        perf.data()),
            "cudnnGetConvolutionBackwardDataAlgorithm_v7");
    }
    choose(plan, perf, returned, true);
  } else {
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT);
    if (find) {
      Workspace ws(kMaxWorkspace);
      check(cudnnFindConvolutionBackwardFilterAlgorithmEx(h, c.x.d, io.a, c.y.d, io.b, c.conv.d, c.w.d, io.out,
                                                          int(perf.size()), &returned, perf.data(), ws.data(),
                                                          ws.size()),
            "cudnnFindConvolutionBackwardFilterAlgorithmEx");
    } else {
      check(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, c.x.d, c.y.d, c.conv.d, c.w.d, int(perf.size()),
                                                          &returned, perf.data()),
            "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
    }
    choose(plan, perf, returned, true);
  }
}

// Plans of this thread, by (device, direction, dtype, shape). Per thread: no lock on the
// hot path, and each thread's handle plans for itself.
using PlanKey = std::array<int64_t, 19>;

PlanKey key_of(const Conv2dShape& s, DType dtype, Direction dir) {
  return PlanKey{current_device(), static_cast<int64_t>(dir), static_cast<int64_t>(dtype), s.n, s.c_in, s.h_in,
                 s.w_in, s.c_out, s.kh, s.kw, s.stride_h, s.stride_w, s.pad_top, s.pad_bottom, s.pad_left,
                 s.pad_right, s.dilation_h, s.dilation_w, s.groups};
}

const Plan& plan_for(const Conv2dShape& s, DType dtype, Direction dir, const Operands& io, const char* op) {
  thread_local std::map<PlanKey, std::unique_ptr<Plan>> plans;
  std::unique_ptr<Plan>& slot = plans[key_of(s, dtype, dir)];
  if (!slot) {
    auto plan = std::make_unique<Plan>(s, dtype, op);
    plan_algorithm(*plan, dir, io);
    slot = std::move(plan);
  }
  return *slot;
}

// Once per direction and process: say that a shape left cuDNN, and why.
void note_fallback(Direction dir, const char* op, const Conv2dShape& s) {
  static std::atomic<bool> said[3];
  if (said[static_cast<int>(dir)].exchange(true)) return;
  std::cerr << "glia: cuDNN has no deterministic " << direction_name(dir) << " algorithm within a "
            << (kMaxWorkspace >> 20) << " MiB workspace for op '" << op << "' (n=" << s.n << " c_in=" << s.c_in
            << " " << s.h_in << "x" << s.w_in << " c_out=" << s.c_out << " k=" << s.kh << "x" << s.kw
            << " groups=" << s.groups << "); such shapes run on the hand-written kernel (noted once)\n";
}

// Runs one direction through cuDNN; false when the shape has no qualifying algorithm
// (the caller then runs the hand kernel).
bool run(Direction dir, const Conv2dShape& s, DType dtype, const Operands& io, const char* op) {
  const Plan& plan = plan_for(s, dtype, dir, io, op);
  if (!plan.ok) {
    note_fallback(dir, op, s);
    return false;
  }
  cudnnHandle_t h = handle();
  const ConvSetup& c = plan.c;
  Workspace ws(plan.workspace);
  const Scalars scale(dtype);
  switch (dir) {
    case Direction::forward:
      check(cudnnConvolutionForward(h, scale.alpha(), c.x.d, io.a, c.w.d, io.b, c.conv.d,
                                    static_cast<cudnnConvolutionFwdAlgo_t>(plan.algo), ws.data(), ws.size(),
                                    scale.beta(), c.y.d, io.out),
            "cudnnConvolutionForward");
      break;
    case Direction::backward_data:
      check(cudnnConvolutionBackwardData(h, scale.alpha(), c.w.d, io.a, c.y.d, io.b, c.conv.d,
                                         static_cast<cudnnConvolutionBwdDataAlgo_t>(plan.algo), ws.data(), ws.size(),
                                         scale.beta(), c.x.d, io.out),
            "cudnnConvolutionBackwardData");
      break;
    case Direction::backward_filter:
      check(cudnnConvolutionBackwardFilter(h, scale.alpha(), c.x.d, io.a, c.y.d, io.b, c.conv.d,
                                           static_cast<cudnnConvolutionBwdFilterAlgo_t>(plan.algo), ws.data(),
                                           ws.size(), scale.beta(), c.w.d, io.out),
            "cudnnConvolutionBackwardFilter");
      break;
  }
  return true;
}

// GLIA_CONV=auto (or unset): float32/float64 depthwise convs go to the hand kernel.
bool hand_depthwise(const Conv2dShape& s, DType dtype) {
  if (!s.is_depthwise() || is_16bit(dtype)) return false;
  const char* choice = std::getenv("GLIA_CONV");
  return choice == nullptr || *choice == '\0' || std::strcmp(choice, "auto") == 0;
}

// y[n, c, :, :] += bias[c].
void add_bias(DType dtype, int64_t n, int64_t c, int64_t h, int64_t w, const void* bias, void* y, const char* op) {
  cudnnDataType_t t = data_type_with_16bit(dtype, op);
  TensorDesc bd, yd;
  bd.set_nchw(t, 1, to_int(c, op, "channels"), 1, 1);
  yd.set_nchw(t, to_int(n, op, "n"), to_int(c, op, "channels"), to_int(h, op, "h"), to_int(w, op, "w"));
  const Scalars scale(dtype);
  check(cudnnAddTensor(handle(), scale.alpha(), bd.d, bias, scale.alpha(), yd.d, y), "cudnnAddTensor");
}

}  // namespace

void conv2d(const Conv2dParams& p) {
  require_output_in_input_dtype(p, "conv2d", "cudnn");
  validate_conv2d(p.shape, "conv2d");
  const Conv2dShape& s = p.shape;
  if (!symmetric(s) || hand_depthwise(s, p.dtype)) return cuda::conv2d(p);
  if (s.n == 0) return;
  if (!run(Direction::forward, s, p.dtype, Operands{p.x, p.w, p.y}, "conv2d")) return cuda::conv2d(p);
  if (p.bias != nullptr) add_bias(p.dtype, s.n, s.c_out, s.h_out(), s.w_out(), p.bias, p.y, "conv2d");
}

void conv2d_backward_input(const Conv2dBackwardInputParams& p) {
  require_output_in_input_dtype(p, "conv2d_backward_input", "cudnn");
  validate_conv2d(p.shape, "conv2d_backward_input");
  if (!symmetric(p.shape) || hand_depthwise(p.shape, p.dtype)) return cuda::conv2d_backward_input(p);
  if (p.shape.n == 0) return;
  if (!run(Direction::backward_data, p.shape, p.dtype, Operands{p.w, p.gy, p.gx}, "conv2d_backward_input"))
    cuda::conv2d_backward_input(p);
}

void conv2d_backward_weight(const Conv2dBackwardWeightParams& p) {
  require_output_in_input_dtype(p, "conv2d_backward_weight", "cudnn");
  validate_conv2d(p.shape, "conv2d_backward_weight");
  if (!symmetric(p.shape) || hand_depthwise(p.shape, p.dtype) || p.shape.n == 0)
    return cuda::conv2d_backward_weight(p);  // n == 0: zeros
  if (!run(Direction::backward_filter, p.shape, p.dtype, Operands{p.x, p.gy, p.gw}, "conv2d_backward_weight"))
    cuda::conv2d_backward_weight(p);
}

void conv2d_backward_bias(const Conv2dBackwardBiasParams& p) {
  require_output_in_input_dtype(p, "conv2d_backward_bias", "cudnn");
  const char* op = "conv2d_backward_bias";
  GLIA_CHECK(p.n >= 0 && p.c > 0 && p.hw >= 0, "op '" << op << "': bad shape n=" << p.n << " c=" << p.c << " hw=" << p.hw);
  cudnnDataType_t t = data_type_with_16bit(p.dtype, op);
  TensorDesc gyd, bd;
  gyd.set_nchw(t, to_int(p.n, op, "n"), to_int(p.c, op, "c"), to_int(p.hw, op, "hw"), 1);
  bd.set_nchw(t, 1, to_int(p.c, op, "c"), 1, 1);
  const Scalars scale(p.dtype);
  check(cudnnConvolutionBackwardBias(handle(), scale.alpha(), gyd.d, p.gy, scale.beta(), bd.d, p.gbias),
        "cudnnConvolutionBackwardBias");
}

void conv_transpose2d(const ConvTranspose2dParams& p) {
  require_output_in_input_dtype(p, "conv_transpose2d", "cudnn");
  validate_conv_transpose2d(p.shape, "conv_transpose2d");
  const ConvTranspose2dShape& s = p.shape;
  if (s.n == 0) return;
  if (!run(Direction::backward_data, conv_transpose2d_as_conv(s), p.dtype, Operands{p.w, p.x, p.y}, "conv_transpose2d"))
    return cuda::conv_transpose2d(p);
  if (p.bias != nullptr) add_bias(p.dtype, s.n, s.c_out, s.h_out(), s.w_out(), p.bias, p.y, "conv_transpose2d");
}

void conv_transpose2d_backward_input(const ConvTranspose2dBackwardInputParams& p) {
  require_output_in_input_dtype(p, "conv_transpose2d_backward_input", "cudnn");
  validate_conv_transpose2d(p.shape, "conv_transpose2d_backward_input");
  if (p.shape.n == 0) return;
  if (!run(Direction::forward, conv_transpose2d_as_conv(p.shape), p.dtype, Operands{p.gy, p.w, p.gx},
           "conv_transpose2d_backward_input"))
    cuda::conv_transpose2d_backward_input(p);
}

void conv_transpose2d_backward_weight(const ConvTranspose2dBackwardWeightParams& p) {
  require_output_in_input_dtype(p, "conv_transpose2d_backward_weight", "cudnn");
  validate_conv_transpose2d(p.shape, "conv_transpose2d_backward_weight");
  const ConvTranspose2dShape& s = p.shape;
  if (s.n == 0) return cuda::conv_transpose2d_backward_weight(p);  // zeros
  if (!run(Direction::backward_filter, conv_transpose2d_as_conv(s), p.dtype, Operands{p.gy, p.x, p.gw},
           "conv_transpose2d_backward_weight"))
    cuda::conv_transpose2d_backward_weight(p);
}

}  // namespace glia::kernels::cudnn
