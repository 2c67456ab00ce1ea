// bfloat16 / float16 tensors: storage, Tensor::to between the four float dtypes (rounding to
// nearest even, kernels/half.h), autograd through a cast (the gradient is cast back to the
// source dtype, as in PyTorch), printing and the finite check (safetensors: tests/serialize/half_safetensors_test.cpp). PyTorch's own casts are compared in tests/reference/half_reference_test.cpp.
#include <cmath>
#include <sstream>

#include "tensor/finite.h"
#include "tensor/nn_ops.h"
#include "tests/tensor/helpers.h"

namespace glia {
namespace {

const DType kFloats[] = {DType::f32, DType::f64, DType::bf16, DType::f16};

// Values exact in every float dtype (multiples of 1/8 below 2^7 need 10 bits at most).
std::vector<double> exact_values(int64_t n) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = (i % 2 ? -1 : 1) * (0.125 * double(i * 37 % 200) + 0.5);
  return v;
}

TEST(HalfTensor, ToConvertsBetweenEveryPairOfFloatDtypes) {
  const std::vector<double> v = exact_values(24);
  for (DType from : kFloats) {
    for (DType to : kFloats) {
      Tensor a = from_vector(v, {2, 3, 4}, from);
      Tensor b = a.transpose(0, 2).to(to);  // strided source
      ASSERT_EQ(b.dtype(), to);
      EXPECT_EQ(b.sizes(), (Shape{4, 3, 2}));
      EXPECT_EQ(b.contiguous().to(DType::f64).to_vector<double>(), a.transpose(0, 2).contiguous().to_vector<double>())
          << dtype_name(from) << " -> " << dtype_name(to);
    }
  }
}

TEST(HalfTensor, ToRoundsToNearestEven) {
  // 1 + 2^-8 is half way between bfloat16's 1 and 1 + 2^-7: ties to the even 1.
  // 1 + 2^-8 + 2^-20 is past the tie: up. 65520 overflows float16; 2^-25 underflows to 0.
  Tensor x = from_vector(std::vector<float>{1 + 0x1p-8f, 1 + 0x1p-8f + 0x1p-20f, 65520.0f, 0x1p-25f, 0x1.8p-24f});
  EXPECT_EQ(x.to(DType::bf16).to_vector<float>(),
            (std::vector<float>{1.0f, 1 + 0x1p-7f, 65536.0f, 0x1p-25f, 0x1.8p-24f}));
  const std::vector<float> h = x.to(DType::f16).to_vector<float>();
  EXPECT_EQ(h[0], 1 + 0x1p-8f);  // exact in float16
  EXPECT_TRUE(std::isinf(h[2]));
  EXPECT_EQ(h[3], 0.0f);
  EXPECT_EQ(h[4], 0x1p-23f);  // 1.5 ulp of the smallest subnormal: the even neighbour 2
}

TEST(HalfTensor, NanAndInfinitySurviveACast) {
  Tensor x = from_vector(std::vector<float>{NAN, INFINITY, -INFINITY, -0.0f});
  for (DType t : {DType::bf16, DType::f16}) {
    const std::vector<float> y = x.to(t).to_vector<float>();
    EXPECT_TRUE(std::isnan(y[0])) << dtype_name(t);
    EXPECT_EQ(y[1], INFINITY);
    EXPECT_EQ(y[2], -INFINITY);
    EXPECT_TRUE(y[3] == 0.0f && std::signbit(y[3]));
  }
}

// Same value, or both NaN; -0 and +0 differ.
bool same_value(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || (a == b && std::signbit(a) == std::signbit(b));
}

// A cast on sim or cuda (their copy kernel) rounds exactly as the cpu's: every pair of
// float dtypes from a strided source, with ties, overflow, subnormals, NaN, infinities and
// signed zero; and integers into the 16-bit floats (through float, as on the cpu).
TEST(HalfTensor, CastsOnEveryDeviceMatchTheCpu) {
  const std::vector<double> v{1 + 0x1p-8,  1 + 0x1p-8 + 0x1p-20, 65520.0, 0x1p-25,   0x1.8p-24, NAN,
                              INFINITY,    -INFINITY,            -0.0,    3.14159,   -1e-30,    1e30,
                              1 + 0x1p-11, -(1 + 0x1p-11 + 0x1p-23), 0x1p-14, 0x1p-133, 255.5,     -7.0};
  const std::vector<double> ints{-3, 0, 7, 65519, 16777217, 33554435};
  for (Device d : test::devices()) {
    if (d == Device::cpu) continue;
    for (DType from : kFloats) {
      const Tensor a = from_vector(v, {3, 6}, DType::f64).to(from);
      for (DType to : kFloats) {
        const std::vector<double> want = a.transpose(0, 1).to(to).to(DType::f64).to_vector<double>();
        const std::vector<double> got =
            a.to(d).transpose(0, 1).to(to).to(Device::cpu).to(DType::f64).to_vector<double>();
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < got.size(); ++i)
          EXPECT_TRUE(same_value(got[i], want[i])) << device_name(d) << " " << dtype_name(from) << " -> "
                                                   << dtype_name(to) << " element " << i << ": " << got[i]
                                                   << ", cpu " << want[i];
      }
    }
    for (DType to : {DType::bf16, DType::f16}) {
      const Tensor n = from_vector(ints, {6}, DType::f64).to(DType::i32);
      EXPECT_EQ(n.to(d).to(to).to(Device::cpu).to(DType::f64).to_vector<double>(),
                n.to(to).to(DType::f64).to_vector<double>())
          << device_name(d) << " int32 -> " << dtype_name(to);
      EXPECT_EQ(n.to(to).to(d).to(DType::i64).to(Device::cpu).to_vector<int64_t>(),
                n.to(to).to(DType::i64).to_vector<int64_t>())
          << device_name(d) << dtype_name(to) << " -> int64";
    }
  }
}

TEST(HalfTensor, FactoriesAndTypedAccess) {
  Tensor t = full({3}, 2.5, DType::bf16);
  EXPECT_EQ(t.itemsize(), 2u);
  EXPECT_EQ(float(t.data<bfloat16>()[2]), 2.5f);
  EXPECT_THROW(t.data<float16>(), Error);
  std::vector<float16> h = {float16(1.5f), float16(-3.0f)};
  Tensor u = from_vector(h);
  EXPECT_EQ(u.dtype(), DType::f16);
  EXPECT_EQ(u.to_vector<double>(), (std::vector<double>{1.5, -3.0}));
  EXPECT_EQ(u.to_vector<float16>()[1].bits, h[1].bits);
  EXPECT_EQ(scalar_tensor(7, DType::f16).item<float>(), 7.0f);
}

// PyTorch: the backward of x.to(bf16) is grad.to(x.dtype).
TEST(HalfTensor, GradientOfACastIsCastBack) {
  for (DType low : {DType::bf16, DType::f16}) {
    Tensor x = from_vector(std::vector<float>{1.0f + 0x1p-9f, -2.0f, 3.0f}).requires_grad_();
    Tensor y = x.to(low);
    ASSERT_TRUE(y.requires_grad());
    Tensor z = y.to(DType::f32);
    Tensor w = from_vector(std::vector<float>{0.5f, 1 + 0x1p-12f, -4.0f});
    sum(mul(z, w)).backward();
    ASSERT_TRUE(x.grad().defined());
    EXPECT_EQ(x.grad().dtype(), DType::f32);
    // d sum(z * w) / dx = w rounded once to `low` on the way back (the gradient of y is
    // w cast to y's dtype): 1 + 2^-12 is not in either 16-bit format and rounds to 1.
    EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{0.5f, 1.0f, -4.0f})) << dtype_name(low);
  }
}

TEST(HalfTensor, PrintsValuesAndDtype) {
  std::ostringstream os;
  os << from_vector(std::vector<double>{1.5, -0.25, 3}, {3}, DType::bf16);
  EXPECT_EQ(os.str(), "tensor([1.5000, -0.2500, 3.0000], shape=[3], dtype=bfloat16, device=cpu)");
  std::ostringstream os16;
  os16 << from_vector(std::vector<double>{65504, 1}, {2}, DType::f16);
  EXPECT_NE(os16.str().find("6.5504e+04"), std::string::npos) << os16.str();
  EXPECT_NE(os16.str().find("dtype=float16"), std::string::npos) << os16.str();
}

TEST(HalfTensor, FiniteCheckFindsNonFinite16BitValues) {
  for (DType t : {DType::bf16, DType::f16}) {
    Tensor x = from_vector(std::vector<double>{1, 70000, NAN}, {3}, DType::f32).to(t);
    // 70000 overflows float16 only.
    EXPECT_EQ(first_non_finite(x.data_ptr(), t, 3), t == DType::f16 ? 1 : 2) << dtype_name(t);
    EXPECT_EQ(non_finite_name(x.data_ptr(), t, 2), "NaN");
  }
}

TEST(HalfTensor, OpsWithout16BitKernelsNameOpDeviceAndDtype) {
  Tensor x = ones({4}, DType::bf16);
  try {
    exp(x);
    FAIL() << "exp on bfloat16 should be refused";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("exp"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cpu"), std::string::npos) << msg;
    EXPECT_NE(msg.find("bfloat16"), std::string::npos) << msg;
  }
}

// matmul and conv2d take bfloat16/float16 tensors on cpu (the ops autocast runs in low
// precision): outputs and gradients in the inputs' dtype, computed in float32 and rounded
// once, so they equal the float32 ops on the rounded inputs rounded once more, within a
// 16-bit ulp (float32 summation order aside).
void expect_within_ulp(const Tensor& low, const Tensor& f32, DType t, const char* what) {
  ASSERT_EQ(low.dtype(), t) << what;
  const std::vector<double> a = low.to_vector<double>(), b = f32.to_vector<double>();
  ASSERT_EQ(a.size(), b.size());
  const double u = t == DType::bf16 ? 0x1p-8 : 0x1p-11;
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_NEAR(a[i], b[i], 2 * u * std::fabs(b[i]) + 1e-5) << what << " element " << i << " " << dtype_name(t);
}

TEST(HalfTensor, MatmulAndConv2dRunIn16BitsWithGradients) {
  for (DType t : {DType::bf16, DType::f16}) {
    Tensor a = test::random_tensor({5, 7}, DType::f32, Device::cpu, 1).to(t).detach().requires_grad_();
    Tensor b = test::random_tensor({7, 3}, DType::f32, Device::cpu, 2).to(t).detach().requires_grad_();
    Tensor a32 = a.detach().to(DType::f32).requires_grad_(), b32 = b.detach().to(DType::f32).requires_grad_();
    Tensor c = matmul(a, b), c32 = matmul(a32, b32);
    expect_within_ulp(c, c32, t, "matmul");
    Tensor g = test::random_tensor({5, 3}, DType::f32, Device::cpu, 3);
    c.backward(g.to(t));
    c32.backward(g.to(t).to(DType::f32));
    expect_within_ulp(a.grad(), a32.grad(), t, "matmul grad a");
    expect_within_ulp(b.grad(), b32.grad(), t, "matmul grad b");

    Tensor x = test::random_tensor({2, 3, 6, 5}, DType::f32, Device::cpu, 4).to(t).detach().requires_grad_();
    Tensor w = test::random_tensor({4, 3, 3, 3}, DType::f32, Device::cpu, 5).to(t).detach().requires_grad_();
    Tensor bias = test::random_tensor({4}, DType::f32, Device::cpu, 6).to(t).detach().requires_grad_();
    Tensor x32 = x.detach().to(DType::f32).requires_grad_(), w32 = w.detach().to(DType::f32).requires_grad_();
    Tensor bias32 = bias.detach().to(DType::f32).requires_grad_();
    Tensor y = conv2d(x, w, bias, conv_args(2, 1)), y32 = conv2d(x32, w32, bias32, conv_args(2, 1));
    expect_within_ulp(y, y32, t, "conv2d");
    Tensor gy = test::random_tensor(y.sizes(), DType::f32, Device::cpu, 7).to(t);
    y.backward(gy);
    y32.backward(gy.to(DType::f32));
    expect_within_ulp(x.grad(), x32.grad(), t, "conv2d grad x");
    expect_within_ulp(w.grad(), w32.grad(), t, "conv2d grad w");
    expect_within_ulp(bias.grad(), bias32.grad(), t, "conv2d grad bias");
  }
}

// The U-Net's upsampling (autocast runs conv_transpose2d in low precision too).
TEST(HalfTensor, ConvTranspose2dRunsIn16BitsWithGradients) {
  for (DType t : {DType::bf16, DType::f16}) {
    Tensor x = test::random_tensor({2, 5, 4, 3}, DType::f32, Device::cpu, 8).to(t).detach().requires_grad_();
    Tensor w = test::random_tensor({5, 3, 2, 2}, DType::f32, Device::cpu, 9).to(t).detach().requires_grad_();
    Tensor bias = test::random_tensor({3}, DType::f32, Device::cpu, 10).to(t).detach().requires_grad_();
    Tensor x32 = x.detach().to(DType::f32).requires_grad_(), w32 = w.detach().to(DType::f32).requires_grad_();
    Tensor bias32 = bias.detach().to(DType::f32).requires_grad_();
    ConvTranspose2dArgs args;
    args.stride_h = args.stride_w = 2;
    Tensor y = conv_transpose2d(x, w, bias, args), y32 = conv_transpose2d(x32, w32, bias32, args);
    expect_within_ulp(y, y32, t, "conv_transpose2d");
    Tensor gy = test::random_tensor(y.sizes(), DType::f32, Device::cpu, 11).to(t);
    y.backward(gy);
    y32.backward(gy.to(DType::f32));
    expect_within_ulp(x.grad(), x32.grad(), t, "conv_transpose2d grad x");
    expect_within_ulp(w.grad(), w32.grad(), t, "conv_transpose2d grad w");
    expect_within_ulp(bias.grad(), bias32.grad(), t, "conv_transpose2d grad bias");
  }
}

TEST(HalfTensor, OtherDevicesComputeOrNameOpDeviceAndDtype) {
  for (Device d : test::devices()) {
    if (d == Device::cpu) continue;
    Tensor a = ones({2, 2}, DType::bf16).to(d);  // moved as bytes: no kernel on d needed
    try {  // a device that has the kernel must compute it; one without must say so
      EXPECT_EQ(matmul(a, a).to(Device::cpu).to_vector<float>(), (std::vector<float>{2, 2, 2, 2}));
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("gemm"), std::string::npos) << msg;
      EXPECT_NE(msg.find(device_name(d)), std::string::npos) << msg;
      EXPECT_NE(msg.find("bfloat16"), std::string::npos) << msg;
    }
  }
}

}  // namespace
}  // namespace glia
