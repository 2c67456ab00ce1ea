// Elementwise op family: binary ops with broadcasting, unary ops and their backward,
// fill. Broadcasting is expressed by strides: a broadcast dimension has stride 0, so one
// kernel handles same-shape, broadcast and non-contiguous inputs. Outputs are contiguous.
#pragma once
#include <cstdint>

#include "kernels/cost.h"
#include "kernels/dtype.h"
#include "kernels/registry.h"

namespace glia::kernels {

constexpr int kMaxDims = 8;

enum class BinaryOp { add, sub, mul, div, maximum, minimum };

struct BinaryParams {
  DType dtype = DType::f32;
  BinaryOp op = BinaryOp::add;
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};      // output shape
  int64_t a_strides[kMaxDims] = {};  // in elements; 0 where a is broadcast
  int64_t b_strides[kMaxDims] = {};
  int64_t numel = 0;
  const void* a = nullptr;
  const void* b = nullptr;
  void* out = nullptr;  // contiguous, numel elements
};

// One FLOP per output element; a and b read once each (a broadcast operand's distinct
// elements only: the product of the sizes where its stride is not 0), out written once.
inline OpCost cost(const BinaryParams& p) {
  int64_t na = 1, nb = 1;
  for (int d = 0; d < p.ndim; ++d) {
    if (p.a_strides[d] != 0) na *= p.sizes[d];
    if (p.b_strides[d] != 0) nb *= p.sizes[d];
  }
  return {double(p.numel), bytes_of(p.dtype, na + nb + p.numel)};
}

// y = f(x) on contiguous buffers. `scalar` is the exponent for pow_scalar, the addend for
// add_scalar, the factor for mul_scalar, the negative slope for leaky_relu.
enum class UnaryOp {
  neg, exp, log, sqrt, abs, relu, relu6, sigmoid, silu, tanh, hardswish, leaky_relu,
  pow_scalar, add_scalar, mul_scalar
};

struct UnaryParams {
  DType dtype = DType::f32;
  UnaryOp op = UnaryOp::neg;
  double scalar = 0;
  int64_t n = 0;
  const void* x = nullptr;
  void* y = nullptr;
};

inline OpCost cost(const UnaryParams& p) { return {double(p.n), bytes_of(p.dtype, 2 * p.n)}; }

// gx = gy * f'(x); x is the forward input (every unary op's derivative is written in x).
struct UnaryBackwardParams {
  DType dtype = DType::f32;
  UnaryOp op = UnaryOp::neg;
  double scalar = 0;
  int64_t n = 0;
  const void* x = nullptr;
  const void* gy = nullptr;
  void* gx = nullptr;
};

// f'(x) and the product: 2 FLOPs per element; x, gy read, gx written.
inline OpCost cost(const UnaryBackwardParams& p) { return {2.0 * double(p.n), bytes_of(p.dtype, 3 * p.n)}; }

struct FillParams {
  DType dtype = DType::f32;
  double value = 0;
  int64_t n = 0;
  void* out = nullptr;
};

inline OpCost cost(const FillParams& p) { return {0, bytes_of(p.dtype, p.n)}; }

namespace cpu {
void binary(const BinaryParams& p);
void unary(const UnaryParams& p);
void unary_backward(const UnaryBackwardParams& p);
void fill(const FillParams& p);
}  // namespace cpu

inline KernelSlot<void(const BinaryParams&)> binary_kernel{"binary"};
inline KernelSlot<void(const UnaryParams&)> unary_kernel{"unary"};
inline KernelSlot<void(const UnaryBackwardParams&)> unary_backward_kernel{"unary_backward"};
inline KernelSlot<void(const FillParams&)> fill_kernel{"fill"};

}  // namespace glia::kernels
