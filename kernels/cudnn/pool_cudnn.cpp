// avg_pool2d forward through cuDNN (real-CUDA builds with GLIA_HAVE_CUDNN). With floor
// output sizes a window never reaches past the padding, so PyTorch's count_include_pad
// divisor is always KH*KW, which is cuDNN's COUNT_INCLUDE_PADDING; count_include_pad=false
// is COUNT_EXCLUDE_PADDING. Not here: max pooling (cuDNN returns no argmax indices, which
// glia's backward contract needs) and the pooling backwards (cuDNN's wants x and y too);
// those slots have no cudnn kernel, so select() runs the hand-written ones.
#include "kernels/cudnn/cudnn_common.h"
#include "kernels/cudnn/cudnn_kernels.h"
#include "kernels/error.h"
#include "kernels/pool.h"

namespace glia::kernels::cudnn {

void avg_pool2d(const AvgPool2dParams& p) {
  const char* op = "avg_pool2d";
  validate_pool2d(p.shape, op);
  const Pool2dShape& s = p.shape;
  if (s.n == 0) return;
  cudnnDataType_t t = data_type(p.dtype, op);
  TensorDesc x, y;
  x.set_nchw(t, to_int(s.n, op, "n"), to_int(s.c, op, "c"), to_int(s.h_in, op, "h_in"), to_int(s.w_in, op, "w_in"));
  y.set_nchw(t, to_int(s.n, op, "n"), to_int(s.c, op, "c"), to_int(s.h_out(), op, "h_out"),
             to_int(s.w_out(), op, "w_out"));
  cudnnPoolingDescriptor_t pool = nullptr;
  check(cudnnCreatePoolingDescriptor(&pool), "cudnnCreatePoolingDescriptor");
  cudnnPoolingMode_t mode =
      p.count_include_pad ? CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
  cudnnStatus_t status = cudnnSetPooling2dDescriptor(pool, mode, CUDNN_PROPAGATE_NAN, to_int(s.kh, op, "kh"),
                                                     to_int(s.kw, op, "kw"), to_int(s.pad_h, op, "pad_h"),
                                                     to_int(s.pad_w, op, "pad_w"), to_int(s.stride_h, op, "stride_h"),
                                                     to_int(s.stride_w, op, "stride_w"));
  if (status == CUDNN_STATUS_SUCCESS) {
    const Scalars scale(p.dtype);
    status = cudnnPoolingForward(handle(), pool, scale.alpha(), x.d, p.x, scale.beta(), y.d, p.y);
  }
  cudnnDestroyPoolingDescriptor(pool);
  check(status, "cudnnPoolingForward (avg_pool2d)");
}

}  // namespace glia::kernels::cudnn
