// Whole networks with synchronised batch norm (tensor/cross_replica.h) in a fake 2-rank
// data-parallel job (tests/support/fake_replicas.h): each rank holds its own copy of the
// network (same seed, so the same weights) and runs forward and backward on its share of
// the batch; the outputs (row for row), the ranks' parameter gradients summed (what the
// data-parallel gradient all-reduce does) and every rank's batch-norm running statistics
// equal one process on the whole batch, in float64 to 1e-12 of the largest magnitude
// involved (for a summed gradient that includes the ranks' addends: their sum, the
// all-reduce's, may cancel to far less than either, and the split itself sums every
// convolution's weight gradient in another order). Many batch norms in
// sequence, after convolutions, pooling, up-sampling, skips and squeeze-excitation, so
// the order of the ranks' sums and the gradients through the statistics of every layer
// are exercised. On cpu (the ops are checked on every device in tests/nets_ops).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "layers/basic.h"
#include "layers/module.h"
#include "nets/efficientnet.h"
#include "nets/unet.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tests/support/fake_replicas.h"

namespace glia {
namespace {

using ModelFactory = std::function<std::shared_ptr<nn::Module>()>;

struct StepResult {
  Tensor out;
  nn::NamedTensors grads, buffers;
};

// One training step's forward and backward of a fresh model on rows [begin, begin + rows);
// loss = sum(out * g), so every output element gets its own gradient.
StepResult step(const ModelFactory& make, const Tensor& x, const Tensor& g, int64_t begin, int64_t rows) {
  std::shared_ptr<nn::Module> model = make();
  model->train();
  StepResult r;
  r.out = (*model)(x.narrow(0, begin, rows).contiguous());
  sum(r.out * g.narrow(0, begin, rows)).backward();
  for (const auto& [name, p] : model->named_parameters()) r.grads.emplace_back(name, p.grad());
  r.buffers = model->named_buffers();
  return r;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::abs(v));
  return m;
}

// |got - want| <= 1e-12 * max(1, max |want|, scale), elementwise; scale: the addends' magnitude.
void expect_close(const std::string& what, const Tensor& got, const Tensor& want, double scale = 0) {
  ASSERT_TRUE(got.defined() && want.defined()) << what;
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  std::vector<double> a = got.to_vector<double>(), b = want.to_vector<double>();
  double err = 0;
  for (size_t i = 0; i < a.size(); ++i) err = std::max(err, std::abs(a[i] - b[i]));
  EXPECT_LE(err, 1e-12 * std::max({1.0, max_abs(want), scale})) << what << " (scale " << std::max({1.0, max_abs(want), scale}) << ")";
}

// Also counts the sums: every rank makes three per batch norm (two forward, one
// backward), so a network with L of them makes 3 L.
void expect_split_matches_whole(const ModelFactory& make, const Shape& input, const Shape& output,
                                const std::vector<int64_t>& sizes, int64_t batch_norms) {
  SCOPED_TRACE("split " + std::to_string(sizes[0]) + " + " + std::to_string(sizes[1]));
  const int64_t batch = input[0];
  Generator gen(77);
  Tensor x = uniform(input, -1, 2, DType::f64, Device::cpu, &gen);
  Tensor g = uniform(output, -1, 1, DType::f64, Device::cpu, &gen);
  StepResult whole = step(make, x, g, 0, batch);
  std::vector<StepResult> parts(sizes.size());
  std::vector<int64_t> calls = test::run_replicas(int(sizes.size()), [&](int rank) {
    const int64_t begin = rank == 0 ? 0 : sizes[0];
    parts[size_t(rank)] = step(make, x, g, begin, sizes[size_t(rank)]);
  });
  for (int64_t n : calls) EXPECT_EQ(n, 3 * batch_norms);

  expect_close("output", concat({parts[0].out, parts[1].out}, 0), whole.out);
  ASSERT_EQ(parts[0].grads.size(), whole.grads.size());
  for (size_t i = 0; i < whole.grads.size(); ++i)
    expect_close("gradient of " + whole.grads[i].first, parts[0].grads[i].second + parts[1].grads[i].second,
                 whole.grads[i].second, std::max(max_abs(parts[0].grads[i].second), max_abs(parts[1].grads[i].second)));
  for (const StepResult& p : parts) {
    ASSERT_EQ(p.buffers.size(), whole.buffers.size());
    for (size_t i = 0; i < whole.buffers.size(); ++i)
      expect_close(whole.buffers[i].first, p.buffers[i].second.to(DType::f64), whole.buffers[i].second.to(DType::f64));
  }
}

int64_t count_batch_norms(nn::Module& m) {
  int64_t n = 0;
  for (const auto& [name, child] : m.named_modules())
    if (dynamic_cast<nn::BatchNorm2d*>(child) != nullptr) ++n;
  return n;
}

TEST(SyncBatchNormNets, TinyUNetSplitEqualsWholeBatch) {
  nets::UNetConfig config;
  config.in_channels = 3;
  config.width = 2;
  config.depth = 2;
  ModelFactory make = [config] {
    Generator gen(5);
    auto m = std::make_shared<nets::UNet>(config, &gen);
    m->to(DType::f64);
    return m;
  };
  const int64_t bns = count_batch_norms(*make());
  EXPECT_GE(bns, 10);
  for (const std::vector<int64_t>& sizes : {std::vector<int64_t>{2, 2}, std::vector<int64_t>{1, 3}})
    expect_split_matches_whole(make, {4, 3, 16, 16}, {4, 1, 16, 16}, sizes, bns);
}

// EfficientNet-B0 at a quarter of its width on 32 x 32 images: 49 batch norms with SiLU
// fused, squeeze-excitation, and a 1 x 1 last feature map (2 values per channel on a rank
// with 2 images). Dropout and stochastic depth off: they draw random numbers per sample.
TEST(SyncBatchNormNets, NarrowEfficientNetB0SplitEqualsWholeBatch) {
  nets::EfficientNetConfig config = nets::efficientnet_config("b0", 4);
  config.width_mult = 0.25;
  config.dropout = 0;
  config.stochastic_depth_prob = 0;
  ModelFactory make = [config] {
    Generator gen(6);
    auto m = std::make_shared<nets::EfficientNet>(config, &gen);
    m->to(DType::f64);
    return m;
  };
  const int64_t bns = count_batch_norms(*make());
  EXPECT_GE(bns, 40);
  expect_split_matches_whole(make, {5, 3, 32, 32}, {5, 4}, {2, 3}, bns);
}

}  // namespace
}  // namespace glia
