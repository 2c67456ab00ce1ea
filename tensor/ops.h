// Differentiable ops on Tensors. Each one checks its inputs (shapes, dims, dtype and
// device mix: errors name the op and both shapes), runs the kernel of the inputs' device
// through the registry (kernels::select(slot, device)) and, when an input requires
// grad, records a node whose backward is written with these same ops.
//
//   elementwise  tensor/ops_elementwise.cpp     reductions  tensor/ops_reduce.cpp
//   matmul       tensor/ops_matmul.cpp          softmax, losses  tensor/ops_softmax.cpp
//   concat/split tensor/ops_shape.cpp           views       tensor/views.cpp
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace glia {

// ---- elementwise, with numpy broadcasting ----------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);  // gradient to the larger (a on ties)
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor neg(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor add(const Tensor& x, double value);
Tensor mul(const Tensor& x, double value);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& x, double s);
Tensor operator+(double s, const Tensor& x);
Tensor operator-(const Tensor& x, double s);
Tensor operator-(double s, const Tensor& x);
Tensor operator*(const Tensor& x, double s);
Tensor operator*(double s, const Tensor& x);
Tensor operator/(const Tensor& x, double s);
Tensor operator/(double s, const Tensor& x);

// ---- unary -----------------------------------------------------------------------------
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor relu6(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor sigmoid(const Tensor& x);
Tensor silu(const Tensor& x);  // x * sigmoid(x), a.k.a. swish
Tensor tanh(const Tensor& x);
Tensor hardswish(const Tensor& x);

// ---- reductions (dims: empty = all; negative dims count from the end) -------------------
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Largest value over dims. Gradient: split evenly between tied maxima (like torch.amax).
Tensor max(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);  // int64, first maximum
Tensor argmax(const Tensor& x);  // index into the flattened tensor, 0-dim int64

// ---- linear algebra -------------------------------------------------------------------
// [m,k]@[k,n] -> [m,n]; [b,m,k]@[b,k,n] -> [b,m,n]; a 2-D operand is broadcast over the
// batch of a 3-D one. Transposed views are passed to GEMM by strides, without a copy.
Tensor matmul(const Tensor& a, const Tensor& b);
// y = x W^T + b, x [..., in], W [out, in] (PyTorch layout), b [out] or undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// ---- softmax and losses ----------------------------------------------------------------
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

enum class Reduction { none, mean, sum };
// logits [N, C]; target int64 class indices [N] or probabilities [N, C] (logits' dtype).
// Targets are constants (no gradient flows into them).
Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction = Reduction::mean,
                     double label_smoothing = 0);
// Elementwise; target has the logits' shape and dtype.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        Reduction reduction = Reduction::mean);

// ---- joining and splitting ------------------------------------------------------------
Tensor concat(const std::vector<Tensor>& tensors, int64_t dim);
// Views of `split_size` along dim (the last may be smaller).
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim);
Tensor cast(const Tensor& x, DType dtype);  // x.to(dtype)

}  // namespace glia
