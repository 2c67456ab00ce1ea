// conv2d and conv_transpose2d: shape checks, kernel dispatch (family GLIA_CONV) and the
// autograd nodes. The backward products are the kernels' own backward entry points.
#include "kernels/conv2d.h"
#include "kernels/conv_transpose2d.h"
#include "tensor/autocast.h"
#include "tensor/autograd.h"
#include "tensor/nn_ops.h"

namespace glia {
namespace {

constexpr const char* kConvFamily = "GLIA_CONV";

void check_same(const char* op, const Tensor& x, const Tensor& t, const char* what) {
  GLIA_CHECK(t.dtype() == x.dtype() && t.device() == x.device(),
             op << ": " << what << " is " << dtype_name(t.dtype()) << " on " << device_name(t.device())
                << " but the input is " << dtype_name(x.dtype()) << " on " << device_name(x.device()));
}

void check_operands(const char* op, const Tensor& x, const Tensor& w, const Tensor& bias, int64_t c_bias) {
  GLIA_CHECK(x.defined() && w.defined(), op << ": input and weight must be defined");
  GLIA_CHECK(is_floating(x.dtype()), op << ": input dtype " << dtype_name(x.dtype()) << " is not floating point");
  GLIA_CHECK(x.dim() == 4, op << ": input must be 4-D [N, C, H, W], got " << shape_str(x.sizes()));
  GLIA_CHECK(w.dim() == 4, op << ": weight must be 4-D, got " << shape_str(w.sizes()));
  check_same(op, x, w, "weight");
  if (bias.defined()) {
    check_same(op, x, bias, "bias");
    GLIA_CHECK(bias.dim() == 1 && bias.size(0) == c_bias,
               op << ": bias must be [" << c_bias << "], got " << shape_str(bias.sizes()));
  }
}

// gbias[c] = sum of gy over n, h, w (shared by conv2d and conv_transpose2d).
Tensor bias_grad(const Tensor& gy) {
  Tensor gyc = gy.contiguous();
  Tensor gb = empty({gy.size(1)}, gy.dtype(), gy.device());
  kernels::Conv2dBackwardBiasParams p;
  p.dtype = gy.dtype();
  p.n = gy.size(0);
  p.c = gy.size(1);
  p.hw = gy.size(2) * gy.size(3);
  p.gy = gyc.data_ptr();
  p.gbias = gb.data_ptr();
  kernels::select(kernels::conv2d_backward_bias_kernel, gy.device(), kConvFamily)(p);
  return gb;
}

}  // namespace

Conv2dArgs conv_args(int64_t stride, int64_t padding, int64_t dilation, int64_t groups) {
  Conv2dArgs a;
  a.stride_h = a.stride_w = stride;
  a.padding = Padding2d::symmetric(padding);
  a.dilation_h = a.dilation_w = dilation;
  a.groups = groups;
  return a;
}

Padding2d same_padding_2d(int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t stride_h, int64_t stride_w,
                          int64_t dilation_h, int64_t dilation_w) {
  kernels::SamePadding ph = kernels::same_padding(h, kh, stride_h, dilation_h);
  kernels::SamePadding pw = kernels::same_padding(w, kw, stride_w, dilation_w);
  return Padding2d{ph.before, ph.after, pw.before, pw.after};
}

namespace {

// conv2d and conv_transpose2d share one forward + autograd body: their kernels take
// parameter structs with the same fields, and only the structs and slots differ.
struct Conv2dFamily {
  using Shape = kernels::Conv2dShape;
  using Forward = kernels::Conv2dParams;
  using BackwardInput = kernels::Conv2dBackwardInputParams;
  using BackwardWeight = kernels::Conv2dBackwardWeightParams;
  static constexpr auto& forward = kernels::conv2d_kernel;
  static constexpr auto& backward_input = kernels::conv2d_backward_input_kernel;
  static constexpr auto& backward_weight = kernels::conv2d_backward_weight_kernel;
};

struct ConvTranspose2dFamily {
  using Shape = kernels::ConvTranspose2dShape;
  using Forward = kernels::ConvTranspose2dParams;
  using BackwardInput = kernels::ConvTranspose2dBackwardInputParams;
  using BackwardWeight = kernels::ConvTranspose2dBackwardWeightParams;
  static constexpr auto& forward = kernels::conv_transpose2d_kernel;
  static constexpr auto& backward_input = kernels::conv_transpose2d_backward_input_kernel;
  static constexpr auto& backward_weight = kernels::conv_transpose2d_backward_weight_kernel;
};

template <class Family>
Tensor run_conv(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias,
                const typename Family::Shape& s) {
  Tensor xc = x.contiguous(), wc = weight.contiguous(), bc = bias.defined() ? bias.contiguous() : Tensor();
  Tensor y = empty({s.n, s.c_out, s.h_out(), s.w_out()}, x.dtype(), x.device());
  if (y.numel() > 0) {
    typename Family::Forward p;
    p.dtype = x.dtype();
    p.shape = s;
    p.x = xc.data_ptr();
    p.w = wc.data_ptr();
    p.bias = bc.defined() ? bc.data_ptr() : nullptr;
    p.y = y.data_ptr();
    kernels::select(Family::forward, x.device(), kConvFamily)(p);
  }
  record(op, y, {x, weight, bias}, {xc, wc}, [s](const Tensor& g, const FunctionNode& node) {
    Tensor gy = g.contiguous();
    Tensor xs = node.saved(0), ws = node.saved(1);
    std::vector<Tensor> grads(3);
    if (node.needs_grad(0)) {
      grads[0] = empty(xs.sizes(), xs.dtype(), xs.device());
      typename Family::BackwardInput p;
      p.dtype = xs.dtype();
      p.shape = s;
      p.gy = gy.data_ptr();
      p.w = ws.data_ptr();
      p.gx = grads[0].data_ptr();
      kernels::select(Family::backward_input, xs.device(), kConvFamily)(p);
    }
    if (node.needs_grad(1)) {
      grads[1] = empty(ws.sizes(), ws.dtype(), ws.device());
      typename Family::BackwardWeight p;
      p.dtype = xs.dtype();
      p.shape = s;
      p.x = xs.data_ptr();
      p.gy = gy.data_ptr();
      p.gw = grads[1].data_ptr();
      kernels::select(Family::backward_weight, xs.device(), kConvFamily)(p);
    }
    if (node.needs_grad(2)) grads[2] = bias_grad(gy);
    return grads;
  });
  return y;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dArgs& args) {
  const char* op = "conv2d";
  if (autocast_active()) {
    AutocastCall call(op, {x, weight, bias});
    return call.result(conv2d(call.cast(x), call.cast(weight), call.cast(bias), args));
  }
  check_operands(op, x, weight, bias, weight.defined() && weight.dim() == 4 ? weight.size(0) : 0);
  kernels::Conv2dShape s;
  s.n = x.size(0);
  s.c_in = x.size(1);
  s.h_in = x.size(2);
  s.w_in = x.size(3);
  s.c_out = weight.size(0);
  s.kh = weight.size(2);
  s.kw = weight.size(3);
  s.stride_h = args.stride_h;
  s.stride_w = args.stride_w;
  s.pad_top = args.padding.top;
  s.pad_bottom = args.padding.bottom;
  s.pad_left = args.padding.left;
  s.pad_right = args.padding.right;
  s.dilation_h = args.dilation_h;
  s.dilation_w = args.dilation_w;
  s.groups = args.groups;
  GLIA_CHECK(args.groups >= 1 && s.c_in % args.groups == 0 && weight.size(1) * args.groups == s.c_in,
             op << ": input " << shape_str(x.sizes()) << " with groups " << args.groups << " needs weight [C_out, "
                << (args.groups >= 1 ? s.c_in / args.groups : 0) << ", KH, KW], got " << shape_str(weight.sizes()));
  kernels::validate_conv2d(s, op);

  return run_conv<Conv2dFamily>(op, x, weight, bias, s);
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvTranspose2dArgs& args) {
  const char* op = "conv_transpose2d";
  if (autocast_active()) {
    AutocastCall call(op, {x, weight, bias});
    return call.result(conv_transpose2d(call.cast(x), call.cast(weight), call.cast(bias), args));
  }
  check_operands(op, x, weight, bias, weight.defined() && weight.dim() == 4 ? weight.size(1) : 0);
  GLIA_CHECK(weight.size(0) == x.size(1), op << ": input " << shape_str(x.sizes()) << " has " << x.size(1)
                                             << " channels but weight " << shape_str(weight.sizes())
                                             << " expects " << weight.size(0) << " (weight is [C_in, C_out, KH, KW])");
  kernels::ConvTranspose2dShape s;
  s.n = x.size(0);
  s.c_in = x.size(1);
  s.h_in = x.size(2);
  s.w_in = x.size(3);
  s.c_out = weight.size(1);
  s.kh = weight.size(2);
  s.kw = weight.size(3);
  s.stride_h = args.stride_h;
  s.stride_w = args.stride_w;
  s.pad_h = args.pad_h;
  s.pad_w = args.pad_w;
  s.output_pad_h = args.output_pad_h;
  s.output_pad_w = args.output_pad_w;
  s.dilation_h = args.dilation_h;
  s.dilation_w = args.dilation_w;
  kernels::validate_conv_transpose2d(s, op);

  return run_conv<ConvTranspose2dFamily>(op, x, weight, bias, s);
}

}  // namespace glia
