// Elementwise kernels (kernels/elementwise.h) and strided copy (kernels/copy.h) on every
// backend against double references: every binary op on the float4 path with a tail, a
// misaligned view, broadcast and transposed inputs; every unary op and its backward at a
// float4-aligned length with a tail and at a misaligned view; fill and copy for several
// dtypes (copy into a narrowed view must leave the rest alone).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/copy.h"
#include "kernels/elementwise.h"
#include "tests/kernels_ops/harness.h"

namespace glia::test::ops {
namespace {

using kernels::BinaryOp;
using kernels::UnaryOp;

class ElementwiseOps : public OpTest {};

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

template <class T>
void check_binary(Backend backend, BinaryOp op, const BinaryCase& c) {
  const std::vector<T> a = random_vector<T>(size_t(c.a_len + c.offset), 11), b = random_vector<T>(size_t(c.b_len), 12);
  int64_t numel = 1;
  for (int64_t s : c.sizes) numel *= s;
  std::vector<double> ref(static_cast<size_t>(numel));
  for (int64_t i = 0; i < numel; ++i) {
    int64_t rest = i, ia = 0, ib = 0;
    for (int d = int(c.sizes.size()) - 1; d >= 0; --d) {
      ia += rest % c.sizes[size_t(d)] * c.a_strides[size_t(d)];
      ib += rest % c.sizes[size_t(d)] * c.b_strides[size_t(d)];
      rest /= c.sizes[size_t(d)];
    }
    ref[size_t(i)] = binary_ref(op, a[size_t(c.offset + ia)], b[size_t(ib)]);
  }
  DeviceBuffer<T> da(backend, a), db(backend, b), dout(backend, size_t(numel + c.offset));
  kernels::BinaryParams p;
  p.dtype = dtype_of<T>::value;
  p.op = op;
  p.ndim = int(c.sizes.size());
  for (int d = 0; d < p.ndim; ++d) {
    p.sizes[d] = c.sizes[size_t(d)];
    p.a_strides[d] = c.a_strides[size_t(d)];
    p.b_strides[d] = c.b_strides[size_t(d)];
  }
  p.numel = numel;
  p.a = da.data() + c.offset;  // offset 1 breaks 16-byte alignment: the scalar path
  p.b = db.data();
  p.out = dout.data() + c.offset;
  kernels::binary_kernel.get(backend)(p);
  std::vector<T> got = dout.download();
  got.erase(got.begin(), got.begin() + c.offset);
  EXPECT_TRUE(close_rel(got, ref, 0.0, 1.0)) << what<T>(c.name, backend) << " op " << int(op);
}

TEST_P(ElementwiseOps, BinaryEveryOpEveryLayout) {
  for (const BinaryCase& c : kBinaryCases)
    for (BinaryOp op : kBinaryOps) for_float_types([&](auto t) { check_binary<decltype(t)>(backend(), op, c); });
}

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

// The backward's reference is itself checked: a central difference of unary_ref.
TEST(ElementwiseReference, DerivativesMatchFiniteDifferences) {
  for (const UnaryCase& c : kUnaryCases)
    for (double x : {-3.7, -1.3, -0.4, 0.3, 1.1, 2.9, 3.6, 6.4}) {
      if (c.positive_input && x <= 0) continue;
      const double h = 1e-6, fd = (unary_ref(c.op, x + h, c.scalar) - unary_ref(c.op, x - h, c.scalar)) / (2 * h);
      EXPECT_NEAR(fd, derivative_ref(c.op, x, c.scalar), 1e-6 * std::max(1.0, std::fabs(fd)))
          << "op " << int(c.op) << " at " << x;
    }
}

template <class T>
void check_unary(Backend backend, const UnaryCase& c, const UnaryLength& len) {
  const size_t n = size_t(len.n), off = size_t(len.offset);
  const std::vector<T> x = random_vector<T>(n + off, 21, c.positive_input ? 0.05 : c.lo, c.hi);
  const std::vector<T> gy = random_vector<T>(n + off, 22);
  const T s = static_cast<T>(c.scalar);
  std::vector<double> y_ref(n), gx_ref(n);
  for (size_t i = 0; i < n; ++i) {
    y_ref[i] = unary_ref(c.op, x[off + i], s);
    gx_ref[i] = double(gy[off + i]) * derivative_ref(c.op, x[off + i], s);
  }
  DeviceBuffer<T> dx(backend, x), dgy(backend, gy), dy(backend, n + off), dgx(backend, n + off);
  kernels::UnaryParams p;
  p.dtype = dtype_of<T>::value, p.op = c.op, p.scalar = c.scalar, p.n = len.n;
  p.x = dx.data() + off, p.y = dy.data() + off;
  kernels::unary_kernel.get(backend)(p);
  kernels::UnaryBackwardParams bp;
  bp.dtype = p.dtype, bp.op = c.op, bp.scalar = c.scalar, bp.n = len.n;
  bp.x = dx.data() + off, bp.gy = dgy.data() + off, bp.gx = dgx.data() + off;
  kernels::unary_backward_kernel.get(backend)(bp);
  std::vector<T> y = dy.download(), gx = dgx.download();
  y.erase(y.begin(), y.begin() + long(off));
  gx.erase(gx.begin(), gx.begin() + long(off));
  // Floor 1e-2: where a value of O(1) terms is itself near 0 (silu' crosses zero near
  // -1.28, hardswish between -3 and 0) only absolute error means something. 256 ulps:
  // sigmoid, silu, tanh and their derivatives compose several rounded exp/divides.
  const std::string name = what<T>("unary op " + std::to_string(int(c.op)) + " n=" + std::to_string(n) +
                                       " offset=" + std::to_string(off), backend);
  EXPECT_TRUE(close_rel(y, y_ref, 1e-2, 256)) << name << " forward";
  // The backward forms gy * f'(x) with f' from terms of O(1) that cancel (tanh': 1 - y^2),
  // so its rounding is relative to |gy| as well as to gx.
  std::vector<double> gx_bound = magnitude(gx_ref, 1e-2);
  for (size_t i = 0; i < n; ++i) gx_bound[i] = std::max(gx_bound[i], std::fabs(double(gy[off + i])));
  EXPECT_TRUE(close_to(gx, gx_ref, gx_bound, 256 * unit_roundoff<T>())) << name << " backward";
}

TEST_P(ElementwiseOps, UnaryEveryOpAndItsBackward) {
  for (const UnaryCase& c : kUnaryCases)
    for (const UnaryLength& len : kUnaryLengths)
      for_float_types([&](auto t) { check_unary<decltype(t)>(backend(), c, len); });
}

TEST_P(ElementwiseOps, MoreElementsThanTheGridHasThreads) {
  // GPU grids stop at 1024 blocks of 256 threads; each thread then takes every 262144th
  // element (unchecked on sim: that many blocks run three times take seconds).
  sim::set_checked(false);
  const size_t n = 1024 * 256 + 77;
  const std::vector<float> x = random_vector<float>(n, 23);
  std::vector<double> ref(n);
  for (size_t i = 0; i < n; ++i) ref[i] = -double(x[i]);
  DeviceBuffer<float> dx(backend(), x), dy(backend(), n);
  kernels::UnaryParams p;
  p.op = UnaryOp::neg, p.n = int64_t(n), p.x = dx.data(), p.y = dy.data();
  kernels::unary_kernel.get(backend())(p);
  EXPECT_TRUE(close_rel(dy.download(), ref, 0.0, 0.0));
}

template <class T>
void check_fill(Backend backend, double value, size_t n) {
  DeviceBuffer<T> d(backend, std::vector<T>(n, T(1)));
  kernels::FillParams p;
  p.dtype = dtype_of<T>::value, p.value = value, p.n = int64_t(n), p.out = d.data();
  kernels::fill_kernel.get(backend)(p);
  const std::vector<T> got = d.download();
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(got[i], static_cast<T>(value)) << "element " << i << " on " << backend_name(backend);
}

TEST_P(ElementwiseOps, FillEveryDtype) {
  for (size_t n : {size_t{333}, size_t{70001}}) {  // 70001: threaded on the cpu
    check_fill<float>(backend(), -2.5, n);
    check_fill<double>(backend(), 1e-300, n);
    check_fill<int32_t>(backend(), -7, n);
    check_fill<int64_t>(backend(), 1e12, n);
    check_fill<uint8_t>(backend(), 200, n);
  }
}

TEST_P(ElementwiseOps, FillRefusesUnrepresentableInteger) {
  DeviceBuffer<uint8_t> d(backend(), 4);
  kernels::FillParams p;
  p.dtype = DType::u8, p.value = 300, p.n = 4, p.out = d.data();
  EXPECT_THROW(kernels::fill_kernel.get(backend())(p), Error);
}

// Copies a case from Src to Dst; every element of dst is checked: copied ones against the
// reference, the rest still holding the sentinel.
template <class Src, class Dst>
void check_copy(Backend backend, const CopyCase& c, const std::vector<Src>& src) {
  const Dst sentinel = Dst(99);
  std::vector<Dst> expected(size_t(c.dst_len), sentinel);
  int64_t numel = 1;
  for (int64_t s : c.sizes) numel *= s;
  for (int64_t i = 0; i < numel; ++i) {
    int64_t rest = i, is = 0, id = c.dst_offset;
    for (int d = int(c.sizes.size()) - 1; d >= 0; --d) {
      is += rest % c.sizes[size_t(d)] * c.src_strides[size_t(d)];
      id += rest % c.sizes[size_t(d)] * c.dst_strides[size_t(d)];
      rest /= c.sizes[size_t(d)];
    }
    expected[size_t(id)] = static_cast<Dst>(src[size_t(is)]);
  }
  DeviceBuffer<Src> dsrc(backend, src);
  DeviceBuffer<Dst> ddst(backend, std::vector<Dst>(size_t(c.dst_len), sentinel));
  kernels::CopyParams p;
  p.src_dtype = dtype_of<Src>::value, p.dst_dtype = dtype_of<Dst>::value;
  p.ndim = int(c.sizes.size());
  for (int d = 0; d < p.ndim; ++d) {
    p.sizes[d] = c.sizes[size_t(d)];
    p.src_strides[d] = c.src_strides[size_t(d)];
    p.dst_strides[d] = c.dst_strides[size_t(d)];
  }
  p.numel = numel;
  p.src = dsrc.data();
  p.dst = ddst.data() + c.dst_offset;
  kernels::copy_kernel.get(backend)(p);
  const std::vector<Dst> got = ddst.download();
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(got[i], expected[i]) << c.name << " " << dtype_name(p.src_dtype) << " -> " << dtype_name(p.dst_dtype)
                                   << " on " << backend_name(backend) << ", dst element " << i;
}

TEST_P(ElementwiseOps, CopyEveryLayoutAndCast) {
  for (const CopyCase& c : kCopyCases) {
    const size_t n = size_t(c.src_len);
    const std::vector<double> real = random_doubles(n, 31);
    check_copy<float, float>(backend(), c, cast_vector<float>(real));
    check_copy<double, double>(backend(), c, real);
    check_copy<float, double>(backend(), c, cast_vector<float>(real));
    check_copy<double, float>(backend(), c, real);
    check_copy<int64_t, float>(backend(), c, random_ints(n, 33, -1000, 1000));
    check_copy<uint8_t, float>(backend(), c, cast_vector<uint8_t>(random_ints(n, 34, 0, 256)));
    // Integral floats so float -> int has one right answer.
    check_copy<float, int32_t>(backend(), c, cast_vector<float>(random_ints(n, 35, -500, 500)));
    check_copy<int32_t, int64_t>(backend(), c, cast_vector<int32_t>(random_ints(n, 36, -500, 500)));
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ElementwiseOps, ::testing::ValuesIn(harness_backends()), backend_param_name);

}  // namespace
}  // namespace glia::test::ops
