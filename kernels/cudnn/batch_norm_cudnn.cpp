// batch_norm through cuDNN (real-CUDA builds with GLIA_HAVE_CUDNN), spatial mode: training
// forward (cuDNN also updates the running variance with the unbiased batch variance, as
// glia's contract says; exponentialAverageFactor = momentum), eval forward, and the
// training backward. Cases cuDNN's API cannot express run on the hand-written kernels:
// no gamma/beta (cuDNN needs both), eps below CUDNN_BN_MIN_EPSILON (forward and
// backward: both pass the layer's eps), the eval-mode
// backward, a backward that skips some of gx / ggamma / gbeta, and a fused activation
// (cuDNN's own fused BN + activation API takes ReLU only, through its Ex entry points).
#include "kernels/batch_norm.h"
#include "kernels/cudnn/cudnn_common.h"
#include "kernels/cudnn/cudnn_kernels.h"
#include "kernels/error.h"

namespace glia::kernels::cuda {  // the hand-written kernels (kernels/cuda/batch_norm.cu)
void batch_norm(const BatchNormParams& p);
void batch_norm_backward(const BatchNormBackwardParams& p);
}  // namespace glia::kernels::cuda

namespace glia::kernels::cudnn {
namespace {

// x/y described as [N, C, HW, 1]; the per-channel parameters as [1, C, 1, 1].
struct BnDescs {
  TensorDesc data, params;
  BnDescs(DType dtype, int64_t n, int64_t c, int64_t hw, const char* op) {
    cudnnDataType_t t = data_type(dtype, op);
    data.set_nchw(t, to_int(n, op, "n"), to_int(c, op, "c"), to_int(hw, op, "hw"), 1);
    params.set_nchw(t, 1, to_int(c, op, "c"), 1, 1);
  }
};

}  // namespace

void batch_norm(const BatchNormParams& p) {
  if (p.gamma == nullptr || p.beta == nullptr || p.eps < CUDNN_BN_MIN_EPSILON || p.n * p.hw == 0 ||
      p.act != NormActivation::identity)
    return cuda::batch_norm(p);
  // The hand kernel's checks give the same messages as the other backends; repeat the
  // ones cuDNN would otherwise report less clearly.
  GLIA_CHECK(p.c > 0 && p.n >= 0 && p.hw >= 0, "batch_norm: bad shape n=" << p.n << " c=" << p.c << " hw=" << p.hw);
  GLIA_CHECK(p.momentum >= 0 && p.momentum <= 1, "batch_norm: momentum must be in [0, 1], got " << p.momentum);
  BnDescs d(p.dtype, p.n, p.c, p.hw, "batch_norm");
  Scalars s(p.dtype);
  if (p.training) {
    GLIA_CHECK(p.n * p.hw > 1, "batch_norm: training needs more than one value per channel, got n=" << p.n
                                                                                                   << " hw=" << p.hw);
    GLIA_CHECK(p.save_mean && p.save_invstd, "batch_norm: training needs save_mean and save_invstd buffers");
    GLIA_CHECK((p.running_mean == nullptr) == (p.running_var == nullptr),
               "batch_norm: give both running_mean and running_var or neither");
    check(cudnnBatchNormalizationForwardTraining(handle(), CUDNN_BATCHNORM_SPATIAL, s.alpha(), s.beta(), d.data.d, p.x,
                                                 d.data.d, p.y, d.params.d, p.gamma, p.beta, p.momentum,
                                                 p.running_mean, p.running_var, p.eps, p.save_mean, p.save_invstd),
          "cudnnBatchNormalizationForwardTraining");
  } else {
    GLIA_CHECK(p.running_mean && p.running_var, "batch_norm: eval mode needs running_mean and running_var");
    check(cudnnBatchNormalizationForwardInference(handle(), CUDNN_BATCHNORM_SPATIAL, s.alpha(), s.beta(), d.data.d,
                                                  p.x, d.data.d, p.y, d.params.d, p.gamma, p.beta, p.running_mean,
                                                  p.running_var, p.eps),
          "cudnnBatchNormalizationForwardInference");
  }
}

void batch_norm_backward(const BatchNormBackwardParams& p) {
  if (!p.training || p.gamma == nullptr || p.gx == nullptr || p.ggamma == nullptr || p.gbeta == nullptr ||
      p.eps < CUDNN_BN_MIN_EPSILON || p.n * p.hw == 0 || p.act != NormActivation::identity)
    return cuda::batch_norm_backward(p);
  GLIA_CHECK(p.save_mean && p.save_invstd, "batch_norm_backward: training needs save_mean and save_invstd");
  BnDescs d(p.dtype, p.n, p.c, p.hw, "batch_norm_backward");
  Scalars s(p.dtype);
  // The layer's eps, the one the forward used: cuDNN documents that the backward's
  // epsilon must match the forward's (with saved statistics it may not read it, but a
  // version that recomputes 1/sqrt(var + eps) would otherwise get a different scale).
  check(cudnnBatchNormalizationBackward(handle(), CUDNN_BATCHNORM_SPATIAL, s.alpha(), s.beta(), s.alpha(), s.beta(),
                                        d.data.d, p.x, d.data.d, p.gy, d.data.d, p.gx, d.params.d, p.gamma, p.ggamma,
                                        p.gbeta, p.eps, p.save_mean, p.save_invstd),
        "cudnnBatchNormalizationBackward");
}

}  // namespace glia::kernels::cudnn
