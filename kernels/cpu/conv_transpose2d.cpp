// CPU conv_transpose2d through the im2col conv machinery: forward = conv2d backward-input,
// backward-input = conv2d forward, backward-weight = conv2d backward-weight with the
// roles of input and output gradient swapped. bfloat16/float16 map the same way onto
// conv2d_half.cpp.
#include "kernels/conv_transpose2d.h"

#include <vector>

#include "kernels/cpu/conv2d_internal.h"
#include "kernels/cpu/half_gemm.h"
#include "kernels/error.h"

namespace glia::kernels::cpu {

using namespace conv_detail;

namespace {

template <class Params>
void check_dtype(const Params& p, const char* op) {
  GLIA_CHECK(p.dtype == DType::f32 || p.dtype == DType::f64,
             op << ": dtype " << dtype_name(p.dtype) << " is not supported on cpu (float32, float64, bfloat16, float16)");
  GLIA_CHECK(output_dtype(p) == p.dtype, op << ": " << dtype_name(p.dtype) << " inputs write "
                                            << dtype_name(p.dtype) << " on cpu, not " << dtype_name(output_dtype(p)));
}

// 16-bit forward: conv2d's backward-input into float32, the bias added there, then rounded
// once when the output is 16-bit.
void forward_16bit(const ConvTranspose2dParams& p) {
  const Conv2dShape c = conv_transpose2d_as_conv(p.shape);
  const DType out = output_dtype(p);
  GLIA_CHECK(out == p.dtype || out == DType::f32, "conv_transpose2d: " << dtype_name(p.dtype)
                                                                      << " inputs write float32 or "
                                                                      << dtype_name(p.dtype) << " on cpu, not "
                                                                      << dtype_name(out));
  const int64_t ny = c.n * c.c_in * c.h_in * c.w_in, hw = c.h_in * c.w_in;
  std::vector<float> staging(out == DType::f32 ? 0 : size_t(ny));
  float* y32 = out == DType::f32 ? static_cast<float*>(p.y) : staging.data();
  conv2d_backward_input_16bit(Conv2dBackwardInputParams{p.dtype, c, p.x, p.w, y32, DType::f32});
  if (p.bias != nullptr) {
    std::vector<float> bias(size_t(c.c_in));
    widen(p.dtype, p.bias, bias.data(), c.c_in);
    add_bias<float>(c.n, c.c_in, hw, bias.data(), y32);
  }
  if (out != DType::f32) narrow(out, y32, p.y, ny);
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
  if (is_16bit_float(p.dtype)) {
    validate_conv_transpose2d(p.shape, "conv_transpose2d");
    return forward_16bit(p);
  }
  check_dtype(p, "conv_transpose2d");
  validate_conv_transpose2d(p.shape, "conv_transpose2d");
  if (p.dtype == DType::f32) forward_typed<float>(p);
  else forward_typed<double>(p);
}

void conv_transpose2d_backward_input(const ConvTranspose2dBackwardInputParams& p) {
  validate_conv_transpose2d(p.shape, "conv_transpose2d_backward_input");
  Conv2dShape c = conv_transpose2d_as_conv(p.shape);
  if (is_16bit_float(p.dtype))
    return conv2d_16bit(Conv2dParams{p.dtype, c, p.gy, p.w, nullptr, p.gx, p.out_dtype});
  check_dtype(p, "conv_transpose2d_backward_input");
  if (p.dtype == DType::f32)
    im2col_forward<float>(c, static_cast<const float*>(p.gy), static_cast<const float*>(p.w), nullptr,
                          static_cast<float*>(p.gx));
  else
    im2col_forward<double>(c, static_cast<const double*>(p.gy), static_cast<const double*>(p.w), nullptr,
                           static_cast<double*>(p.gx));
}

void conv_transpose2d_backward_weight(const ConvTranspose2dBackwardWeightParams& p) {
  validate_conv_transpose2d(p.shape, "conv_transpose2d_backward_weight");
  Conv2dShape c = conv_transpose2d_as_conv(p.shape);
  if (is_16bit_float(p.dtype))
    return conv2d_backward_weight_16bit(Conv2dBackwardWeightParams{p.dtype, c, p.gy, p.x, p.gw, p.out_dtype});
  check_dtype(p, "conv_transpose2d_backward_weight");
  // The equivalent conv's input is gy and its output gradient is x.
  if (p.dtype == DType::f32)
    im2col_backward_weight<float>(c, static_cast<const float*>(p.gy), static_cast<const float*>(p.x),
                                  static_cast<float*>(p.gw));
  else
    im2col_backward_weight<double>(c, static_cast<const double*>(p.gy), static_cast<const double*>(p.x),
                                   static_cast<double*>(p.gw));
}

}  // namespace glia::kernels::cpu
