// Synchronised batch norm (tensor/cross_replica.h): a batch split over replicas of a fake
// data-parallel job (tests/support/fake_replicas.h: one thread per rank, sums in rank
// order) gives what one process gives on the whole batch: outputs and input gradients
// row for row, the replicas' weight and bias gradients summed (as the data-parallel
// all-reduce of parameter gradients would), and the same running statistics on every
// replica. Float64 to 1e-12; float32 within a bound derived from float rounding, which
// the ordinary single-process float32 kernel must meet too. On every available device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>
#include <vector>

#include "tensor/autograd.h"
#include "tensor/cross_replica.h"
#include "tensor/nn_ops.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tests/support/devices.h"
#include "tests/support/fake_replicas.h"

namespace glia {
namespace {

constexpr double kMomentum = 0.1, kEps = 1e-5;

struct BnCase {
  const char* name;
  NormActivation act;
  bool residual;
  bool affine;
  bool two_d;  // [N, C] instead of [N, C, H, W]
};

const BnCase kCases[] = {
    {"identity", NormActivation::identity, false, true, false},
    {"relu", NormActivation::relu, false, true, false},
    {"silu", NormActivation::silu, false, true, false},
    {"relu + residual", NormActivation::relu, true, true, false},
    {"no affine", NormActivation::identity, false, false, false},
    {"2-D", NormActivation::silu, false, true, true},
};

// The whole batch's inputs: x with a mean well away from 0 (so the statistics' numerics
// matter), the loss weights g (loss = sum(y * g), so dL/dy = g), running statistics.
struct BnInputs {
  Tensor x, w, b, r, g, rm, rv;
  BnInputs to(DType dt) const {
    auto cv = [dt](const Tensor& t) { return t.defined() ? t.to(dt) : Tensor(); };
    return {cv(x), cv(w), cv(b), cv(r), cv(g), cv(rm), cv(rv)};
  }
};

BnInputs make_inputs(const BnCase& c, int64_t batch, Device dev) {
  const int64_t ch = 3;
  const Shape shape = c.two_d ? Shape{batch, ch} : Shape{batch, ch, 5, 4};
  Generator gen(1234);
  BnInputs in;
  in.x = uniform(shape, 1, 4, DType::f64, dev, &gen);
  if (c.affine) {
    in.w = uniform({ch}, 0.5, 1.5, DType::f64, dev, &gen);
    in.b = uniform({ch}, -0.5, 0.5, DType::f64, dev, &gen);
  }
  if (c.residual) in.r = uniform(shape, -1, 1, DType::f64, dev, &gen);
  in.g = uniform(shape, -1, 1, DType::f64, dev, &gen);
  in.rm = uniform({ch}, -0.2, 0.2, DType::f64, dev, &gen);
  in.rv = uniform({ch}, 0.5, 1.5, DType::f64, dev, &gen);
  return in;
}

struct BnResult {
  Tensor y, gx, gw, gb, gr, rm, rv;
};

// One training step of batch norm on rows [begin, begin + rows) of the batch: a replica's
// share, or the whole batch.
BnResult step(const BnInputs& in, const BnCase& c, int64_t begin, int64_t rows) {
  auto leaf = [&](const Tensor& t) { return t.narrow(0, begin, rows).clone().requires_grad_(); };
  auto param = [](const Tensor& t) { return t.defined() ? t.clone().requires_grad_() : Tensor(); };
  Tensor x = leaf(in.x), w = param(in.w), b = param(in.b);
  Tensor r = c.residual ? leaf(in.r) : Tensor();
  BnResult out;
  out.rm = in.rm.clone();
  out.rv = in.rv.clone();
  out.y = batch_norm(x, w, b, out.rm, out.rv, true, kMomentum, kEps, c.act, r);
  sum(out.y * in.g.narrow(0, begin, rows)).backward();
  out.gx = x.grad();
  if (c.affine) {
    out.gw = w.grad();
    out.gb = b.grad();
  }
  if (c.residual) out.gr = r.grad();
  return out;
}

// The shares of `sizes` in a fake job of sizes.size() replicas, each rank's step run
// under its own reducer. Also checks every rank made the same three sums.
std::vector<BnResult> step_replicas(const BnInputs& in, const BnCase& c, const std::vector<int64_t>& sizes) {
  std::vector<BnResult> parts(sizes.size());
  std::vector<int64_t> begin{0};
  for (int64_t s : sizes) begin.push_back(begin.back() + s);
  std::vector<int64_t> calls = test::run_replicas(int(sizes.size()), [&](int rank) {
    parts[size_t(rank)] = step(in, c, begin[size_t(rank)], sizes[size_t(rank)]);
  });
  for (int64_t n : calls) EXPECT_EQ(n, 3) << "two sums forward, one backward";
  return parts;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::abs(v));
  return m;
}

double max_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < av.size() && i < bv.size(); ++i) m = std::max(m, std::abs(av[i] - bv[i]));
  return m;
}

Tensor rows_of(const std::vector<BnResult>& parts, Tensor BnResult::*field) {
  std::vector<Tensor> pieces;
  for (const BnResult& p : parts) pieces.push_back(p.*field);
  return concat(pieces, 0);
}

Tensor sum_of(const std::vector<BnResult>& parts, Tensor BnResult::*field) {
  Tensor total = zeros_like(parts[0].*field);
  for (const BnResult& p : parts) total = total + p.*field;
  return total;
}

// What one quantity of the split job must match, and the error it is allowed.
struct Check {
  const char* what;
  Tensor got, want;
  double tolerance;
};

class SyncBatchNorm : public ::testing::TestWithParam<Device> {};

// Float64: every quantity to 1e-12 of its magnitude (the two ways differ only in the
// order of float64 additions).
void expect_split_matches_whole(const BnCase& c, const std::vector<int64_t>& sizes, Device dev) {
  int64_t batch = 0;
  for (int64_t s : sizes) batch += s;
  SCOPED_TRACE(std::string(c.name) + ", split " + std::to_string(sizes[0]) + " + " + std::to_string(sizes[1]));
  BnInputs in = make_inputs(c, batch, dev);
  BnResult whole = step(in, c, 0, batch);
  std::vector<BnResult> parts = step_replicas(in, c, sizes);
  auto tol = [](const Tensor& want) { return 1e-12 * std::max(1.0, max_abs(want)); };
  std::vector<Check> checks{{"y", rows_of(parts, &BnResult::y), whole.y, tol(whole.y)},
                            {"dx", rows_of(parts, &BnResult::gx), whole.gx, tol(whole.gx)}};
  if (c.affine) {
    checks.push_back({"dweight", sum_of(parts, &BnResult::gw), whole.gw, tol(whole.gw)});
    checks.push_back({"dbias", sum_of(parts, &BnResult::gb), whole.gb, tol(whole.gb)});
  }
  if (c.residual) checks.push_back({"dresidual", rows_of(parts, &BnResult::gr), whole.gr, tol(whole.gr)});
  for (size_t r = 0; r < parts.size(); ++r) {
    checks.push_back({"running_mean", parts[r].rm, whole.rm, tol(whole.rm)});
    checks.push_back({"running_var", parts[r].rv, whole.rv, tol(whole.rv)});
  }
  for (const Check& k : checks) EXPECT_LE(max_diff(k.got, k.want), k.tolerance) << k.what;
}

TEST_P(SyncBatchNorm, EvenSplitEqualsWholeBatchFloat64) {
  for (const BnCase& c : kCases) expect_split_matches_whole(c, {4, 4}, GetParam());
}

TEST_P(SyncBatchNorm, UnevenSplitEqualsWholeBatchFloat64) {
  for (const BnCase& c : kCases) expect_split_matches_whole(c, {3, 5}, GetParam());
}

// A replica whose share is a single sample of a [N, C] input has one value per channel
// (no variance of its own), and one with no sample at all still takes part in the sums.
TEST_P(SyncBatchNorm, TinyAndEmptySharesFloat64) {
  const BnCase c = kCases[5];  // 2-D
  expect_split_matches_whole(c, {1, 5}, GetParam());
  expect_split_matches_whole(c, {0, 6}, GetParam());
}

// Float32. Each quantity is a short chain of float roundings (local statistics stored in
// float, global mean and variance cast to float, invstd, the folded scale and shift, the
// fused affine, residual and activation; in the gradients also float sums over up to 2^8
// values in a tree on sim/cuda). Each rounding errs by at most eps_f32 times the magnitude
// of what it rounds, and every such magnitude is bounded by the sum of absolute values of
// the terms of the quantity, s (computed in float64 below), so |error| <= K * eps_f32 * s
// with K = 16 rounding steps. The single-process float32 kernel must meet the same bound
// (it is float arithmetic's, not tuned to the synchronised path).
TEST_P(SyncBatchNorm, SplitMatchesWholeBatchFloat32WithinDerivedBound) {
  const double bound = 16 * double(FLT_EPSILON) / 2;  // K * unit roundoff
  for (const BnCase& c : kCases) {
    for (const std::vector<int64_t>& sizes : {std::vector<int64_t>{4, 4}, std::vector<int64_t>{3, 5}}) {
      SCOPED_TRACE(std::string(c.name) + ", split " + std::to_string(sizes[0]) + " + " + std::to_string(sizes[1]));
      const int64_t batch = sizes[0] + sizes[1];
      // The float64 reference runs on the float32 inputs' exact values.
      BnInputs in32 = make_inputs(c, batch, GetParam()).to(DType::f32), in64 = in32.to(DType::f64);
      BnResult ref = step(in64, c, 0, batch);
      BnResult plain = step(in32, c, 0, batch);
      std::vector<BnResult> parts = step_replicas(in32, c, sizes);

      // The magnitudes s, per element from the whole batch's statistics.
      const int64_t ch = in64.x.size(1), hw = in64.x.numel() / (batch * ch), m = batch * hw;
      std::vector<double> x = in64.x.to_vector<double>(), g = in64.g.to_vector<double>();
      std::vector<double> gamma = c.affine ? in64.w.to_vector<double>() : std::vector<double>(size_t(ch), 1.0);
      std::vector<double> beta = c.affine ? in64.b.to_vector<double>() : std::vector<double>(size_t(ch), 0.0);
      std::vector<double> res = c.residual ? in64.r.to_vector<double>() : std::vector<double>(x.size(), 0.0);
      auto channel_of = [&](size_t i) { return size_t((int64_t(i) / hw) % ch); };
      const size_t nch = size_t(ch);
      std::vector<double> mean(nch, 0.0), var(nch, 0.0), sum_g(nch, 0.0), sum_gxhat(nch, 0.0);
      for (size_t i = 0; i < x.size(); ++i) mean[channel_of(i)] += x[i] / double(m);
      for (size_t i = 0; i < x.size(); ++i) var[channel_of(i)] += std::pow(x[i] - mean[channel_of(i)], 2) / double(m);
      auto sigma = [&](size_t k) { return std::sqrt(var[k] + kEps); };
      const double act_slope = 1.1;  // |act'| <= 1.1 for identity, relu and silu
      for (size_t i = 0; i < x.size(); ++i) {
        const size_t k = channel_of(i);
        sum_g[k] += act_slope * std::abs(g[i]);
        sum_gxhat[k] += act_slope * std::abs(g[i] * (x[i] - mean[k]) / sigma(k));
      }
      double s_y = 0, s_gx = 0, s_gw = 0, s_gb = 0, s_rm = 0, s_rv = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        const size_t k = channel_of(i);
        const double xhat_mag = (std::abs(x[i]) + std::abs(mean[k])) / sigma(k);
        s_y = std::max(s_y, std::abs(gamma[k]) * xhat_mag + std::abs(beta[k]) + std::abs(res[i]));
        s_gx = std::max(s_gx, std::abs(gamma[k]) / sigma(k) *
                                  (act_slope * std::abs(g[i]) + sum_g[k] / double(m) + xhat_mag * sum_gxhat[k] / double(m)));
      }
      for (size_t k = 0; k < nch; ++k) {
        s_gw = std::max(s_gw, sum_gxhat[k]);
        s_gb = std::max(s_gb, sum_g[k]);
        s_rm = std::max(s_rm, std::abs(mean[k]) + max_abs(in64.rm));
        s_rv = std::max(s_rv, 2 * var[k] + max_abs(in64.rv));
      }

      std::vector<Check> synced{{"y", rows_of(parts, &BnResult::y), ref.y, bound * s_y},
                                {"dx", rows_of(parts, &BnResult::gx), ref.gx, bound * s_gx}};
      std::vector<Check> single{{"y", plain.y, ref.y, bound * s_y}, {"dx", plain.gx, ref.gx, bound * s_gx}};
      if (c.affine) {
        synced.push_back({"dweight", sum_of(parts, &BnResult::gw), ref.gw, bound * s_gw});
        synced.push_back({"dbias", sum_of(parts, &BnResult::gb), ref.gb, bound * s_gb});
        single.push_back({"dweight", plain.gw, ref.gw, bound * s_gw});
        single.push_back({"dbias", plain.gb, ref.gb, bound * s_gb});
      }
      if (c.residual) {
        synced.push_back({"dresidual", rows_of(parts, &BnResult::gr), ref.gr, bound * s_y});
        single.push_back({"dresidual", plain.gr, ref.gr, bound * s_y});
      }
      for (const BnResult& p : parts) {
        synced.push_back({"running_mean", p.rm, ref.rm, bound * s_rm});
        synced.push_back({"running_var", p.rv, ref.rv, bound * s_rv});
      }
      single.push_back({"running_mean", plain.rm, ref.rm, bound * s_rm});
      single.push_back({"running_var", plain.rv, ref.rv, bound * s_rv});
      for (const Check& k : synced) EXPECT_LE(max_diff(k.got, k.want), k.tolerance) << "synchronised " << k.what;
      for (const Check& k : single) EXPECT_LE(max_diff(k.got, k.want), k.tolerance) << "single process " << k.what;
    }
  }
}

// Eval mode normalises with the running statistics on every replica: no sums, and the
// ordinary result.
TEST_P(SyncBatchNorm, EvalModeDoesNotSynchronise) {
  const BnCase c = kCases[1];
  BnInputs in = make_inputs(c, 6, GetParam());
  Tensor want = batch_norm(in.x, in.w, in.b, in.rm, in.rv, false, kMomentum, kEps, c.act);
  std::vector<Tensor> got(2);
  std::vector<int64_t> calls = test::run_replicas(2, [&](int rank) {
    got[size_t(rank)] = batch_norm(in.x.narrow(0, 3 * rank, 3), in.w, in.b, in.rm, in.rv, false, kMomentum, kEps, c.act);
  });
  EXPECT_EQ(calls, (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(max_diff(concat(got, 0), want), 0.0);
}

// The scope restores the previous reducer; without one, training batch norm is the
// ordinary per-process one (bit for bit: the same kernel call as before synchronisation
// existed).
TEST_P(SyncBatchNorm, ScopeInstallsAndRestores) {
  EXPECT_EQ(batch_norm_reducer(), nullptr);
  test::run_replicas(1, [](int) {
    std::shared_ptr<CrossReplicaReducer> outer = batch_norm_reducer();
    ASSERT_NE(outer, nullptr);
    {
      SyncBatchNormScope none(nullptr);
      EXPECT_EQ(batch_norm_reducer(), nullptr);
    }
    EXPECT_EQ(batch_norm_reducer(), outer);
  });
  EXPECT_EQ(batch_norm_reducer(), nullptr);
}

// One value per channel over all replicas has no variance: a clear error, on every rank.
TEST_P(SyncBatchNorm, OneValuePerChannelOverAllReplicasIsAnError) {
  Tensor x = ones({1, 3}, DType::f64, GetParam());
  try {
    test::run_replicas(1, [&](int) { batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, kMomentum, kEps); });
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("more than one value per channel over all 1 replicas"), std::string::npos)
        << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, SyncBatchNorm, ::testing::ValuesIn(test::devices()), test::device_param_name);

}  // namespace
}  // namespace glia
