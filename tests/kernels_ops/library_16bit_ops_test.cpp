// bf16 and f16 through cuBLAS and cuDNN (backend cudnn: kernels/cudnn/gemm_cublas.cpp,
// conv_cudnn.cpp) against double loops over the same 16-bit inputs. These run only where
// a GPU is present (scripts/gpu-check.sh): neither library exists under sim, so on a
// machine without one the suite is not instantiated at all and gtest lists nothing run —
// it does not pass by skipping. The hand and emulated 16-bit kernels have their own
// suites.
//
// Tolerances, with u16 = 2^-8 (bf16) or 2^-11 (f16) the output's unit roundoff, u32 = 2^-24
// and L the reduction length: |got - ref| <= u16 |ref| (one rounding of the output)
// + (2 L u32 + u16) * sum |terms| (float32 accumulation in any order, and one 16-bit
// rounding of a partial result, which some cuDNN algorithms do). A wrong index or layout
// is an error of the order of sum |terms| and fails.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/gemm.h"
#include "tests/kernels_ops/conv_products.h"
#include "tests/kernels_ops/harness.h"

namespace glia::test::ops {
namespace {

using kernels::Conv2dShape;

// Only the library backend: the one these kernels live in.
std::vector<Backend> library_backends() {
  std::vector<Backend> out;
  for (Backend b : harness_backends(/*with_library=*/true))
    if (b == Backend::cudnn) out.push_back(b);
  return out;
}

// Host 16-bit encodings (round to nearest even; the test's inputs are finite), kept local
// so this suite does not depend on which host half type the tensor floor adopts.
uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
uint16_t to_bits(float f, DType t) {
  if (t == DType::bf16) {
    const uint32_t x = bits_of(f);
    return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
  }
  // float16, normal range only (inputs lie in [0.05, 2], outputs well inside 2^-14..65504).
  const uint32_t x = bits_of(f), sign = (x >> 16) & 0x8000u, mag = x & 0x7FFFFFFFu;
  uint32_t r = (mag >> 13) - (112u << 10);
  const uint32_t rest = mag & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (r & 1u))) ++r;
  return static_cast<uint16_t>(sign | r);
}
double from_bits(uint16_t h, DType t) {
  if (t == DType::bf16) return float_of(uint32_t(h) << 16);
  const uint32_t sign = uint32_t(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
  if (e == 0x1F) return m ? std::nan("") : (sign ? -INFINITY : INFINITY);
  if (e == 0) return (sign ? -1.0 : 1.0) * std::ldexp(double(m), -24);
  return float_of(sign | ((e + 112u) << 23) | (m << 13));
}
double unit_roundoff_16(DType t) { return t == DType::bf16 ? 0x1p-8 : 0x1p-11; }

// Random values already representable in t: the reference then sees exactly what the GPU does.
std::vector<uint16_t> random_16bit(size_t n, uint32_t seed, DType t) {
  std::vector<uint16_t> out(n);
  const std::vector<float> v = random_vector<float>(n, seed);
  for (size_t i = 0; i < n; ++i) out[i] = to_bits(v[i], t);
  return out;
}
std::vector<double> widen(const std::vector<uint16_t>& v, DType t) {
  std::vector<double> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = from_bits(v[i], t);
  return out;
}

::testing::AssertionResult close_16(const std::vector<double>& got, const std::vector<double>& ref,
                                    const std::vector<double>& bound, double u_out, int64_t reduction) {
  if (got.size() != ref.size()) return ::testing::AssertionFailure() << "size " << got.size() << " vs " << ref.size();
  const double accumulate = 2.0 * double(reduction) * 0x1p-24;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(ref[i]) && std::isnan(got[i])) continue;  // padding of a beta = 0 case, left alone
    const double tol = u_out * std::fabs(ref[i]) + (accumulate + u_out) * bound[i];
    if (!(std::fabs(got[i] - ref[i]) <= tol))
      return ::testing::AssertionFailure() << "element " << i << ": got " << got[i] << ", expected " << ref[i]
                                           << " (tolerance " << tol << ")";
  }
  return ::testing::AssertionSuccess();
}

class Library16BitOps : public OpTest {};

// One GEMM case in dtype t, C in t or (c_f32, bf16 only: GemmParams::out_dtype) float32;
// with `epilogue` (bf16, float32 C), C = relu(alpha A B + beta C + bias[col]).
void check_gemm_16(Backend backend, const GemmCase& c, DType t, bool c_f32, bool epilogue = false) {
  const int64_t a_rows = c.trans_a ? c.k : c.m, a_cols = c.trans_a ? c.m : c.k;
  const int64_t b_rows = c.trans_b ? c.n : c.k, b_cols = c.trans_b ? c.k : c.n;
  const int64_t lda = a_cols + c.pad, ldb = b_cols + c.pad, ldc = c.n + c.pad;
  const int64_t stride_a = a_rows * lda + 3, stride_b = b_rows * ldb + 3, stride_c = c.m * ldc + 3;
  const std::vector<uint16_t> a = random_16bit(size_t(stride_a * c.batch), 81, t);
  const std::vector<uint16_t> b = random_16bit(size_t(stride_b * c.batch), 82, t);
  const size_t nc = size_t(stride_c * c.batch);
  const std::vector<double> av = widen(a, t), bv = widen(b, t);
  // C's start: random when beta reads it, NaN otherwise (must not be read).
  std::vector<double> c0(nc);
  {
    const std::vector<uint16_t> c16 = random_16bit(nc, 83, t);
    for (size_t i = 0; i < nc; ++i) c0[i] = c.beta != 0 ? from_bits(c16[i], t) : std::nan("");
  }
  const std::vector<float> bias = random_vector<float>(size_t(c.n), 84);
  std::vector<double> ref = c0, bound(nc, 0.0);
  for (int64_t item = 0; item < c.batch; ++item)
    for (int64_t i = 0; i < c.m; ++i)
      for (int64_t j = 0; j < c.n; ++j) {
        double acc = 0, abs_acc = 0;
        for (int64_t l = 0; l < c.k; ++l) {
          const double x = av[size_t(item * stride_a + (c.trans_a ? l * lda + i : i * lda + l))];
          const double y = bv[size_t(item * stride_b + (c.trans_b ? j * ldb + l : l * ldb + j))];
          acc += x * y;
          abs_acc += std::fabs(x * y);
        }
        const size_t at = size_t(item * stride_c + i * ldc + j);
        const double old = c.beta != 0 ? c0[at] : 0.0;
        ref[at] = c.alpha * acc + c.beta * old;
        bound[at] = std::fabs(c.alpha) * abs_acc + std::fabs(c.beta * old) + 1e-300;
        if (epilogue) {
          ref[at] = std::max(ref[at] + double(bias[size_t(j)]), 0.0);
          bound[at] += std::fabs(double(bias[size_t(j)]));
        }
      }

  DeviceBuffer<uint16_t> da(backend, a), db(backend, b);
  DeviceBuffer<float> dbias(backend, bias);
  kernels::GemmParams p;
  p.dtype = t;
  p.trans_a = c.trans_a, p.trans_b = c.trans_b;
  p.m = c.m, p.n = c.n, p.k = c.k;
  p.alpha = c.alpha, p.beta = c.beta;
  p.a = da.data(), p.lda = lda, p.b = db.data(), p.ldb = ldb, p.ldc = ldc;
  p.batch = c.batch, p.stride_a = stride_a, p.stride_b = stride_b, p.stride_c = stride_c;
  if (epilogue) p.bias = dbias.data(), p.activation = kernels::GemmActivation::relu;
  const std::string name = std::string(c.name) + " " + dtype_name(t) + (c_f32 ? " -> float32" : "") +
                           (epilogue ? " +bias relu" : "") + " on " +
                           backend_name(backend) + " trans_a=" + std::to_string(c.trans_a) +
                           " trans_b=" + std::to_string(c.trans_b);
  if (c_f32) {
    std::vector<float> c0f(nc);
    for (size_t i = 0; i < nc; ++i) c0f[i] = float(c0[i]);
    DeviceBuffer<float> dc(backend, c0f);
    p.c = dc.data(), p.out_dtype = DType::f32;
    kernels::gemm_kernel.get(backend)(p);
    // float32 output: no 16-bit rounding of the result; padding comes back unchanged.
    EXPECT_TRUE(close_16(cast_vector<double>(dc.download()), ref, bound, 0x1p-24, c.k)) << name;
  } else {
    std::vector<uint16_t> c016(nc);
    for (size_t i = 0; i < nc; ++i) c016[i] = std::isnan(c0[i]) ? uint16_t(t == DType::bf16 ? 0x7FC0u : 0x7E00u) : to_bits(float(c0[i]), t);
    DeviceBuffer<uint16_t> dc(backend, c016);
    p.c = dc.data(), p.out_dtype = t;
    kernels::gemm_kernel.get(backend)(p);
    EXPECT_TRUE(close_16(widen(dc.download(), t), ref, bound, unit_roundoff_16(t), c.k)) << name;
  }
}

TEST_P(Library16BitOps, GemmMatchesTheDoubleReference) {
  ASSERT_TRUE(runs(kernels::gemm_kernel)) << "cuBLAS GEMM is not registered";
  int ran = 0;
  for (const GemmCase& c : gemm_cases()) {
    if (c.work() > 4e6) continue;  // a few small shapes per transpose say what this can say
    check_gemm_16(backend(), c, DType::bf16, false);
    check_gemm_16(backend(), c, DType::bf16, true);
    check_gemm_16(backend(), c, DType::f16, false);
    ++ran;
  }
  EXPECT_GT(ran, 10);
}

// cuBLAS's GemmEx has no epilogue: a bf16 GEMM with bias and activation goes to the hand
// tensor-core kernel from the cudnn slot (gemm_cublas.cpp); the result must be the same.
TEST_P(Library16BitOps, GemmWithAnEpilogueMatchesTheDoubleReference) {
  int ran = 0;
  for (const GemmCase& c : gemm_cases()) {
    if (c.work() > 4e6 || c.m == 0 || c.n == 0) continue;
    check_gemm_16(backend(), c, DType::bf16, true, /*epilogue=*/true);
    ++ran;
  }
  EXPECT_GT(ran, 10);
}

// Forward (with bias), backward to input, weight and bias of one conv in dtype t.
void check_conv_16(Backend backend, const Conv2dCase& c, DType t) {
  const Conv2dShape& s = c.shape;
  const size_t nx = size_t(s.n * s.c_in * s.h_in * s.w_in), nw = size_t(s.c_out * (s.c_in / s.groups) * s.kh * s.kw);
  const int64_t plane = s.h_out() * s.w_out();
  const size_t ny = size_t(s.n * s.c_out * plane);
  const std::vector<uint16_t> x = random_16bit(nx, 11, t), w = random_16bit(nw, 12, t);
  const std::vector<uint16_t> bias = random_16bit(size_t(s.c_out), 13, t), gy = random_16bit(ny, 14, t);
  const std::vector<double> xv = widen(x, t), wv = widen(w, t), bv = widen(bias, t), gyv = widen(gy, t);
  std::vector<double> y(ny, 0.0), yb(ny, 1e-300), gx(nx, 0.0), gxb(nx, 1e-300), gw(nw, 0.0), gwb(nw, 1e-300);
  const int64_t cig = s.c_in / s.groups, cog = s.c_out / s.groups;  // reduction lengths below
  for_each_product(s, [&](size_t xi, size_t wi, size_t yi) {
    y[yi] += xv[xi] * wv[wi], yb[yi] += std::fabs(xv[xi] * wv[wi]);
    gx[xi] += gyv[yi] * wv[wi], gxb[xi] += std::fabs(gyv[yi] * wv[wi]);
    gw[wi] += gyv[yi] * xv[xi], gwb[wi] += std::fabs(gyv[yi] * xv[xi]);
  });
  for (size_t i = 0; i < ny; ++i) {
    const double bi = bv[size_t(int64_t(i) / plane % s.c_out)];
    y[i] += bi, yb[i] += std::fabs(bi);
  }

  DeviceBuffer<uint16_t> dx(backend, x), dw(backend, w), db(backend, bias), dgy(backend, gy);
  DeviceBuffer<uint16_t> dy(backend, ny), dgx(backend, nx), dgw(backend, nw);
  const double u = unit_roundoff_16(t);
  const std::string name = std::string(c.name) + " " + dtype_name(t) + " on " + backend_name(backend);
  kernels::conv2d_kernel.get(backend)({t, s, dx.data(), dw.data(), db.data(), dy.data()});
  EXPECT_TRUE(close_16(widen(dy.download(), t), y, yb, u, cig * s.kh * s.kw + 1)) << name << " forward";
  kernels::conv2d_backward_input_kernel.get(backend)({t, s, dgy.data(), dw.data(), dgx.data()});
  EXPECT_TRUE(close_16(widen(dgx.download(), t), gx, gxb, u, cog * s.kh * s.kw)) << name << " backward input";
  kernels::conv2d_backward_weight_kernel.get(backend)({t, s, dx.data(), dgy.data(), dgw.data()});
  EXPECT_TRUE(close_16(widen(dgw.download(), t), gw, gwb, u, s.n * plane)) << name << " backward weight";
  std::vector<double> gb(size_t(s.c_out), 0.0), gbb(size_t(s.c_out), 1e-300);
  for (size_t i = 0; i < ny; ++i) {
    const size_t ch = size_t(int64_t(i) / plane % s.c_out);
    gb[ch] += gyv[i], gbb[ch] += std::fabs(gyv[i]);
  }
  DeviceBuffer<uint16_t> dgb(backend, size_t(s.c_out));
  kernels::conv2d_backward_bias_kernel.get(backend)({t, s.n, s.c_out, plane, dgy.data(), dgb.data()});
  EXPECT_TRUE(close_16(widen(dgb.download(), t), gb, gbb, u, s.n * plane)) << name << " backward bias";
}

TEST_P(Library16BitOps, Conv2dMatchesTheDoubleReference) {
  int ran = 0;
  for (const Conv2dCase& c : kConv2dCases) {
    const Conv2dShape& s = c.shape;
    // Asymmetric padding leaves cuDNN for the hand kernel (conv_cudnn.cpp): not this suite's.
    if (s.pad_top != s.pad_bottom || s.pad_left != s.pad_right) continue;
    for (DType t : {DType::bf16, DType::f16}) check_conv_16(backend(), c, t);
    ++ran;
  }
  EXPECT_GT(ran, 10);
}

TEST_P(Library16BitOps, AnUnsupportedDtypeIsAClearError) {
  kernels::GemmParams p;
  p.dtype = DType::i32;
  p.m = p.n = p.k = 1, p.lda = p.ldb = p.ldc = 1;
  EXPECT_THROW(kernels::gemm_kernel.get(backend())(p), Error);
  p.dtype = DType::bf16, p.out_dtype = DType::f64;  // only bf16 or float32 output
  EXPECT_THROW(kernels::gemm_kernel.get(backend())(p), Error);
  float bias = 0;
  p.dtype = DType::f32, p.out_dtype = DType::f32, p.bias = &bias;  // an epilogue needs bf16
  EXPECT_THROW(kernels::gemm_kernel.get(backend())(p), Error);
}

// Without a GPU there is no library backend and nothing to instantiate.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Library16BitOps);
INSTANTIATE_TEST_SUITE_P(Backends, Library16BitOps, ::testing::ValuesIn(library_backends()), backend_param_name);

}  // namespace
}  // namespace glia::test::ops
