// Dropout and stochastic depth (kernels/dropout.h), upsampling (kernels/resample.h) and
// the optimizer updates (kernels/optim.h) on every backend against double references over
// the cases of cases.h: dropout's mask is the Philox keep rule of kernels/dropout.h (the
// same draw on every backend), the backward recomputes it; nearest and bilinear
// (align_corners=false) upsampling and their backward; three Adam and SGD steps written
// from PyTorch's formulas.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "kernels/dropout.h"
#include "kernels/optim.h"
#include "kernels/resample.h"
#include "tests/kernels_ops/harness.h"

namespace glia::test::ops {
namespace {

class DropoutResampleOptimOps : public OpTest {};

template <class T>
void check_dropout(Backend backend, const DropoutCase& c) {
  const size_t n = size_t(c.n);
  const std::vector<T> x = random_vector<T>(n, 51), gy = random_vector<T>(n, 52);
  std::vector<double> y(n), gx(n);
  std::vector<uint8_t> mask(n);
  for (size_t i = 0; i < n; ++i) {
    const bool keep = kernels::dropout_keep(c.seed, c.offset, i, kernels::dropout_threshold(c.p));
    mask[i] = keep;
    y[i] = keep ? double(x[i]) / (1 - c.p) : 0.0;
    gx[i] = keep ? double(gy[i]) / (1 - c.p) : 0.0;
  }
  DeviceBuffer<T> dx(backend, x), dgy(backend, gy), dy(backend, n), dgx(backend, n);
  DeviceBuffer<uint8_t> dmask(backend, n);
  const DType dt = dtype_of<T>::value;
  kernels::dropout_kernel.get(backend)({dt, c.n, c.p, c.seed, c.offset, dx.data(), dy.data(), dmask.data()});
  kernels::dropout_backward_kernel.get(backend)({dt, c.n, c.p, c.seed, c.offset, dgy.data(), dgx.data()});
  const std::string name = what<T>(c.name, backend);
  EXPECT_EQ(dmask.download(), mask) << name << " mask";
  EXPECT_TRUE(close_rel(dy.download(), y, 0.0, 2)) << name << " forward";
  EXPECT_TRUE(close_rel(dgx.download(), gx, 0.0, 2)) << name << " backward";
}

template <class T>
void check_stochastic_depth(Backend backend, const StochasticDepthCase& c) {
  const size_t n = size_t(c.batch * c.per_sample);
  const std::vector<T> x = random_vector<T>(n, 53);
  std::vector<double> y(n);
  for (size_t i = 0; i < n; ++i) {
    const bool keep = kernels::dropout_keep(c.seed, c.offset, i / size_t(c.per_sample), kernels::dropout_threshold(c.p));
    y[i] = keep ? double(x[i]) / (1 - c.p) : 0.0;
  }
  DeviceBuffer<T> dx(backend, x), dy(backend, n);
  kernels::stochastic_depth_kernel.get(backend)(
      {dtype_of<T>::value, c.batch, c.per_sample, c.p, c.seed, c.offset, dx.data(), dy.data()});
  EXPECT_TRUE(close_rel(dy.download(), y, 0.0, 2)) << what<T>(c.name, backend);
}

TEST_P(DropoutResampleOptimOps, DropoutAndStochasticDepthEveryCase) {
  for_float_types([&](auto t) {
    using T = decltype(t);
    for (const DropoutCase& c : kDropoutCases) check_dropout<T>(backend(), c);
    for (const StochasticDepthCase& c : kStochasticDepthCases) check_stochastic_depth<T>(backend(), c);
  });
}

// Calls fn(x_index, y_index, weight) for every contribution of an input to an output.
template <class Fn>
void for_each_tap(const UpsampleCase& c, Fn&& fn) {
  const int64_t ho = c.h * c.scale, wo = c.w * c.scale;
  auto taps = [&](int64_t dst, int64_t in, int64_t (&idx)[2], double (&wt)[2]) {
    if (c.mode == kernels::UpsampleMode::nearest) {
      idx[0] = idx[1] = dst / c.scale, wt[0] = 1, wt[1] = 0;
      return;
    }
    const double src = std::max((double(dst) + 0.5) / double(c.scale) - 0.5, 0.0);
    const int64_t i0 = std::min(int64_t(std::floor(src)), in - 1);
    idx[0] = i0, idx[1] = std::min(i0 + 1, in - 1);
    wt[1] = src - double(i0), wt[0] = 1 - wt[1];
  };
  for (int64_t p = 0; p < c.n * c.c; ++p)
    for (int64_t oh = 0; oh < ho; ++oh)
      for (int64_t ow = 0; ow < wo; ++ow) {
        int64_t hi[2], wi[2];
        double hw[2], ww[2];
        taps(oh, c.h, hi, hw);
        taps(ow, c.w, wi, ww);
        for (int a = 0; a < 2; ++a)
          for (int b = 0; b < 2; ++b)
            if (hw[a] * ww[b] != 0)
              fn(size_t((p * c.h + hi[a]) * c.w + wi[b]), size_t((p * ho + oh) * wo + ow), hw[a] * ww[b]);
      }
}

template <class T>
void check_upsample(Backend backend, const UpsampleCase& c) {
  const size_t nx = size_t(c.n * c.c * c.h * c.w), ny = nx * size_t(c.scale * c.scale);
  const std::vector<T> x = random_vector<T>(nx, 54), gy = random_vector<T>(ny, 55);
  std::vector<double> y(ny, 0.0), gx(nx, 0.0);
  for_each_tap(c, [&](size_t xi, size_t yi, double w) {
    y[yi] += w * double(x[xi]);
    gx[xi] += w * double(gy[yi]);
  });
  DeviceBuffer<T> dx(backend, x), dgy(backend, gy), dy(backend, ny), dgx(backend, nx);
  const DType dt = dtype_of<T>::value;
  kernels::upsample2d_kernel.get(backend)({dt, c.mode, c.n, c.c, c.h, c.w, c.scale, dx.data(), dy.data()});
  kernels::upsample2d_backward_kernel.get(backend)({dt, c.mode, c.n, c.c, c.h, c.w, c.scale, dgy.data(), dgx.data()});
  EXPECT_TRUE(close_rel(dy.download(), y, 1.0, 16)) << what<T>(c.name, backend) << " forward";
  EXPECT_TRUE(close_rel(dgx.download(), gx, 1.0, 64)) << what<T>(c.name, backend) << " backward";
}

TEST_P(DropoutResampleOptimOps, UpsampleEveryCase) {
  for (const UpsampleCase& c : kUpsampleCases) for_float_types([&](auto t) { check_upsample<decltype(t)>(backend(), c); });
}

template <class T>
void check_adam(Backend backend, const AdamCase& c) {
  const size_t n = size_t(c.n);
  std::vector<double> w = cast_vector<double>(random_vector<T>(n, 1)), m = cast_vector<double>(random_vector<T>(n, 2));
  std::vector<double> v = cast_vector<double>(random_vector<T>(n, 3, 0.01, 1.0));
  DeviceBuffer<T> dw(backend, cast_vector<T>(w)), dm(backend, cast_vector<T>(m)), dv(backend, cast_vector<T>(v));
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  for (int64_t step = 1; step <= 3; ++step) {
    const std::vector<T> g = random_vector<T>(n, uint32_t(10 + step));
    for (size_t i = 0; i < n; ++i) {
      double gi = double(g[i]) + (c.decoupled ? 0.0 : c.weight_decay * w[i]);
      if (c.decoupled) w[i] *= 1 - c.lr * c.weight_decay;
      m[i] = b1 * m[i] + (1 - b1) * gi;
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;
      const double bc1 = 1 - std::pow(b1, double(step)), bc2 = 1 - std::pow(b2, double(step));
      w[i] -= (c.lr / bc1) * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + eps);
    }
    DeviceBuffer<T> dg(backend, g);
    kernels::AdamParams p;
    p.dtype = dtype_of<T>::value, p.n = c.n, p.lr = c.lr, p.weight_decay = c.weight_decay, p.decoupled = c.decoupled;
    p.step = step, p.param = dw.data(), p.grad = dg.data(), p.exp_avg = dm.data(), p.exp_avg_sq = dv.data();
    kernels::adam_step_kernel.get(backend)(p);
  }
  const std::string name = what<T>(c.name, backend);
  EXPECT_TRUE(close_rel(dw.download(), w, 1.0, 64)) << name << " param";
  EXPECT_TRUE(close_rel(dm.download(), m, 1.0, 64)) << name << " exp_avg";
  EXPECT_TRUE(close_rel(dv.download(), v, 1.0, 64)) << name << " exp_avg_sq";
}

template <class T>
void check_sgd(Backend backend, const SgdCase& c) {
  const size_t n = size_t(c.n);
  std::vector<double> w = cast_vector<double>(random_vector<T>(n, 4)), buf(n, 0.0);
  DeviceBuffer<T> dw(backend, cast_vector<T>(w)), dbuf(backend, n);
  for (int step = 0; step < 3; ++step) {
    const std::vector<T> g = random_vector<T>(n, uint32_t(20 + step));
    for (size_t i = 0; i < n; ++i) {
      double gi = double(g[i]) + c.weight_decay * w[i];
      if (c.momentum != 0) {
        buf[i] = step == 0 ? gi : c.momentum * buf[i] + (1 - c.dampening) * gi;
        gi = c.nesterov ? gi + c.momentum * buf[i] : buf[i];
      }
      w[i] -= c.lr * gi;
    }
    DeviceBuffer<T> dg(backend, g);
    kernels::SgdParams p;
    p.dtype = dtype_of<T>::value, p.n = c.n, p.lr = c.lr, p.momentum = c.momentum, p.dampening = c.dampening;
    p.weight_decay = c.weight_decay, p.nesterov = c.nesterov, p.first_step = step == 0;
    p.param = dw.data(), p.grad = dg.data(), p.momentum_buffer = c.momentum != 0 ? dbuf.data() : nullptr;
    kernels::sgd_step_kernel.get(backend)(p);
  }
  EXPECT_TRUE(close_rel(dw.download(), w, 1.0, 64)) << what<T>(c.name, backend) << " param";
  if (c.momentum != 0) {
    EXPECT_TRUE(close_rel(dbuf.download(), buf, 1.0, 64)) << what<T>(c.name, backend) << " buffer";
  }
}

// Multi-tensor Adam: two steps from the same state through adam_multi_step and through
// adam_step per tensor on the same backend must give the same bits; both must also match
// the double reference (per-tensor steps, so per-tensor bias corrections).
template <class T>
void check_adam_multi(Backend backend, const AdamMultiCase& c) {
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  struct State {
    std::vector<double> w, m, v;
    std::unique_ptr<DeviceBuffer<T>> dw, dm, dv, single_w, single_m, single_v;
    int64_t step;
  };
  std::vector<State> st(c.sizes.size());
  for (size_t t = 0; t < st.size(); ++t) {
    const size_t n = size_t(c.sizes[t]);
    State& s = st[t];
    s.w = cast_vector<double>(random_vector<T>(n, uint32_t(100 + t)));
    s.m = cast_vector<double>(random_vector<T>(n, uint32_t(200 + t)));
    s.v = cast_vector<double>(random_vector<T>(n, uint32_t(300 + t), 0.01, 1.0));
    s.dw = std::make_unique<DeviceBuffer<T>>(backend, cast_vector<T>(s.w));
    s.dm = std::make_unique<DeviceBuffer<T>>(backend, cast_vector<T>(s.m));
    s.dv = std::make_unique<DeviceBuffer<T>>(backend, cast_vector<T>(s.v));
    s.single_w = std::make_unique<DeviceBuffer<T>>(backend, cast_vector<T>(s.w));
    s.single_m = std::make_unique<DeviceBuffer<T>>(backend, cast_vector<T>(s.m));
    s.single_v = std::make_unique<DeviceBuffer<T>>(backend, cast_vector<T>(s.v));
    s.step = int64_t(t % 3);  // tensors at different steps in one call
  }
  for (int round = 0; round < 2; ++round) {
    kernels::AdamMultiParams p;
    p.dtype = dtype_of<T>::value, p.lr = c.lr, p.weight_decay = c.weight_decay, p.decoupled = c.decoupled;
    std::vector<std::unique_ptr<DeviceBuffer<T>>> grads;
    for (size_t t = 0; t < st.size(); ++t) {
      State& s = st[t];
      const size_t n = s.w.size();
      const std::vector<T> g = random_vector<T>(n, uint32_t(1000 + 10 * t + size_t(round)));
      ++s.step;
      for (size_t i = 0; i < n; ++i) {
        double gi = double(g[i]) + (c.decoupled ? 0.0 : c.weight_decay * s.w[i]);
        if (c.decoupled) s.w[i] *= 1 - c.lr * c.weight_decay;
        s.m[i] = b1 * s.m[i] + (1 - b1) * gi;
        s.v[i] = b2 * s.v[i] + (1 - b2) * gi * gi;
        const double bc1 = 1 - std::pow(b1, double(s.step)), bc2 = 1 - std::pow(b2, double(s.step));
        s.w[i] -= (c.lr / bc1) * s.m[i] / (std::sqrt(s.v[i]) / std::sqrt(bc2) + eps);
      }
      grads.push_back(std::make_unique<DeviceBuffer<T>>(backend, g));
      kernels::AdamTensor a;
      a.param = s.dw->data(), a.grad = grads.back()->data(), a.exp_avg = s.dm->data(), a.exp_avg_sq = s.dv->data();
      a.n = int64_t(n), a.step = s.step;
      p.tensors.push_back(a);
    }
    kernels::adam_multi_step_kernel.get(backend)(p);
    for (size_t t = 0; t < st.size(); ++t) {  // the same update, one call per tensor
      kernels::AdamParams one = kernels::adam_params_of(p, t);
      one.param = st[t].single_w->data(), one.exp_avg = st[t].single_m->data();
      one.exp_avg_sq = st[t].single_v->data();
      kernels::adam_step_kernel.get(backend)(one);
    }
  }
  for (size_t t = 0; t < st.size(); ++t) {
    const State& s = st[t];
    const std::string name = what<T>(std::string(c.name) + " tensor " + std::to_string(t), backend);
    const std::vector<T> w = s.dw->download(), m = s.dm->download(), v = s.dv->download();
    EXPECT_TRUE(w == s.single_w->download() && m == s.single_m->download() && v == s.single_v->download())
        << name << ": multi-tensor and per-tensor Adam differ";
    EXPECT_TRUE(close_rel(w, s.w, 1.0, 64)) << name << " param";
    EXPECT_TRUE(close_rel(m, s.m, 1.0, 64)) << name << " exp_avg";
    EXPECT_TRUE(close_rel(v, s.v, 1.0, 64)) << name << " exp_avg_sq";
  }
}

TEST_P(DropoutResampleOptimOps, AdamMultiTensorEqualsPerTensorBitForBit) {
  for (const AdamMultiCase& c : adam_multi_cases())
    for_float_types([&](auto t) { check_adam_multi<decltype(t)>(backend(), c); });
}

TEST_P(DropoutResampleOptimOps, AdamMultiTensorRefusesAStepBelowOne) {
  DeviceBuffer<float> d(backend(), std::vector<float>(4, 1.0f));
  kernels::AdamMultiParams p;
  p.tensors.push_back({d.data(), d.data(), d.data(), d.data(), 4, 0});
  EXPECT_THROW(kernels::adam_multi_step_kernel.get(backend())(p), Error);
}

TEST_P(DropoutResampleOptimOps, AdamAndSgdThreeStepsEveryCase) {
  for_float_types([&](auto t) {
    using T = decltype(t);
    for (const AdamCase& c : kAdamCases) check_adam<T>(backend(), c);
    for (const SgdCase& c : kSgdCases) check_sgd<T>(backend(), c);
  });
}

TEST_P(DropoutResampleOptimOps, DropProbabilityOutsideZeroOneIsAnError) {
  DeviceBuffer<float> d(backend(), std::vector<float>(4, 1.0f));
  EXPECT_THROW(kernels::dropout_kernel.get(backend())({DType::f32, 4, 1.5, 0, 0, d.data(), d.data(), nullptr}), Error);
}

INSTANTIATE_TEST_SUITE_P(Backends, DropoutResampleOptimOps, ::testing::ValuesIn(harness_backends()), backend_param_name);

}  // namespace
}  // namespace glia::test::ops
