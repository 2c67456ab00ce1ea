// Autocast (tensor/autocast.h): the policy table, the thread-local guard, and each policy's
// effect on real ops. A `lower` op under autocast must equal the f32 op applied to operands
// rounded to the 16-bit dtype (the rounding made by an independent path: Tensor::to and
// back), with the result and the gradients rounded as the 16-bit kernels round them.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>
#include <thread>

#include "kernels/error.h"
#include "tensor/autocast.h"
#include "tensor/autograd.h"
#include "tensor/nn_ops.h"
#include "tensor/ops.h"
#include "tests/support/devices.h"
#include "tests/tensor/helpers.h"

namespace glia {
namespace {

TEST(AutocastTable, EveryOpOnceWithThePolicyOfPyTorchsLists) {
  std::set<std::string> seen;
  for (const auto& r : autocast_table()) EXPECT_TRUE(seen.insert(r.op).second) << r.op << " twice";
  for (const char* op : {"conv2d", "conv_transpose2d", "matmul"})
    EXPECT_EQ(autocast_rule(op)->policy, CastPolicy::lower) << op;
  for (const char* op : {"batch_norm", "softmax", "log_softmax", "cross_entropy", "binary_cross_entropy_with_logits",
                         "sum", "mean"})
    EXPECT_EQ(autocast_rule(op)->policy, CastPolicy::fp32) << op;
  for (const char* op : {"add", "mul", "concat"}) EXPECT_EQ(autocast_rule(op)->policy, CastPolicy::promote) << op;
  EXPECT_EQ(autocast_rule("relu"), nullptr);
}

TEST(AutocastGuard, NestsRestoresAndIsPerThread) {
  EXPECT_FALSE(autocast_active());
  {
    AutocastGuard outer(DType::bf16);
    EXPECT_TRUE(autocast_active());
    EXPECT_EQ(autocast_dtype(), DType::bf16);
    {
      AutocastGuard inner(DType::f16);
      EXPECT_EQ(autocast_dtype(), DType::f16);
      {
        AutocastGuard off(DType::bf16, false);
        EXPECT_FALSE(autocast_active());
      }
      EXPECT_TRUE(autocast_active());
    }
    EXPECT_EQ(autocast_dtype(), DType::bf16);
    bool other_thread_active = true;
    std::thread([&] { other_thread_active = autocast_active(); }).join();
    EXPECT_FALSE(other_thread_active);
  }
  EXPECT_FALSE(autocast_active());
  EXPECT_THROW(AutocastGuard(DType::f32), Error);
}

// promote: a mix of dtypes is an error outside autocast and the widest dtype inside it;
// f64 is never narrowed by the fp32 policy.
TEST(AutocastPolicy, PromoteTakesTheWidestInputAndFp32KeepsF64) {
  const Tensor a = test::random_tensor({3, 4}, DType::f32, Device::cpu, 1);
  const Tensor b = test::random_tensor({3, 4}, DType::f64, Device::cpu, 2);
  EXPECT_THROW(add(a, b), Error);
  AutocastGuard autocast(DType::bf16);
  const Tensor c = add(a, b);
  EXPECT_EQ(c.dtype(), DType::f64);
  const auto av = a.to_vector<double>(), bv = b.to_vector<double>(), cv = c.to_vector<double>();
  for (size_t i = 0; i < cv.size(); ++i) EXPECT_EQ(cv[i], av[i] + bv[i]);
  EXPECT_EQ(concat({a, b}, 0).dtype(), DType::f64);
  EXPECT_EQ(sum(b).dtype(), DType::f64);
}

// fp32-policy ops on f32 inputs run untouched: batch norm's running statistics (updated in
// place, never cast) come out bit for bit as without autocast.
TEST(AutocastPolicy, BatchNormOnF32IsUntouched) {
  const Tensor x = test::random_tensor({4, 3, 5, 5}, DType::f32, Device::cpu, 3);
  const Tensor w = test::random_tensor({3}, DType::f32, Device::cpu, 4), b = test::random_tensor({3}, DType::f32, Device::cpu, 5);
  Tensor rm1 = zeros({3}), rv1 = ones({3}), rm2 = zeros({3}), rv2 = ones({3});
  const Tensor y1 = batch_norm(x, w, b, rm1, rv1, true, 0.1, 1e-5);
  Tensor y2;
  {
    AutocastGuard autocast(DType::bf16);
    y2 = batch_norm(x, w, b, rm2, rv2, true, 0.1, 1e-5);
  }
  EXPECT_EQ(y1.to_vector<float>(), y2.to_vector<float>());
  EXPECT_EQ(rm1.to_vector<float>(), rm2.to_vector<float>());
  EXPECT_EQ(rv1.to_vector<float>(), rv2.to_vector<float>());
}

// ---- on every device, with the 16-bit kernels ----------------------------------------------

// A device without the kernels autocast needs for a 16-bit dtype (autocast_kernels_missing:
// the casts, conv2d, conv_transpose2d, matmul) skips that dtype's half of each case (the whole case without
// bf16), after checking the kernel's error names the dtype and the device's backend (what
// a user of --precision sees). sim: bf16 runs (it skipped whole before the copy kernel
// had 16-bit casts), f16 skips.
class Autocast : public ::testing::TestWithParam<Device> {
 protected:
  void SetUp() override {
    if (!has_kernels(DType::bf16)) GTEST_SKIP() << "bf16 kernels missing on " << device_name(GetParam());
  }
  // A device may have bf16 kernels and no f16 ones (sim: the tensor-core kernels are
  // bf16): a case's f16 half is skipped there, after checking the error.
  bool has_kernels(DType dt) {
    const std::string missing = autocast_kernels_missing(GetParam(), dt);
    if (missing.empty()) return true;
    EXPECT_TRUE(missing.find(dtype_name(dt)) != std::string::npos) << missing;
    EXPECT_TRUE(missing.find(device_name(GetParam())) != std::string::npos) << missing;
    std::cout << "  " << dtype_name(dt) << " skipped on " << device_name(GetParam()) << ": " << missing << "\n";
    return false;
  }
};

Tensor rounded(const Tensor& t, DType dtype) {
  NoGradGuard no_grad;
  return t.to(dtype).to(DType::f32);
}

// |got - want| <= one 16-bit ulp of want (2^-8 for bf16, 2^-11 for f16) plus an absolute
// term for values that cancel: two correct 16-bit results of the same f32 accumulation
// may round to neighbouring values when the f32 sums (in different orders) straddle a
// rounding boundary, never further apart.
void expect_close_16(const Tensor& got, const Tensor& want, DType dtype, double scale, const std::string& what) {
  ASSERT_EQ(got.dtype(), DType::f32) << what;
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const double ulp = dtype == DType::bf16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11);
  const auto g = got.to(Device::cpu).to_vector<double>(), w = want.to(Device::cpu).to_vector<double>();
  int bad = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const double tol = ulp * std::abs(w[i]) + 1e-5 * scale;
    if (!(std::abs(g[i] - w[i]) <= tol) && ++bad <= 5)
      ADD_FAILURE() << what << " [" << i << "]: " << g[i] << " vs " << w[i] << " (tolerance " << tol << ")";
  }
}

TEST_P(Autocast, Conv2dRunsOnRoundedOperandsAndGivesF32GradientsToF32Weights) {
  const Device dev = GetParam();
  for (DType dt : {DType::bf16, DType::f16}) {
    if (!has_kernels(dt)) continue;
    SCOPED_TRACE(dtype_name(dt));
    const Tensor x = test::random_tensor({2, 5, 7, 6}, DType::f32, dev, 11).requires_grad_();
    const Tensor w = test::random_tensor({4, 5, 3, 3}, DType::f32, dev, 12).requires_grad_();
    const Tensor b = test::random_tensor({4}, DType::f32, dev, 13).requires_grad_();
    const Tensor gy = test::random_tensor({2, 4, 4, 3}, DType::f32, dev, 14);
    const Conv2dArgs args = conv_args(2, 1);
    Tensor y;
    {
      AutocastGuard autocast(dt);
      y = conv2d(x, w, b, args);
    }
    y.backward(gy);
    // Reference: the f32 op on rounded operands, its result and gradients rounded.
    const Tensor xr = rounded(x, dt).requires_grad_(), wr = rounded(w, dt).requires_grad_();
    const Tensor br = rounded(b, dt).requires_grad_();
    const Tensor yr = conv2d(xr, wr, br, args);
    yr.backward(rounded(gy, dt));
    expect_close_16(y, rounded(yr, dt), dt, 5 * 9, "y");
    EXPECT_EQ(x.grad().dtype(), DType::f32);
    EXPECT_EQ(w.grad().dtype(), DType::f32);
    expect_close_16(x.grad(), rounded(xr.grad(), dt), dt, 4 * 9, "grad x");
    expect_close_16(w.grad(), rounded(wr.grad(), dt), dt, 2 * 4 * 3, "grad w");
    expect_close_16(b.grad(), rounded(br.grad(), dt), dt, 2 * 4 * 3, "grad bias");
    // The cast happened: the f32 conv of the unrounded operands differs somewhere.
    NoGradGuard no_grad;
    const auto y32 = conv2d(x, w, b, args).to(Device::cpu).to_vector<float>();
    EXPECT_NE(y32, y.to(Device::cpu).to_vector<float>());
  }
}

TEST_P(Autocast, LinearRunsTheProductInSixteenBitsAndTheBiasInF32) {
  const Device dev = GetParam();
  for (DType dt : {DType::bf16, DType::f16}) {
    if (!has_kernels(dt)) continue;
    SCOPED_TRACE(dtype_name(dt));
    const Tensor x = test::random_tensor({5, 37}, DType::f32, dev, 21).requires_grad_();
    const Tensor w = test::random_tensor({3, 37}, DType::f32, dev, 22).requires_grad_();
    const Tensor b = test::random_tensor({3}, DType::f32, dev, 23).requires_grad_();
    const Tensor gy = test::random_tensor({5, 3}, DType::f32, dev, 24);
    Tensor y;
    {
      AutocastGuard autocast(dt);
      y = linear(x, w, b);
    }
    y.backward(gy);
    const Tensor xr = rounded(x, dt).requires_grad_(), wr = rounded(w, dt).requires_grad_();
    // The product is rounded to 16 bits, then the f32 bias is added in f32 (promote).
    const Tensor pr = matmul(xr, wr.transpose(0, 1));
    const Tensor yr = add(rounded(pr, dt), b.detach());
    pr.backward(rounded(gy, dt));
    expect_close_16(y, yr, dt, 37, "y");
    expect_close_16(x.grad(), rounded(xr.grad(), dt), dt, 3, "grad x");
    expect_close_16(w.grad(), rounded(wr.grad(), dt), dt, 5, "grad w");
    EXPECT_EQ(b.grad().dtype(), DType::f32);
  }
}

TEST_P(Autocast, Fp32PolicyWidensSixteenBitInputs) {
  const Device dev = GetParam();
  const Tensor x = test::random_tensor({3, 9}, DType::f32, dev, 31).to(DType::bf16);
  AutocastGuard autocast(DType::bf16);
  const Tensor s = softmax(x, 1);
  EXPECT_EQ(s.dtype(), DType::f32);
  const Tensor ref = softmax(x.to(DType::f32), 1);
  EXPECT_EQ(s.to(Device::cpu).to_vector<float>(), ref.to(Device::cpu).to_vector<float>());
  EXPECT_EQ(sum(x).dtype(), DType::f32);
  EXPECT_EQ(add(x, x.to(DType::f32)).dtype(), DType::f32);
}

INSTANTIATE_TEST_SUITE_P(Devices, Autocast, ::testing::ValuesIn(test::devices()), test::device_param_name);

}  // namespace
}  // namespace glia
