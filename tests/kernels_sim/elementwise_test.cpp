// Hand-written elementwise kernels (kernels/cuda/elementwise.cu) on sim (and cuda when a
// GPU is present) against a double-precision reference: binary ops on the float4 path
// with a tail, the unaligned scalar path and broadcast/strided inputs; every unary op
// and its derivative; fill for several dtypes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/elementwise.h"
#include "tests/kernels_sim/backends.h"
#include "tests/support/random_data.h"

namespace glia::test {
namespace {

using kernels::BinaryOp;
using kernels::UnaryOp;

class ElementwiseSim : public KernelTest {};

double binary_ref(BinaryOp op, double a, double b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
    case BinaryOp::maximum: return std::max(a, b);
    case BinaryOp::minimum: return std::min(a, b);
  }
  return NAN;
}

const BinaryOp kBinaryOps[] = {BinaryOp::add, BinaryOp::sub, BinaryOp::mul,
                               BinaryOp::div, BinaryOp::maximum, BinaryOp::minimum};

// out[i] for output shape `sizes`, reading a and b through their strides.
template <class T>
void check_binary(Backend backend, BinaryOp op, const std::vector<int64_t>& sizes, const std::vector<int64_t>& a_strides,
                  const std::vector<int64_t>& b_strides, size_t a_len, size_t b_len, size_t a_offset = 0) {
  std::vector<T> a = random_vector<T>(a_len + a_offset, 11), b = random_vector<T>(b_len, 12);
  int64_t numel = 1;
  for (int64_t s : sizes) numel *= s;
  std::vector<double> ref(numel);
  for (int64_t i = 0; i < numel; ++i) {
    int64_t rest = i, ia = 0, ib = 0;
    for (int d = static_cast<int>(sizes.size()) - 1; d >= 0; --d) {
      ia += rest % sizes[d] * a_strides[d];
      ib += rest % sizes[d] * b_strides[d];
      rest /= sizes[d];
    }
    ref[i] = binary_ref(op, a[a_offset + ia], b[ib]);
  }
  DeviceBuffer<T> da(backend, a), db(backend, b), dout(backend, numel + a_offset);
  kernels::BinaryParams p;
  p.dtype = dtype_of<T>::value;
  p.op = op;
  p.ndim = static_cast<int>(sizes.size());
  for (int d = 0; d < p.ndim; ++d) {
    p.sizes[d] = sizes[d];
    p.a_strides[d] = a_strides[d];
    p.b_strides[d] = b_strides[d];
  }
  p.numel = numel;
  p.a = da.data() + a_offset;  // a_offset = 1 breaks 16-byte alignment: the scalar path
  p.b = db.data();
  p.out = dout.data() + a_offset;
  kernels::binary_kernel.get(backend)(p);
  std::vector<T> got = dout.download();
  got.erase(got.begin(), got.begin() + a_offset);
  EXPECT_LE(max_rel_error(got, ref), tolerance<T>()) << "op " << static_cast<int>(op);
}

TEST_P(ElementwiseSim, BinarySameShapeFloat4PathWithTail) {
  for (BinaryOp op : kBinaryOps) check_binary<float>(GetParam(), op, {1031}, {1}, {1}, 1031, 1031);
}

TEST_P(ElementwiseSim, BinarySameShapeUnalignedAndDouble) {
  for (BinaryOp op : kBinaryOps) {
    check_binary<float>(GetParam(), op, {3, 5, 7}, {35, 7, 1}, {35, 7, 1}, 105, 105, /*a_offset=*/1);
    check_binary<double>(GetParam(), op, {3, 5, 7}, {35, 7, 1}, {35, 7, 1}, 105, 105);
  }
}

TEST_P(ElementwiseSim, BinaryBroadcastAndStrided) {
  for (BinaryOp op : kBinaryOps) {
    // a: [3, 1, 7] broadcast over dim 1; b: [5] broadcast over dims 0 and 2.
    check_binary<float>(GetParam(), op, {3, 5, 7}, {7, 0, 1}, {0, 1, 0}, 21, 5);
    // a: a transposed [7, 3] buffer read as [3, 7]; b: a scalar.
    check_binary<double>(GetParam(), op, {3, 7}, {1, 3}, {0, 0}, 21, 1);
  }
}

// ---- unary ---------------------------------------------------------------------------------
struct UnaryCase {
  UnaryOp op;
  double scalar;
  bool positive_input;  // log, sqrt, pow need x > 0
};

const UnaryCase kUnaryCases[] = {
    {UnaryOp::neg, 0, false},        {UnaryOp::exp, 0, false},       {UnaryOp::log, 0, true},
    {UnaryOp::sqrt, 0, true},        {UnaryOp::abs, 0, false},       {UnaryOp::relu, 0, false},
    {UnaryOp::relu6, 0, false},      {UnaryOp::sigmoid, 0, false},   {UnaryOp::silu, 0, false},
    {UnaryOp::tanh, 0, false},       {UnaryOp::hardswish, 0, false}, {UnaryOp::leaky_relu, 0.1, false},
    {UnaryOp::pow_scalar, 2.5, true}, {UnaryOp::add_scalar, 0.7, false}, {UnaryOp::mul_scalar, -1.3, false},
};

double sigmoid_ref(double x) { return 1 / (1 + std::exp(-x)); }

double unary_ref(UnaryOp op, double x, double s) {
  switch (op) {
    case UnaryOp::neg: return -x;
    case UnaryOp::exp: return std::exp(x);
    case UnaryOp::log: return std::log(x);
    case UnaryOp::sqrt: return std::sqrt(x);
    case UnaryOp::abs: return std::fabs(x);
    case UnaryOp::relu: return x > 0 ? x : 0;
    case UnaryOp::relu6: return std::min(std::max(x, 0.0), 6.0);
    case UnaryOp::sigmoid: return sigmoid_ref(x);
    case UnaryOp::silu: return x * sigmoid_ref(x);
    case UnaryOp::tanh: return std::tanh(x);
    case UnaryOp::hardswish: return x * std::min(std::max(x + 3, 0.0), 6.0) / 6;
    case UnaryOp::leaky_relu: return x > 0 ? x : s * x;
    case UnaryOp::pow_scalar: return std::pow(x, s);
    case UnaryOp::add_scalar: return x + s;
    case UnaryOp::mul_scalar: return x * s;
  }
  return NAN;
}

double derivative_ref(UnaryOp op, double x, double s) {
  switch (op) {
    case UnaryOp::neg: return -1;
    case UnaryOp::exp: return std::exp(x);
    case UnaryOp::log: return 1 / x;
    case UnaryOp::sqrt: return 0.5 / std::sqrt(x);
    case UnaryOp::abs: return x > 0 ? 1 : -1;
    case UnaryOp::relu: return x > 0 ? 1 : 0;
    case UnaryOp::relu6: return x > 0 && x < 6 ? 1 : 0;
    case UnaryOp::sigmoid: return sigmoid_ref(x) * (1 - sigmoid_ref(x));
    case UnaryOp::silu: return sigmoid_ref(x) * (1 + x * (1 - sigmoid_ref(x)));
    case UnaryOp::tanh: return 1 - std::tanh(x) * std::tanh(x);
    case UnaryOp::hardswish: return x < -3 ? 0 : (x > 3 ? 1 : x / 3 + 0.5);
    case UnaryOp::leaky_relu: return x > 0 ? 1 : s;
    case UnaryOp::pow_scalar: return s * std::pow(x, s - 1);
    case UnaryOp::add_scalar: return 1;
    case UnaryOp::mul_scalar: return s;
  }
  return NAN;
}

template <class T>
void check_unary(Backend backend, const UnaryCase& c) {
  const size_t n = 517;
  // [-4, 4] crosses relu's 0 and both of hardswish's knees at -3 and 3.
  std::vector<T> x = c.positive_input ? random_vector<T>(n, 21, 0.05, 4.0) : random_vector<T>(n, 21, -4.0, 4.0);
  std::vector<T> gy = random_vector<T>(n, 22);
  std::vector<double> y_ref(n), gx_ref(n);
  for (size_t i = 0; i < n; ++i) {
    y_ref[i] = unary_ref(c.op, x[i], static_cast<T>(c.scalar));
    gx_ref[i] = static_cast<double>(gy[i]) * derivative_ref(c.op, x[i], static_cast<T>(c.scalar));
  }
  DeviceBuffer<T> dx(backend, x), dgy(backend, gy), dy(backend, n), dgx(backend, n);
  kernels::UnaryParams p;
  p.dtype = dtype_of<T>::value;
  p.op = c.op;
  p.scalar = c.scalar;
  p.n = static_cast<int64_t>(n);
  p.x = dx.data();
  p.y = dy.data();
  kernels::unary_kernel.get(backend)(p);
  kernels::UnaryBackwardParams bp;
  bp.dtype = p.dtype;
  bp.op = c.op;
  bp.scalar = c.scalar;
  bp.n = p.n;
  bp.x = dx.data();
  bp.gy = dgy.data();
  bp.gx = dgx.data();
  kernels::unary_backward_kernel.get(backend)(bp);
  // Floor 1e-2: where a value is computed from O(1) terms but is itself near 0 (silu'
  // crosses zero at x ~ -1.28, hardswish at -3..0), only absolute error means something.
  EXPECT_LE(max_rel_error(dy.download(), y_ref, 1e-2), tolerance<T>()) << "unary op " << static_cast<int>(c.op);
  EXPECT_LE(max_rel_error(dgx.download(), gx_ref, 1e-2), tolerance<T>()) << "unary backward op " << static_cast<int>(c.op);
}

TEST_P(ElementwiseSim, EveryUnaryOpAndDerivativeFloat) {
  for (const UnaryCase& c : kUnaryCases) check_unary<float>(GetParam(), c);
}

TEST_P(ElementwiseSim, EveryUnaryOpAndDerivativeDouble) {
  for (const UnaryCase& c : kUnaryCases) check_unary<double>(GetParam(), c);
}

TEST_P(ElementwiseSim, MoreElementsThanTheGridHasThreads) {
  // Grids stop at 1024 blocks of 256 threads; each thread then takes every 262144th element.
  // (unchecked: that many blocks run twice in checked mode take seconds).
  sim::set_checked(false);
  const size_t n = 1024 * 256 + 77;
  std::vector<float> x = random_vector<float>(n, 23);
  std::vector<double> ref(n);
  for (size_t i = 0; i < n; ++i) ref[i] = -static_cast<double>(x[i]);
  DeviceBuffer<float> dx(GetParam(), x), dy(GetParam(), n);
  kernels::UnaryParams p;
  p.op = UnaryOp::neg;
  p.n = static_cast<int64_t>(n);
  p.x = dx.data();
  p.y = dy.data();
  kernels::unary_kernel.get(GetParam())(p);
  EXPECT_EQ(max_rel_error(dy.download(), ref), 0.0);
}

// ---- fill ----------------------------------------------------------------------------------
template <class T>
void check_fill(Backend backend, double value) {
  const size_t n = 333;
  DeviceBuffer<T> d(backend, std::vector<T>(n, T(1)));
  kernels::FillParams p;
  p.dtype = dtype_of<T>::value;
  p.value = value;
  p.n = static_cast<int64_t>(n);
  p.out = d.data();
  kernels::fill_kernel.get(backend)(p);
  std::vector<T> got = d.download();
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(got[i], static_cast<T>(value)) << "element " << i;
}

TEST_P(ElementwiseSim, FillEveryDtype) {
  check_fill<float>(GetParam(), -2.5);
  check_fill<double>(GetParam(), 1e-300);
  check_fill<int32_t>(GetParam(), -7);
  check_fill<int64_t>(GetParam(), 1e12);
  check_fill<uint8_t>(GetParam(), 200);
}

TEST_P(ElementwiseSim, FillRefusesUnrepresentableInteger) {
  DeviceBuffer<uint8_t> d(GetParam(), 4);
  kernels::FillParams p;
  p.dtype = DType::u8;
  p.value = 300;
  p.n = 4;
  p.out = d.data();
  EXPECT_THROW(kernels::fill_kernel.get(GetParam())(p), Error);
}

INSTANTIATE_TEST_SUITE_P(Backends, ElementwiseSim, ::testing::ValuesIn(gpu_backends()), backend_param_name);

}  // namespace
}  // namespace glia::test
