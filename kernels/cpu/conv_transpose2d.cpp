// CPU conv_transpose2d through the im2col conv machinery: forward = conv2d backward-input,
// backward-input = conv2d forward, backward-weight = conv2d backward-weight with the
// roles of input and output gradient swapped.
#include "kernels/conv_transpose2d.h"

#include "kernels/cpu/conv2d_internal.h"
#include "kernels/error.h"

namespace glia::kernels::cpu {

using namespace conv_detail;

namespace {

void check_dtype(DType t, const char* op) {
  GLIA_CHECK(t == DType::f32 || t == DType::f64, op << ": dtype " << dtype_name(t) << " is not supported on cpu (f32, f64)");
}

template <class T>
void forward_typed(const ConvTranspose2dParams& p) {
  Conv2dShape c = conv_transpose2d_as_conv(p.shape);
  T* y = static_cast<T*>(p.y);
  im2col_backward_input(c, static_cast<const T*>(p.x), static_cast<const T*>(p.w), y);
  add_bias(c.n, c.c_in, c.h_in * c.w_in, static_cast<const T*>(p.bias), y);
}

}  // namespace

void conv_transpose2d(const ConvTranspose2dParams& p) {
  check_dtype(p.dtype, "conv_transpose2d");
  validate_conv_transpose2d(p.shape, "conv_transpose2d");
  if (p.dtype == DType::f32) forward_typed<float>(p);
  else forward_typed<double>(p);
}

void conv_transpose2d_backward_input(const ConvTranspose2dBackwardInputParams& p) {
  check_dtype(p.dtype, "conv_transpose2d_backward_input");
  validate_conv_transpose2d(p.shape, "conv_transpose2d_backward_input");
  Conv2dShape c = conv_transpose2d_as_conv(p.shape);
  if (p.dtype == DType::f32)
    im2col_forward<float>(c, static_cast<const float*>(p.gy), static_cast<const float*>(p.w), nullptr,
                          static_cast<float*>(p.gx));
  else
    im2col_forward<double>(c, static_cast<const double*>(p.gy), static_cast<const double*>(p.w), nullptr,
                           static_cast<double*>(p.gx));
}

void conv_transpose2d_backward_weight(const ConvTranspose2dBackwardWeightParams& p) {
  check_dtype(p.dtype, "conv_transpose2d_backward_weight");
  validate_conv_transpose2d(p.shape, "conv_transpose2d_backward_weight");
  Conv2dShape c = conv_transpose2d_as_conv(p.shape);
  // The equivalent conv's input is gy and its output gradient is x.
  if (p.dtype == DType::f32)
    im2col_backward_weight<float>(c, static_cast<const float*>(p.gy), static_cast<const float*>(p.x),
                                  static_cast<float*>(p.gw));
  else
    im2col_backward_weight<double>(c, static_cast<const double*>(p.gy), static_cast<const double*>(p.x),
                                   static_cast<double*>(p.gw));
}

}  // namespace glia::kernels::cpu
