// glia's optimizers against torch.optim trajectories written by tools/make_optim_refs.py
// (generated at test time by the reference.generate_optim fixture; float64, so the
// comparison is to rounding).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "tensor/safetensors.h"
#include "tensor/tensor.h"
#include "train/optimizer.h"

namespace glia {
namespace {

std::string optim_ref_path() {
  const char* dir = std::getenv("GLIA_REF_DIR");
  return std::string(dir ? dir : GLIA_DEFAULT_REF_DIR) + "/optim.safetensors";
}

Tensor load(const SafetensorsReader& r, const std::string& name) {
  const SafetensorsEntry& e = r.entry(name);
  EXPECT_EQ(e.dtype, DType::f64) << name;
  std::vector<double> values(static_cast<size_t>(e.numel()));
  std::memcpy(values.data(), r.data(e), values.size() * sizeof(double));
  return from_vector(values, e.shape);
}

double max_rel_error(const Tensor& a, const Tensor& b) {
  auto x = a.to_vector<double>(), y = b.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]) / (1e-12 + std::abs(y[i])));
  return worst;
}

std::unique_ptr<Optimizer> make(const std::string& kind, const NamedTensors& params) {
  if (kind == "adam") return std::make_unique<Adam>(params, Adam::Options{1e-2, 0.9, 0.999, 1e-8, 1e-2, false});
  if (kind == "adamw") return std::make_unique<Adam>(params, Adam::Options{1e-2, 0.8, 0.99, 1e-6, 1e-1, true});
  return std::make_unique<SGD>(params, SGD::Options{5e-2, 0.9, 0, 1e-3, true});
}

class OptimizerVsTorch : public ::testing::TestWithParam<std::string> {};

TEST_P(OptimizerVsTorch, FiveStepsMatchToRounding) {
  SafetensorsReader refs(optim_ref_path());  // missing file is an error, never a skip
  const std::string kind = GetParam();
  NamedTensors params;
  for (const char* k : {"a", "b", "c"}) params.emplace_back(k, load(refs, std::string("init.") + k).requires_grad_());
  auto opt = make(kind, params);
  for (int step = 0; step < 5; ++step) {
    for (auto& [k, p] : params) p.set_grad(load(refs, "grad." + std::to_string(step) + "." + k));
    opt->step();
    for (auto& [k, p] : params)
      EXPECT_LT(max_rel_error(p, load(refs, kind + "." + std::to_string(step) + "." + k)), 1e-10)
          << kind << " step " << step << " parameter " << k;
  }
}

TEST_P(OptimizerVsTorch, StateRoundTripResumesBitForBit) {
  SafetensorsReader refs(optim_ref_path());
  const std::string kind = GetParam();
  auto fresh_params = [&] {
    NamedTensors ps;
    for (const char* k : {"a", "b", "c"}) ps.emplace_back(k, load(refs, std::string("init.") + k).requires_grad_());
    return ps;
  };
  auto run = [&](Optimizer& opt, NamedTensors& ps, int from, int to) {
    for (int step = from; step < to; ++step) {
      for (auto& [k, p] : ps) p.set_grad(load(refs, "grad." + std::to_string(step) + "." + k));
      opt.step();
    }
  };
  NamedTensors whole = fresh_params();
  auto opt_whole = make(kind, whole);
  run(*opt_whole, whole, 0, 5);

  NamedTensors first = fresh_params();
  auto opt_first = make(kind, first);
  run(*opt_first, first, 0, 2);
  std::map<std::string, Tensor> state;
  for (auto& [name, t] : opt_first->state_tensors()) state[name] = t.clone();
  Json json = Json::parse(opt_first->state_json().dump());

  NamedTensors resumed;
  for (auto& [k, p] : first) resumed.emplace_back(k, p.detach().clone().requires_grad_());
  auto opt_resumed = make(kind, resumed);
  opt_resumed->load_state(state, json);
  run(*opt_resumed, resumed, 2, 5);
  for (size_t i = 0; i < whole.size(); ++i)
    EXPECT_EQ(whole[i].second.to_vector<double>(), resumed[i].second.to_vector<double>()) << whole[i].first;
}

INSTANTIATE_TEST_SUITE_P(Torch, OptimizerVsTorch, ::testing::Values("adam", "adamw", "sgd"));

}  // namespace
}  // namespace glia
