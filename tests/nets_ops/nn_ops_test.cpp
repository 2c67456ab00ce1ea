// The layer ops of tensor/nn_ops.h: gradients against central finite differences in
// float64 (tensor/gradcheck.h) for every op and its awkward cases (strided, dilated,
// grouped, depthwise, asymmetric "same" padding, transposed with output padding, batch
// norm in both modes), forward values against direct double loops where the op is
// composed, and the in-place running statistics. On every available device.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "kernels/batch_norm.h"
#include "kernels/conv2d.h"
#include "kernels/conv_transpose2d.h"
#include "kernels/elementwise.h"
#include "kernels/pool.h"
#include "kernels/reduce.h"
#include "tensor/autograd.h"
#include "tensor/gradcheck.h"
#include "tensor/nn_ops.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tests/support/devices.h"
#include "tests/support/scoped_env.h"

namespace glia {
namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

class NnOps : public ::testing::TestWithParam<Device> {
 protected:
  Tensor input(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1) {
    Generator gen(seed);
    return uniform(shape, lo, hi, DType::f64, GetParam(), &gen).requires_grad_();
  }
  void check(const char* what, const Fn& fn, const std::vector<Tensor>& inputs) {
    SCOPED_TRACE(what);
    GradcheckResult r = gradcheck(fn, inputs);
    EXPECT_TRUE(r.ok) << what << ": " << r.message;
  }
};

TEST_P(NnOps, Conv2dGradients) {
  Tensor x = input({2, 4, 5, 7}, 1), w = input({6, 4, 3, 3}, 2), b = input({6}, 3);
  check("3x3 pad 1 with bias", [](auto& in) { return conv2d(in[0], in[1], in[2], conv_args(1, 1)); }, {x, w, b});
  check("stride 2, no bias", [](auto& in) { return conv2d(in[0], in[1], Tensor(), conv_args(2, 0)); }, {x, w});
  check("dilation 2", [](auto& in) { return conv2d(in[0], in[1], in[2], conv_args(1, 2, 2)); }, {x, w, b});
  Conv2dArgs same;
  same.stride_h = same.stride_w = 2;
  same.padding = same_padding_2d(5, 7, 3, 3, 2, 2);
  EXPECT_EQ(same.padding.top + same.padding.bottom, 2);  // ceil(5/2)=3 outputs need 2 rows of padding
  check("asymmetric same padding", [same](auto& in) { return conv2d(in[0], in[1], in[2], same); }, {x, w, b});
  Tensor wg = input({6, 2, 3, 3}, 4);
  check("groups 2", [](auto& in) { return conv2d(in[0], in[1], in[2], conv_args(1, 1, 1, 2)); }, {x, wg, b});
  Tensor wd = input({4, 1, 5, 5}, 5), bd = input({4}, 6);
  check("depthwise 5x5 stride 2", [](auto& in) { return conv2d(in[0], in[1], in[2], conv_args(2, 2, 1, 4)); },
        {x, wd, bd});
}

TEST_P(NnOps, Conv2dRejectsBadShapes) {
  Tensor x = input({1, 4, 5, 5}, 1), w = input({6, 3, 3, 3}, 2);
  try {
    conv2d(x, w, Tensor(), conv_args());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[6, 3, 3, 3]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(conv2d(x, input({6, 4, 7, 7}, 3), Tensor(), conv_args()), Error);  // kernel > input
}

TEST_P(NnOps, ConvTranspose2dGradients) {
  Tensor x = input({2, 4, 3, 5}, 7), w2 = input({4, 3, 2, 2}, 8), w3 = input({4, 3, 3, 3}, 9), b = input({3}, 10);
  ConvTranspose2dArgs up;
  up.stride_h = up.stride_w = 2;
  Tensor y = conv_transpose2d(x, w2, b, up);
  EXPECT_EQ(y.sizes(), (Shape{2, 3, 6, 10}));
  check("k2 s2 (U-Net up-sampling)", [up](auto& in) { return conv_transpose2d(in[0], in[1], in[2], up); },
        {x, w2, b});
  ConvTranspose2dArgs odd = up;
  odd.pad_h = odd.pad_w = 1;
  odd.output_pad_h = odd.output_pad_w = 1;
  check("k3 s2 pad 1 output_padding 1", [odd](auto& in) { return conv_transpose2d(in[0], in[1], in[2], odd); },
        {x, w3, b});
}

TEST_P(NnOps, BatchNormGradientsBothModes) {
  Tensor x = input({3, 4, 3, 5}, 11), w = input({4}, 12), b = input({4}, 13);
  Tensor rm = input({4}, 14).detach(), rv = input({4}, 15, 0.5, 2).detach();
  check("train", [](auto& in) { return batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true, 0.1, 1e-5); },
        {x, w, b});
  check("eval", [rm, rv](auto& in) { return batch_norm(in[0], in[1], in[2], rm, rv, false, 0.1, 1e-3); },
        {x, w, b});
  // Fused SiLU (smooth, so finite differences hold), in both modes and with bias, whose
  // gradient now also flows through the activation.
  check("train + silu", [](auto& in) {
    return batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true, 0.1, 1e-5, NormActivation::silu);
  }, {x, w, b});
  check("eval + silu", [rm, rv](auto& in) {
    return batch_norm(in[0], in[1], in[2], rm, rv, false, 0.1, 1e-3, NormActivation::silu);
  }, {x, w, b});
  // relu(bn(x) + r): the residual's gradient too (random data keeps pre-activations away
  // from relu's kink at finite-difference scale).
  Tensor r = input({3, 4, 3, 5}, 17);
  check("train + residual + relu", [](auto& in) {
    return batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true, 0.1, 1e-5, NormActivation::relu, in[3]);
  }, {x, w, b, r});
  Tensor x2 = input({5, 3}, 16);
  check("train 2-D", [](auto& in) { return batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5); },
        {x2});
}

TEST_P(NnOps, BatchNormRunningStatisticsAsPyTorch) {
  Tensor x = input({2, 3, 2, 3}, 17).detach();
  Tensor rm = zeros({3}, DType::f64, GetParam()), rv = ones({3}, DType::f64, GetParam());
  Tensor y = batch_norm(x, Tensor(), Tensor(), rm, rv, true, 0.25, 1e-5);
  auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
  auto rmv = rm.to_vector<double>(), rvv = rv.to_vector<double>();
  for (int c = 0; c < 3; ++c) {
    double s = 0, ss = 0;
    std::vector<size_t> idx;
    for (int n = 0; n < 2; ++n)
      for (int k = 0; k < 6; ++k) idx.push_back(static_cast<size_t>((n * 3 + c) * 6 + k));
    for (size_t i : idx) s += xv[i];
    const double mean = s / 12;
    for (size_t i : idx) ss += (xv[i] - mean) * (xv[i] - mean);
    EXPECT_NEAR(rmv[c], 0.25 * mean, 1e-12);
    EXPECT_NEAR(rvv[c], 0.75 + 0.25 * ss / 11, 1e-12);  // unbiased variance
    for (size_t i : idx) EXPECT_NEAR(yv[i], (xv[i] - mean) / std::sqrt(ss / 12 + 1e-5), 1e-10);
  }
}

TEST_P(NnOps, PoolingGradientsAndValues) {
  Tensor x = input({2, 3, 7, 6}, 18);
  check("max 2x2 s2", [](auto& in) { return max_pool2d(in[0], 2, 2); }, {x});
  check("max 3x3 s2 pad 1", [](auto& in) { return max_pool2d(in[0], 3, 2, 1); }, {x});
  check("avg 3x3 s2 pad 1", [](auto& in) { return avg_pool2d(in[0], 3, 2, 1); }, {x});
  check("avg excluding pad", [](auto& in) { return avg_pool2d(in[0], 3, 2, 1, false); }, {x});
  check("adaptive 3x4", [](auto& in) { return adaptive_avg_pool2d(in[0], 3, 4); }, {x});
  check("global", [](auto& in) { return global_avg_pool2d(in[0]); }, {x});

  // Values against direct loops (PyTorch's window conventions).
  auto xv = x.to_vector<double>();
  auto at = [&](int n, int c, int h, int w) { return xv[static_cast<size_t>(((n * 3 + c) * 7 + h) * 6 + w)]; };
  auto mp = max_pool2d(x, 3, 2, 1).to_vector<double>();  // [2, 3, 4, 3]
  auto ap = avg_pool2d(x, 3, 2, 1, false).to_vector<double>();
  auto ad = adaptive_avg_pool2d(x, 3, 4).to_vector<double>();
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c) {
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 3; ++j) {
          double m = -INFINITY, s = 0;
          int count = 0;
          for (int h = 2 * i - 1; h <= 2 * i + 1; ++h)
            for (int w = 2 * j - 1; w <= 2 * j + 1; ++w)
              if (h >= 0 && h < 7 && w >= 0 && w < 6) {
                m = std::max(m, at(n, c, h, w));
                s += at(n, c, h, w);
                ++count;
              }
          const size_t o = static_cast<size_t>(((n * 3 + c) * 4 + i) * 3 + j);
          EXPECT_EQ(mp[o], m);
          EXPECT_NEAR(ap[o], s / count, 1e-14);
        }
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 4; ++j) {
          const int h0 = i * 7 / 3, h1 = ((i + 1) * 7 + 2) / 3, w0 = j * 6 / 4, w1 = ((j + 1) * 6 + 3) / 4;
          double s = 0;
          for (int h = h0; h < h1; ++h)
            for (int w = w0; w < w1; ++w) s += at(n, c, h, w);
          EXPECT_NEAR(ad[static_cast<size_t>(((n * 3 + c) * 3 + i) * 4 + j)], s / ((h1 - h0) * (w1 - w0)), 1e-14);
        }
    }
}

TEST_P(NnOps, DropoutAndStochasticDepth) {
  Tensor x = input({4, 3, 5, 5}, 19);
  // A fixed seed inside fn: every evaluation draws the same mask.
  check("dropout p=0.3", [](auto& in) {
    Generator g(7);
    return dropout(in[0], 0.3, true, &g);
  }, {x});
  check("stochastic depth p=0.5", [](auto& in) {
    Generator g(8);
    return stochastic_depth(in[0], 0.5, true, &g);
  }, {x});
  EXPECT_TRUE(dropout(x, 0.3, false).is_same(x));

  Generator g(9);
  Tensor big = ones({20000}, DType::f64, GetParam());
  auto v = dropout(big, 0.25, true, &g).to_vector<double>();
  int kept = 0;
  for (double e : v) {
    ASSERT_TRUE(e == 0 || std::fabs(e - 1 / 0.75) < 1e-12) << e;
    kept += e != 0;
  }
  EXPECT_NEAR(kept / 20000.0, 0.75, 0.02);
  // Whole samples are dropped or kept.
  Generator g2(10);
  auto sd = stochastic_depth(ones({64, 2, 2, 2}, DType::f64, GetParam()), 0.5, true, &g2).to_vector<double>();
  for (int n = 0; n < 64; ++n)
    for (int k = 1; k < 8; ++k) EXPECT_EQ(sd[static_cast<size_t>(n * 8 + k)], sd[static_cast<size_t>(n * 8)]);
}

TEST_P(NnOps, UpsampleValuesAndGradients) {
  Tensor x = input({2, 3, 3, 4}, 20);
  check("nearest 2x", [](auto& in) { return upsample_nearest2d(in[0], 6, 8); }, {x});
  check("bilinear 2x", [](auto& in) { return upsample_bilinear2d(in[0], 6, 8); }, {x});
  check("bilinear align_corners to 5x7", [](auto& in) { return upsample_bilinear2d(in[0], 5, 7, true); }, {x});
  auto xv = x.to_vector<double>();
  auto near = upsample_nearest2d(x, 6, 8).to_vector<double>();
  auto bil = upsample_bilinear2d(x, 6, 8).to_vector<double>();
  auto src = [](int o, int in) {  // PyTorch align_corners=False source coordinate
    double s = (o + 0.5) * in / (2.0 * in) - 0.5;
    return s < 0 ? 0.0 : s;
  };
  for (int p = 0; p < 6; ++p)
    for (int i = 0; i < 6; ++i)
      for (int j = 0; j < 8; ++j) {
        const size_t o = static_cast<size_t>((p * 6 + i) * 8 + j);
        EXPECT_EQ(near[o], xv[static_cast<size_t>((p * 3 + i / 2) * 4 + j / 2)]);
        const double sh = src(i, 3), sw = src(j, 4);
        const int h0 = static_cast<int>(sh), w0 = static_cast<int>(sw);
        const int h1 = std::min(h0 + 1, 2), w1 = std::min(w0 + 1, 3);
        const double fh = sh - h0, fw = sw - w0;
        auto v = [&](int h, int w) { return xv[static_cast<size_t>((p * 3 + h) * 4 + w)]; };
        const double expect = (1 - fh) * ((1 - fw) * v(h0, w0) + fw * v(h0, w1)) + fh * ((1 - fw) * v(h1, w0) + fw * v(h1, w1));
        EXPECT_NEAR(bil[o], expect, 1e-14);
      }
}

// The ops with a dedicated kernel run it on this device: the autograd node is the op's
// own, not the last node of a composed form (mul, concat, matmul, ...).
TEST_P(NnOps, DedicatedKernelsAreTheOnesThatRun) {
  Tensor x = input({2, 3, 6, 8}, 21);
  Generator g(1);
  EXPECT_EQ(dropout(x, 0.3, true, &g).grad_fn()->name(), "dropout");
  EXPECT_EQ(stochastic_depth(x, 0.3, true, &g).grad_fn()->name(), "stochastic_depth");
  EXPECT_EQ(avg_pool2d(x, 3, 2, 1).grad_fn()->name(), "avg_pool2d");
  EXPECT_EQ(avg_pool2d(x, 3, 2, 1, false).grad_fn()->name(), "avg_pool2d");
  EXPECT_EQ(adaptive_avg_pool2d(x, 4, 3).grad_fn()->name(), "adaptive_avg_pool2d");
  EXPECT_EQ(max_pool2d(x, 2, 2).grad_fn()->name(), "max_pool2d");
  EXPECT_EQ(global_avg_pool2d(x).grad_fn()->name(), "global_avg_pool2d");
  EXPECT_EQ(upsample_nearest2d(x, 12, 16).grad_fn()->name(), "upsample_nearest2d");
  EXPECT_EQ(upsample_bilinear2d(x, 18, 24).grad_fn()->name(), "upsample_bilinear2d");
  // Not an integer factor, or align_corners: the matrix-product form (its last node).
  EXPECT_NE(upsample_nearest2d(x, 9, 12).grad_fn()->name(), "upsample_nearest2d");
  EXPECT_NE(upsample_bilinear2d(x, 12, 16, true).grad_fn()->name(), "upsample_bilinear2d");
}

// One switch per family: a bad GLIA_POOL fails pooling (naming the variable) and nothing
// else; a bad GLIA_BN fails batch norm only; GLIA_CONV no longer reaches either. Checked
// on every device, so a misspelt value fails on a CPU run too.
TEST_P(NnOps, EachFamilyReadsItsOwnSwitch) {
  Tensor x = input({2, 3, 4, 4}, 22);
  Tensor w = input({3}, 23), b = input({3}, 24), k = input({3, 3, 3, 3}, 25);
  auto pool = [&] { return avg_pool2d(x, 2, 2); };
  auto bn = [&] { return batch_norm(x, w, b, Tensor(), Tensor(), true, 0.1, 1e-5); };
  auto conv = [&] { return conv2d(x, k, Tensor(), conv_args(1, 1)); };
  auto fails_naming = [](const std::function<Tensor()>& f, const std::string& var) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what()).find("environment variable " + var + "='fast'") != std::string::npos;
    }
    return false;
  };
  {
    test::ScopedEnv env("GLIA_POOL", "fast");
    EXPECT_TRUE(fails_naming(pool, "GLIA_POOL"));
    EXPECT_NO_THROW(bn());
    EXPECT_NO_THROW(conv());
  }
  {
    test::ScopedEnv env("GLIA_BN", "fast");
    EXPECT_TRUE(fails_naming(bn, "GLIA_BN"));
    EXPECT_NO_THROW(pool());
  }
  {
    test::ScopedEnv env("GLIA_CONV", "fast");
    EXPECT_TRUE(fails_naming(conv, "GLIA_CONV"));
    EXPECT_NO_THROW(pool());
    EXPECT_NO_THROW(bn());
  }
  for (const char* v : {"hand", "cudnn", "auto"}) {
    test::ScopedEnv env("GLIA_POOL", v);
    EXPECT_NO_THROW(pool()) << v;
  }
}

// The kernels draw the masks the composed x * bernoulli(1 - p) / (1 - p) drew from the
// same Generator (same Philox stream, same offsets consumed), so a seeded run keeps its
// masks: values and gradients equal in float32 and float64, and the generators end in
// the same state.
TEST_P(NnOps, DropoutKernelsDrawTheComposedMasks) {
  for (DType dt : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(dt));
    Generator gx(5);
    Tensor x = uniform({5, 3, 7, 9}, -2, 2, dt, GetParam(), &gx).requires_grad_();
    Tensor gy = uniform(x.sizes(), -1, 1, dt, GetParam(), &gx);
    for (double p : {0.2, 0.5, 0.9}) {
      SCOPED_TRACE(p);
      Generator g1(77), g2(77);
      g1.reserve(13), g2.reserve(13);  // a non-zero offset
      Tensor y = dropout(x, p, true, &g1);
      Tensor sd = stochastic_depth(x, p, true, &g1);
      Tensor keep = bernoulli(x.sizes(), 1 - p, dt, GetParam(), &g2);
      Tensor keep_sample = bernoulli({x.size(0), 1, 1, 1}, 1 - p, dt, GetParam(), &g2);
      EXPECT_EQ(g1.state().offset, g2.state().offset);
      Tensor want = x.detach() * (keep * (1.0 / (1 - p)));
      Tensor want_sd = x.detach() * (keep_sample * (1.0 / (1 - p)));
      EXPECT_EQ(y.to_vector<double>(), want.to_vector<double>());
      EXPECT_EQ(sd.to_vector<double>(), want_sd.to_vector<double>());
      y.backward(gy);
      EXPECT_EQ(x.grad().to_vector<double>(), (gy * (keep * (1.0 / (1 - p)))).to_vector<double>());
      x.set_grad(Tensor());
      sd.backward(gy);
      EXPECT_EQ(x.grad().to_vector<double>(), (gy * (keep_sample * (1.0 / (1 - p)))).to_vector<double>());
      x.set_grad(Tensor());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, NnOps, ::testing::ValuesIn(test::devices()), test::device_param_name);

}  // namespace
}  // namespace glia
