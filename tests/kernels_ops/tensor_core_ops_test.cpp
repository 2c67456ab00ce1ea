// The bf16 tensor-core kernels (kernels/cuda/gemm_bf16.cu, conv2d_bf16.cu) on sim (checked
// mode: guarded buffers, every block in three thread orders, a fresh WMMA element-to-lane
// mapping per launch) and on cuda when a GPU is present, against a float64 CPU reference
// computed from the same bf16-rounded inputs, on shapes that are not multiples of 16.
//
// Tolerance. Both sides see the same bf16 inputs, and a product of two bf16 values (8-bit
// significands) is exact in float, so the kernel's only errors are:
//   * the float sum of K exact products (plus the bias and beta*C terms): each addition
//     rounds with unit roundoff u32 = 2^-24, so |error| <= (K + 3) * u32 * S, where S is
//     the sum of the magnitudes of every term (the classic gamma_n bound for recursive
//     summation, first order; the tensor core's summation order is unspecified, and the
//     bound holds for any order);
//   * the epilogue's own roundings (alpha*acc, beta*C, bias, activation): a few u32 * S,
//     folded into the +3 above and the 8 * u32 below;
//   * the final rounding of a bf16 output: RNE to an 8-bit significand, |error| <=
//     u_bf16 * |y| with u_bf16 = 2^-8 (half an ulp at 7 stored bits), applied to the
//     computed value, so <= 2^-8 * (|y_ref| + the sum error).
// bound = (K + 8) * 2^-24 * S + (bf16 output ? 2^-8 * |y_ref| * (1 + 2^-8) : 2^-24 * |y_ref|)
// (Had the reference used the unrounded float inputs, each product would carry up to
// 2 * 2^-8 relative error more, so S * 2^-7 would dominate the bound; that is the
// tolerance a bf16-vs-float32 comparison of a network needs, not this one's.)
// The test reports the largest error / bound ratio seen per case.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/gemm.h"
#include "tests/kernels_ops/harness.h"

namespace glia::test::ops {
namespace {

// float -> bf16 bits, round to nearest even (NaN kept as a quiet NaN): the test's own
// conversion, independent of the emulator's.
uint16_t bf16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
double bf16_value(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// n random values in [-2, 2], rounded to bf16: the bits for the device, the values for the reference.
struct Bf16Data {
  std::vector<uint16_t> bits;
  std::vector<double> values;
};
Bf16Data random_bf16(size_t n, uint32_t seed) {
  Bf16Data d;
  for (double v : random_doubles(n, seed)) {
    d.bits.push_back(bf16_bits(static_cast<float>(v)));
    d.values.push_back(bf16_value(d.bits.back()));
  }
  return d;
}

constexpr double kU32 = 0x1p-24, kUBf16 = 0x1p-8;

// Checks got against ref within the module's bound; returns the largest error / bound.
double check_bounded(const std::vector<double>& got, const std::vector<double>& ref, const std::vector<double>& sum_abs,
                     int64_t k, bool bf16_out, const std::string& what) {
  double worst = 0;
  int failures = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double bound = (double(k) + 8) * kU32 * sum_abs[i] + (bf16_out ? kUBf16 * (1 + kUBf16) : kU32) * std::fabs(ref[i]);
    bound = std::max(bound, 1e-30);
    double err = std::fabs(got[i] - ref[i]);
    if (!(err <= bound) && ++failures <= 3) {
      ADD_FAILURE() << what << ": element " << i << " got " << got[i] << ", expected " << ref[i] << " (bound " << bound << ")";
    }
    worst = std::max(worst, err / bound);
  }
  std::cout << "[ bf16 ] " << what << ": max error / bound = " << worst << "\n";
  return worst;
}

std::vector<Backend> tensor_core_backends() {
  std::vector<Backend> out{Backend::sim};
  if (device_available(Device::cuda)) out.push_back(Backend::cuda);
  return out;
}

class TensorCoreOps : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    was_checked_ = sim::checked();
    sim::set_checked(true);
  }
  void TearDown() override { sim::set_checked(was_checked_); }

 private:
  bool was_checked_ = false;
};

// ---- GEMM ----------------------------------------------------------------------------------
struct Bf16GemmCase {
  const char* name;
  int64_t m, n, k;
  bool trans_a, trans_b;
  DType c_dtype;
  double alpha, beta;
  bool bias;
  kernels::GemmActivation activation;
  int64_t batch = 1, pad = 0;
  int64_t gap = 5;  // elements between batch items beyond the matrix (8 keeps 16-byte alignment)
};

double activate(double v, kernels::GemmActivation a) {
  if (a == kernels::GemmActivation::relu) return v > 0 ? v : 0;
  if (a == kernels::GemmActivation::silu) return v / (1 + std::exp(-v));
  return v;
}

void run_gemm_case(Backend backend, const Bf16GemmCase& c) {
  const int64_t a_rows = c.trans_a ? c.k : c.m, a_cols = c.trans_a ? c.m : c.k;
  const int64_t b_rows = c.trans_b ? c.n : c.k, b_cols = c.trans_b ? c.k : c.n;
  const int64_t lda = a_cols + c.pad, ldb = b_cols + c.pad, ldc = c.n + c.pad;
  const int64_t stride_a = a_rows * lda + c.gap, stride_b = b_rows * ldb + c.gap, stride_c = c.m * ldc + c.gap;
  const bool bf16_out = c.c_dtype == DType::bf16;
  Bf16Data a = random_bf16(size_t(stride_a * c.batch), 91), b = random_bf16(size_t(stride_b * c.batch), 92);
  // C (read when beta != 0) and bias in C's type.
  Bf16Data c0 = random_bf16(size_t(stride_c * c.batch), 93), bias = random_bf16(size_t(c.n), 94);
  std::vector<double> ref(c0.values.size()), sum_abs(c0.values.size(), 0.0);
  for (size_t i = 0; i < ref.size(); ++i) ref[i] = c.beta != 0 ? c0.values[i] : NAN;  // outside the blocks: untouched
  for (int64_t z = 0; z < c.batch; ++z)
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t j = 0; j < c.n; ++j) {
        double acc = 0, mag = 0;
        for (int64_t l = 0; l < c.k; ++l) {
          double p = a.values[size_t(z * stride_a + (c.trans_a ? l * lda + i : i * lda + l))] *
                     b.values[size_t(z * stride_b + (c.trans_b ? j * ldb + l : l * ldb + j))];
          acc += p, mag += std::fabs(p);
        }
        size_t at = size_t(z * stride_c + i * ldc + j);
        double v = c.alpha * acc, s = std::fabs(c.alpha) * mag;
        if (c.beta != 0) v += c.beta * c0.values[at], s += std::fabs(c.beta * c0.values[at]);
        if (c.bias) v += bias.values[size_t(j)], s += std::fabs(bias.values[size_t(j)]);
        ref[at] = activate(v, c.activation);
        sum_abs[at] = s;  // relu, silu: |f(x) - f(y)| <= 1.1 |x - y|; the +8 covers the 0.1
      }

  DeviceBuffer<uint16_t> da(backend, a.bits), db(backend, b.bits);
  DeviceBuffer<uint16_t> dbias16(backend, bias.bits);
  std::vector<float> bias32(bias.values.begin(), bias.values.end());
  DeviceBuffer<float> dbias32(backend, bias32);
  std::vector<uint16_t> c_bits = c.beta != 0 ? c0.bits : poisoned<uint16_t>(c0.bits.size());
  std::vector<float> c_floats = c.beta != 0 ? std::vector<float>(c0.values.begin(), c0.values.end())
                                            : poisoned<float>(c0.values.size());
  DeviceBuffer<uint16_t> dc16(backend, c_bits);
  DeviceBuffer<float> dc32(backend, c_floats);

  kernels::GemmParams p;
  p.dtype = DType::bf16;
  p.out_dtype = c.c_dtype;
  p.trans_a = c.trans_a, p.trans_b = c.trans_b;
  p.m = c.m, p.n = c.n, p.k = c.k;
  p.alpha = c.alpha, p.beta = c.beta;
  p.a = da.data(), p.lda = lda, p.stride_a = stride_a;
  p.b = db.data(), p.ldb = ldb, p.stride_b = stride_b;
  p.c = bf16_out ? static_cast<void*>(dc16.data()) : static_cast<void*>(dc32.data());
  p.ldc = ldc, p.stride_c = stride_c, p.batch = c.batch;
  p.bias = !c.bias ? nullptr : bf16_out ? static_cast<const void*>(dbias16.data()) : static_cast<const void*>(dbias32.data());
  p.activation = c.activation;
  kernels::gemm_kernel.get(backend)(p);

  std::vector<double> got;
  if (bf16_out) {
    for (uint16_t v : dc16.download()) got.push_back(bf16_value(v));
  } else {
    for (float v : dc32.download()) got.push_back(v);
  }
  // Outside the m x n blocks (padding, batch gaps) C must come back as it was.
  std::vector<double> inside_got, inside_ref, inside_sum;
  for (size_t i = 0; i < got.size(); ++i) {
    int64_t z = int64_t(i) / stride_c, q = int64_t(i) % stride_c, row = q / ldc, col = q % ldc;
    bool inside = z < c.batch && row < c.m && col < c.n;
    if (inside) {
      inside_got.push_back(got[i]), inside_ref.push_back(ref[i]), inside_sum.push_back(sum_abs[i]);
    } else if (c.beta != 0) {
      ASSERT_EQ(got[i], ref[i]) << c.name << ": element " << i << " outside C's blocks was changed";
    } else {
      ASSERT_TRUE(std::isnan(got[i])) << c.name << ": element " << i << " outside C's blocks was written";
    }
  }
  check_bounded(inside_got, inside_ref, inside_sum, c.k, bf16_out, std::string("gemm ") + c.name + " on " + backend_name(backend));
}

const Bf16GemmCase kGemmCases[] = {
    {"37x45x29", 37, 45, 29, false, false, DType::f32, 1.0, 0.0, false, kernels::GemmActivation::none},
    {"70x33x50 A^T bf16-out bias relu", 70, 33, 50, true, false, DType::bf16, 1.0, 0.0, true, kernels::GemmActivation::relu},
    {"17x81x40 B^T alpha beta bias silu", 17, 81, 40, false, true, DType::f32, 1.5, 0.5, true, kernels::GemmActivation::silu},
    {"5x7x3 A^T B^T bf16-out beta padded batch 3", 5, 7, 3, true, true, DType::bf16, 1.0, -1.0, false,
     kernels::GemmActivation::none, 3, 9},
    {"130x66x97 batch 2 padded", 130, 66, 97, false, false, DType::f32, 1.0, 0.0, false, kernels::GemmActivation::none, 2, 8},
    // Rows 16-byte aligned: the 16-byte load path, with partial runs at the N and K edges.
    {"45x40x64 aligned rows", 45, 40, 64, false, false, DType::f32, 1.0, 0.0, false, kernels::GemmActivation::none},
    {"50x44x68 aligned rows batch 2 bf16-out relu", 50, 44, 68, false, false, DType::bf16, 1.0, 0.0, false,
     kernels::GemmActivation::relu, 2, 12, 8},
    {"9x10x0 bias (K = 0)", 9, 10, 0, false, false, DType::f32, 1.0, 0.0, true, kernels::GemmActivation::none, 1, 1},
};

TEST_P(TensorCoreOps, GemmBf16MatchesFloat64ReferenceOnOddShapes) {
  for (const Bf16GemmCase& c : kGemmCases) {
    SCOPED_TRACE(c.name);
    run_gemm_case(GetParam(), c);
  }
}

TEST_P(TensorCoreOps, GemmBf16RefusesAnUnknownOutputType) {
  DeviceBuffer<uint16_t> a(GetParam(), 16 * 16), b(GetParam(), 16 * 16), c(GetParam(), 16 * 16);
  kernels::GemmParams p;
  p.dtype = DType::bf16;
  p.out_dtype = DType::f64;
  p.m = p.n = p.k = 16;
  p.a = a.data(), p.b = b.data(), p.c = c.data(), p.lda = p.ldb = p.ldc = 16;
  EXPECT_THROW(kernels::gemm_kernel.get(GetParam())(p), Error);
}

// ---- convolutions ---------------------------------------------------------------------------
struct Bf16ConvCase {
  const char* name;
  int64_t n, c_in, h, w, c_out, k, stride, pad, groups;
  bool bias;
};

kernels::Conv2dShape shape_of(const Bf16ConvCase& c) {
  kernels::Conv2dShape s;
  s.n = c.n, s.c_in = c.c_in, s.h_in = c.h, s.w_in = c.w, s.c_out = c.c_out, s.kh = s.kw = c.k;
  s.stride_h = s.stride_w = c.stride;
  s.pad_top = s.pad_bottom = s.pad_left = s.pad_right = c.pad;
  s.groups = c.groups;
  return s;
}

std::vector<double> absolute(const std::vector<double>& v) {
  std::vector<double> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = std::fabs(v[i]);
  return out;
}

std::vector<double> bf16_download(const DeviceBuffer<uint16_t>& d) {
  std::vector<double> out;
  for (uint16_t v : d.download()) out.push_back(bf16_value(v));
  return out;
}

// The float64 CPU kernels as the reference (and, on |inputs|, for the sum of |terms|).
void run_conv_case(Backend backend, const Bf16ConvCase& c) {
  const kernels::Conv2dShape s = shape_of(c);
  const int64_t ho = s.h_out(), wo = s.w_out();
  const size_t nx = size_t(c.n * c.c_in * c.h * c.w), ny = size_t(c.n * c.c_out * ho * wo);
  const size_t nw = size_t(c.c_out * (c.c_in / c.groups) * c.k * c.k);
  Bf16Data x = random_bf16(nx, 101), w = random_bf16(nw, 102), gy = random_bf16(ny, 103), bias = random_bf16(size_t(c.c_out), 104);
  const std::string where = std::string(c.name) + " on " + backend_name(backend);

  // forward
  {
    std::vector<double> ref(ny), sum(ny);
    std::vector<double> ax = absolute(x.values), aw = absolute(w.values), ab = absolute(bias.values);
    kernels::Conv2dParams r{DType::f64, s, x.values.data(), w.values.data(), c.bias ? bias.values.data() : nullptr, ref.data()};
    kernels::conv2d_kernel.get(Backend::cpu)(r);
    kernels::Conv2dParams ra{DType::f64, s, ax.data(), aw.data(), c.bias ? ab.data() : nullptr, sum.data()};
    kernels::conv2d_kernel.get(Backend::cpu)(ra);
    DeviceBuffer<uint16_t> dx(backend, x.bits), dw(backend, w.bits), db(backend, bias.bits), dy(backend, ny);
    kernels::Conv2dParams p{DType::bf16, s, dx.data(), dw.data(), c.bias ? db.data() : nullptr, dy.data()};
    kernels::conv2d_kernel.get(backend)(p);
    check_bounded(bf16_download(dy), ref, sum, (c.c_in / c.groups) * c.k * c.k, true, "conv2d " + where);
  }
  // backward to the input
  {
    std::vector<double> ref(nx), sum(nx);
    std::vector<double> agy = absolute(gy.values), aw = absolute(w.values);
    kernels::Conv2dBackwardInputParams r{DType::f64, s, gy.values.data(), w.values.data(), ref.data()};
    kernels::conv2d_backward_input_kernel.get(Backend::cpu)(r);
    kernels::Conv2dBackwardInputParams ra{DType::f64, s, agy.data(), aw.data(), sum.data()};
    kernels::conv2d_backward_input_kernel.get(Backend::cpu)(ra);
    DeviceBuffer<uint16_t> dgy(backend, gy.bits), dw(backend, w.bits), dgx(backend, nx);
    kernels::Conv2dBackwardInputParams p{DType::bf16, s, dgy.data(), dw.data(), dgx.data()};
    kernels::conv2d_backward_input_kernel.get(backend)(p);
    check_bounded(bf16_download(dgx), ref, sum, (c.c_out / c.groups) * c.k * c.k, true, "conv2d_backward_input " + where);
  }
  // backward to the weight
  {
    std::vector<double> ref(nw), sum(nw);
    std::vector<double> ax = absolute(x.values), agy = absolute(gy.values);
    kernels::Conv2dBackwardWeightParams r{DType::f64, s, x.values.data(), gy.values.data(), ref.data()};
    kernels::conv2d_backward_weight_kernel.get(Backend::cpu)(r);
    kernels::Conv2dBackwardWeightParams ra{DType::f64, s, ax.data(), agy.data(), sum.data()};
    kernels::conv2d_backward_weight_kernel.get(Backend::cpu)(ra);
    DeviceBuffer<uint16_t> dx(backend, x.bits), dgy(backend, gy.bits), dgw(backend, nw);
    kernels::Conv2dBackwardWeightParams p{DType::bf16, s, dx.data(), dgy.data(), dgw.data()};
    kernels::conv2d_backward_weight_kernel.get(backend)(p);
    check_bounded(bf16_download(dgw), ref, sum, c.n * ho * wo, true, "conv2d_backward_weight " + where);
  }
  // backward to the bias (a float reduction over N*Ho*Wo, same bound with K = N*Ho*Wo)
  if (c.bias) {
    std::vector<double> ref(size_t(c.c_out)), sum(size_t(c.c_out));
    std::vector<double> agy = absolute(gy.values);
    kernels::Conv2dBackwardBiasParams r{DType::f64, c.n, c.c_out, ho * wo, gy.values.data(), ref.data()};
    kernels::conv2d_backward_bias_kernel.get(Backend::cpu)(r);
    kernels::Conv2dBackwardBiasParams ra{DType::f64, c.n, c.c_out, ho * wo, agy.data(), sum.data()};
    kernels::conv2d_backward_bias_kernel.get(Backend::cpu)(ra);
    DeviceBuffer<uint16_t> dgy(backend, gy.bits), dgb(backend, size_t(c.c_out));
    kernels::Conv2dBackwardBiasParams p{DType::bf16, c.n, c.c_out, ho * wo, dgy.data(), dgb.data()};
    kernels::conv2d_backward_bias_kernel.get(backend)(p);
    check_bounded(bf16_download(dgb), ref, sum, c.n * ho * wo, true, "conv2d_backward_bias " + where);
  }
}

const Bf16ConvCase kConvCases[] = {
    {"3x3 pad 1, 2x5x9x9 -> 7, bias", 2, 5, 9, 9, 7, 3, 1, 1, 1, true},
    {"1x1, 2x19x6x7 -> 13", 2, 19, 6, 7, 13, 1, 1, 0, 1, false},
    {"3x3 stride 2 pad 1, 1x8x11x10 -> 9, bias (weight rows 16-byte aligned)", 1, 8, 11, 10, 9, 3, 2, 1, 1, true},
    {"1x1 stride 2, 2x8x9x9 -> 5", 2, 8, 9, 9, 5, 1, 2, 0, 1, false},
    {"3x3 pad 1, 2x3x17x16 -> 4 (split-K weight gradient)", 2, 3, 17, 16, 4, 3, 1, 1, 1, false},
    {"3x3 pad 1, 2 groups, 1x6x7x7 -> 4", 1, 6, 7, 7, 4, 3, 1, 1, 2, true},
    {"3x3 depthwise pad 1, 1x4x6x6", 1, 4, 6, 6, 4, 3, 1, 1, 4, false},
    // Planes of 64 pixels and channel counts of 8: the 16-byte paths (weights' rows, the
    // pointwise conv's pixels, gy's pixels in the weight gradient).
    {"1x1, 2x16x8x8 -> 24, bias (aligned pixel runs)", 2, 16, 8, 8, 24, 1, 1, 0, 1, true},
    {"3x3 pad 1, 2x8x8x8 -> 16 (aligned pixel runs)", 2, 8, 8, 8, 16, 3, 1, 1, 1, false},
};

TEST_P(TensorCoreOps, ConvBf16MatchesFloat64ReferenceOnOddShapes) {
  for (const Bf16ConvCase& c : kConvCases) {
    SCOPED_TRACE(c.name);
    run_conv_case(GetParam(), c);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, TensorCoreOps, ::testing::ValuesIn(tensor_core_backends()),
                         [](const ::testing::TestParamInfo<Backend>& info) { return std::string(backend_name(info.param)); });

}  // namespace
}  // namespace glia::test::ops
