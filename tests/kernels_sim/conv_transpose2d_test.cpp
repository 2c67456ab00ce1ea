// Hand-written conv_transpose2d (kernels/cuda/conv_transpose2d.cu) on sim, and on cuda and
// cuDNN when a GPU is present, against the CPU kernel run in float64 on the same data (an
// independent implementation: im2col + col2im + GEMM): k=2 and k=3 stride 2, with padding,
// output padding and bias, odd sizes, batch 3; forward and both backward products.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/conv_transpose2d.h"
#include "tests/kernels_sim/backends.h"
#include "tests/support/random_data.h"

namespace glia::test {
namespace {

using kernels::ConvTranspose2dShape;

class ConvTranspose2dSim : public KernelTest {
 protected:
  void SetUp() override {
    KernelTest::SetUp();
    if (!kernels::conv_transpose2d_kernel.has(GetParam()))
      GTEST_SKIP() << "no conv_transpose2d kernel on " << backend_name(GetParam());
  }
};

void check(Backend backend, const ConvTranspose2dShape& s, bool with_bias, const std::string& name) {
  const size_t nx = size_t(s.n * s.c_in * s.h_in * s.w_in), nw = size_t(s.c_in * s.c_out * s.kh * s.kw);
  const size_t ny = size_t(s.n * s.c_out * s.h_out() * s.w_out());
  std::vector<float> x = random_vector<float>(nx, 21), w = random_vector<float>(nw, 22);
  std::vector<float> bias = random_vector<float>(size_t(s.c_out), 23), gy = random_vector<float>(ny, 24);
  std::vector<double> xd = cast_vector<double>(x), wd = cast_vector<double>(w), bd = cast_vector<double>(bias);
  std::vector<double> gyd = cast_vector<double>(gy), y_ref(ny), gx_ref(nx), gw_ref(nw);
  kernels::cpu::conv_transpose2d({DType::f64, s, xd.data(), wd.data(), with_bias ? bd.data() : nullptr, y_ref.data()});
  kernels::cpu::conv_transpose2d_backward_input({DType::f64, s, gyd.data(), wd.data(), gx_ref.data()});
  kernels::cpu::conv_transpose2d_backward_weight({DType::f64, s, xd.data(), gyd.data(), gw_ref.data()});

  DeviceBuffer<float> dx(backend, x), dw(backend, w), db(backend, bias), dgy(backend, gy);
  DeviceBuffer<float> dy(backend, ny), dgx(backend, nx), dgw(backend, nw);
  kernels::conv_transpose2d_kernel.get(backend)(
      {DType::f32, s, dx.data(), dw.data(), with_bias ? db.data() : nullptr, dy.data()});
  kernels::conv_transpose2d_backward_input_kernel.get(backend)({DType::f32, s, dgy.data(), dw.data(), dgx.data()});
  kernels::conv_transpose2d_backward_weight_kernel.get(backend)({DType::f32, s, dx.data(), dgy.data(), dgw.data()});
  // Absolute error for small values (floor 1): sums of ~C*K*K products of O(1) values.
  EXPECT_LT(max_rel_error(dy.download(), y_ref, 1.0), 1e-5) << name << " forward";
  EXPECT_LT(max_rel_error(dgx.download(), gx_ref, 1.0), 1e-5) << name << " backward input";
  EXPECT_LT(max_rel_error(dgw.download(), gw_ref, 1.0), 1e-5) << name << " backward weight";
}

ConvTranspose2dShape shape(int64_t n, int64_t ci, int64_t h, int64_t w, int64_t co, int64_t k, int64_t stride,
                           int64_t pad, int64_t out_pad) {
  ConvTranspose2dShape s;
  s.n = n, s.c_in = ci, s.h_in = h, s.w_in = w, s.c_out = co, s.kh = s.kw = k;
  s.stride_h = s.stride_w = stride;
  s.pad_h = s.pad_w = pad;
  s.output_pad_h = s.output_pad_w = out_pad;
  return s;
}

TEST_P(ConvTranspose2dSim, Kernel2Stride2) { check(GetParam(), shape(3, 6, 5, 7, 5, 2, 2, 0, 0), true, "k2 s2"); }

TEST_P(ConvTranspose2dSim, Kernel3Stride2PaddingOutputPadding) {
  check(GetParam(), shape(3, 5, 5, 3, 7, 3, 2, 1, 1), true, "k3 s2 p1 op1");
  check(GetParam(), shape(3, 4, 3, 5, 3, 3, 2, 0, 1), false, "k3 s2 p0 op1");
  ConvTranspose2dShape asym = shape(3, 3, 4, 5, 5, 3, 2, 1, 0);
  asym.kw = 2, asym.stride_w = 1, asym.pad_w = 0, asym.output_pad_w = 0, asym.dilation_h = 2;
  check(GetParam(), asym, true, "k3x2 dilated rows");
}

INSTANTIATE_TEST_SUITE_P(Backends, ConvTranspose2dSim, ::testing::ValuesIn(gpu_backends(true)), backend_param_name);

}  // namespace
}  // namespace glia::test
