// conv2d and conv_transpose2d through cuDNN (real-CUDA builds with GLIA_HAVE_CUDNN): the
// vendor baseline the hand-written kernels in kernels/cuda/conv2d.cu are measured against.
//
// - Algorithms: cuDNN's heuristic list (cudnn*Algorithm_v7), first entry that succeeds
//   within a 256 MiB workspace; for the two backward products only deterministic
//   algorithms are taken (no float atomics), as the hand kernels guarantee.
// - Math: CUDNN_FMA_MATH, so float32 stays float32 (no silent TF32 on Ampere/Hopper) and
//   results are comparable with the hand kernels and the CPU.
// - cuDNN's legacy API has symmetric padding only: a conv with asymmetric ("same")
//   padding runs on the hand-written kernel instead (so GLIA_CONV=cudnn stays usable).
// - conv_transpose2d is cuDNN's backward-data of the equivalent conv (as the hand
//   kernels), its bias added with cudnnAddTensor.
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

  ConvSetup(const Conv2dShape& s, DType dtype, const char* op) : type(data_type(dtype, op)) {
    int n = to_int(s.n, op, "n"), ci = to_int(s.c_in, op, "c_in"), co = to_int(s.c_out, op, "c_out");
    x.set_nchw(type, n, ci, to_int(s.h_in, op, "h_in"), to_int(s.w_in, op, "w_in"));
    y.set_nchw(type, n, co, to_int(s.h_out(), op, "h_out"), to_int(s.w_out(), op, "w_out"));
    check(cudnnSetFilter4dDescriptor(w.d, type, CUDNN_TENSOR_NCHW, co, to_int(s.c_in / s.groups, op, "c_in/groups"),
                                     to_int(s.kh, op, "kh"), to_int(s.kw, op, "kw")),
          "cudnnSetFilter4dDescriptor");
    check(cudnnSetConvolution2dDescriptor(conv.d, to_int(s.pad_top, op, "pad"), to_int(s.pad_left, op, "pad"),
                                          to_int(s.stride_h, op, "stride"), to_int(s.stride_w, op, "stride"),
                                          to_int(s.dilation_h, op, "dilation"), to_int(s.dilation_w, op, "dilation"),
                                          CUDNN_CROSS_CORRELATION, type),
          "cudnnSetConvolution2dDescriptor");
    check(cudnnSetConvolutionGroupCount(conv.d, to_int(s.groups, op, "groups")), "cudnnSetConvolutionGroupCount");
    check(cudnnSetConvolutionMathType(conv.d, CUDNN_FMA_MATH), "cudnnSetConvolutionMathType");
  }
};

// The first heuristic choice that succeeded, fits the workspace cap and (when asked) is
// deterministic.
template <class Perf>
const Perf& pick(const std::vector<Perf>& perf, int returned, bool need_deterministic, const char* op) {
  for (int i = 0; i < returned; ++i) {
    const Perf& p = perf[size_t(i)];
    if (p.status != CUDNN_STATUS_SUCCESS || p.memory > kMaxWorkspace) continue;
    if (need_deterministic && p.determinism != CUDNN_DETERMINISTIC) continue;
    return p;
  }
  GLIA_FAIL("op '" << op << "' (cuDNN): no " << (need_deterministic ? "deterministic " : "")
                   << "algorithm within a " << (kMaxWorkspace >> 20) << " MiB workspace among " << returned);
}

void forward(const Conv2dShape& s, DType dtype, const void* x, const void* w, void* y, const char* op) {
  ConvSetup c(s, dtype, op);
  cudnnHandle_t h = handle();
  std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
  int returned = 0;
  check(cudnnGetConvolutionForwardAlgorithm_v7(h, c.x.d, c.w.d, c.conv.d, c.y.d, int(perf.size()), &returned,
                                               perf.data()),
        "cudnnGetConvolutionForwardAlgorithm_v7");
  const auto& algo = pick(perf, returned, false, op);
  Workspace ws(algo.memory);
  const Scalars scale(dtype);
  check(cudnnConvolutionForward(h, scale.alpha(), c.x.d, x, c.w.d, w, c.conv.d, algo.algo, ws.data(), ws.size(),
                                scale.beta(), c.y.d, y),
        "cudnnConvolutionForward");
}

void backward_data(const Conv2dShape& s, DType dtype, const void* gy, const void* w, void* gx, const char* op) {
  ConvSetup c(s, dtype, op);
  cudnnHandle_t h = handle();
  std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
  int returned = 0;
  check(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, c.w.d, c.y.d, c.conv.d, c.x.d, int(perf.size()), &returned,
                                                    perf.data()),
        "cudnnGetConvolutionBackwardDataAlgorithm_v7");
  const auto& algo = pick(perf, returned, true, op);
  Workspace ws(algo.memory);
  const Scalars scale(dtype);
  check(cudnnConvolutionBackwardData(h, scale.alpha(), c.w.d, w, c.y.d, gy, c.conv.d, algo.algo, ws.data(), ws.size(),
                                     scale.beta(), c.x.d, gx),
        "cudnnConvolutionBackwardData");
}

void backward_filter(const Conv2dShape& s, DType dtype, const void* x, const void* gy, void* gw, const char* op) {
  ConvSetup c(s, dtype, op);
  cudnnHandle_t h = handle();
  std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT);
  int returned = 0;
  check(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, c.x.d, c.y.d, c.conv.d, c.w.d, int(perf.size()), &returned,
                                                      perf.data()),
        "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
  const auto& algo = pick(perf, returned, true, op);
  Workspace ws(algo.memory);
  const Scalars scale(dtype);
  check(cudnnConvolutionBackwardFilter(h, scale.alpha(), c.x.d, x, c.y.d, gy, c.conv.d, algo.algo, ws.data(),
                                       ws.size(), scale.beta(), c.w.d, gw),
        "cudnnConvolutionBackwardFilter");
}

// y[n, c, :, :] += bias[c].
void add_bias(DType dtype, int64_t n, int64_t c, int64_t h, int64_t w, const void* bias, void* y, const char* op) {
  cudnnDataType_t t = data_type(dtype, op);
  TensorDesc bd, yd;
  bd.set_nchw(t, 1, to_int(c, op, "channels"), 1, 1);
  yd.set_nchw(t, to_int(n, op, "n"), to_int(c, op, "channels"), to_int(h, op, "h"), to_int(w, op, "w"));
  const Scalars scale(dtype);
  check(cudnnAddTensor(handle(), scale.alpha(), bd.d, bias, scale.alpha(), yd.d, y), "cudnnAddTensor");
}

}  // namespace

void conv2d(const Conv2dParams& p) {
  validate_conv2d(p.shape, "conv2d");
  if (!symmetric(p.shape)) return cuda::conv2d(p);
  const Conv2dShape& s = p.shape;
  if (s.n == 0) return;
  forward(s, p.dtype, p.x, p.w, p.y, "conv2d");
  if (p.bias != nullptr) add_bias(p.dtype, s.n, s.c_out, s.h_out(), s.w_out(), p.bias, p.y, "conv2d");
}

void conv2d_backward_input(const Conv2dBackwardInputParams& p) {
  validate_conv2d(p.shape, "conv2d_backward_input");
  if (!symmetric(p.shape)) return cuda::conv2d_backward_input(p);
  if (p.shape.n == 0) return;
  backward_data(p.shape, p.dtype, p.gy, p.w, p.gx, "conv2d_backward_input");
}

void conv2d_backward_weight(const Conv2dBackwardWeightParams& p) {
  validate_conv2d(p.shape, "conv2d_backward_weight");
  if (!symmetric(p.shape) || p.shape.n == 0) return cuda::conv2d_backward_weight(p);  // n == 0: zeros
  backward_filter(p.shape, p.dtype, p.x, p.gy, p.gw, "conv2d_backward_weight");
}

void conv2d_backward_bias(const Conv2dBackwardBiasParams& p) {
  const char* op = "conv2d_backward_bias";
  GLIA_CHECK(p.n >= 0 && p.c > 0 && p.hw >= 0, "op '" << op << "': bad shape n=" << p.n << " c=" << p.c << " hw=" << p.hw);
  cudnnDataType_t t = data_type(p.dtype, op);
  TensorDesc gyd, bd;
  gyd.set_nchw(t, to_int(p.n, op, "n"), to_int(p.c, op, "c"), to_int(p.hw, op, "hw"), 1);
  bd.set_nchw(t, 1, to_int(p.c, op, "c"), 1, 1);
  const Scalars scale(p.dtype);
  check(cudnnConvolutionBackwardBias(handle(), scale.alpha(), gyd.d, p.gy, scale.beta(), bd.d, p.gbias),
        "cudnnConvolutionBackwardBias");
}

void conv_transpose2d(const ConvTranspose2dParams& p) {
  validate_conv_transpose2d(p.shape, "conv_transpose2d");
  const ConvTranspose2dShape& s = p.shape;
  if (s.n == 0) return;
  backward_data(conv_transpose2d_as_conv(s), p.dtype, p.x, p.w, p.y, "conv_transpose2d");
  if (p.bias != nullptr) add_bias(p.dtype, s.n, s.c_out, s.h_out(), s.w_out(), p.bias, p.y, "conv_transpose2d");
}

void conv_transpose2d_backward_input(const ConvTranspose2dBackwardInputParams& p) {
  validate_conv_transpose2d(p.shape, "conv_transpose2d_backward_input");
  if (p.shape.n == 0) return;
  forward(conv_transpose2d_as_conv(p.shape), p.dtype, p.gy, p.w, p.gx, "conv_transpose2d_backward_input");
}

void conv_transpose2d_backward_weight(const ConvTranspose2dBackwardWeightParams& p) {
  validate_conv_transpose2d(p.shape, "conv_transpose2d_backward_weight");
  backward_filter(conv_transpose2d_as_conv(p.shape), p.dtype, p.gy, p.x, p.gw, "conv_transpose2d_backward_weight");
}

}  // namespace glia::kernels::cudnn
