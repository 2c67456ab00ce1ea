// glia's networks against PyTorch (correctness rung 3). tools/make_refs.py writes, for
// torchvision's efficientnet_b0, the paper's B1 classifier (at 64x64, and at 40x40 for
// the emulator) and the residual U-Net of tools/unet.py: weights with every parameter and
// batch-norm buffer randomised (gamma, beta, running mean and variance, the batch count,
// every bias), an input, and in float64 and float32: the eval output and the gradient of
// sum(out * probe) for every parameter in eval mode (batch norm on running statistics),
// the same in train mode, the batch-norm statistics after the train forward, and (float64)
// the parameters after 3 Adam steps. These tests load the same weights into glia's models
// and compare, in each dtype, with PyTorch (tolerances below).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <iostream>

#include "kernels/conv2d.h"
#include "kernels/conv_transpose2d.h"
#include "kernels/copy.h"
#include "kernels/gemm.h"
#include "kernels/optim.h"
#include "kernels/reduce.h"
#include "kernels/elementwise.h"
#include "nets/efficientnet.h"
#include "nets/unet.h"
#include "reference.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "tests/support/devices.h"
#include "train/optimizer.h"

namespace glia {
namespace {

// What a case runs: the outputs and statistics only, also the train-mode gradients, or
// everything (eval-mode gradients and, in float64, the Adam steps too).
enum class Scope { forward, train_backward, full };

struct Case {
  std::string model;
  DType dtype;
  Device device;
  Scope scope = Scope::full;
};

const char* scope_name(Scope s) {
  return s == Scope::forward ? "forward" : s == Scope::train_backward ? "train_backward" : "full";
}

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.model << " " << dtype_name(c.dtype) << " on " << device_name(c.device) << " (" << scope_name(c.scope)
      << ")";
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  return c.model + "_" + dtype_name(c.dtype) + "_" + device_name(c.device) +
         (c.scope == Scope::full ? "" : std::string("_") + scope_name(c.scope));
}

// The models of tools/make_refs.py, with dropout and stochastic depth at 0 as there.
std::shared_ptr<nn::Module> build(const std::string& name) {
  if (name.rfind("efficientnet_b0", 0) == 0 || name.rfind("efficientnet_b1_classifier", 0) == 0) {
    nets::EfficientNetConfig c = name.rfind("efficientnet_b0", 0) == 0 ? nets::efficientnet_config("b0")
                                                                         : nets::paper_classifier_config(4);
    c.dropout = 0;
    c.stochastic_depth_prob = 0;
    return std::make_shared<nets::EfficientNet>(c);
  }
  if (name == "unet") {
    nets::UNetConfig c;
    c.width = 8;
    c.depth = 3;
    return std::make_shared<nets::UNet>(c);
  }
  GLIA_FAIL("reference test: unknown model " << name);
}

// Skips (with the reason) a device whose kernels are not written yet.
bool device_ready(Device d, const std::string& model, std::string& why) {
  if (!device_available(d)) {
    why = std::string("device ") + device_name(d) + " is not available in this build/machine";
    return false;
  }
  const Backend b = hand_backend(d);
  // The kernels the three networks cannot do without (batch norm and pooling fall back
  // to compositions of these when their own kernels are missing).
  const std::pair<const char*, bool> needed[] = {
      {"conv2d", kernels::conv2d_kernel.has(b)},
      {"conv2d_backward_input", kernels::conv2d_backward_input_kernel.has(b)},
      {"conv2d_backward_weight", kernels::conv2d_backward_weight_kernel.has(b)},
      {"conv2d_backward_bias", kernels::conv2d_backward_bias_kernel.has(b)},
      {"conv_transpose2d", kernels::conv_transpose2d_kernel.has(b)},
      {"conv_transpose2d_backward_input", kernels::conv_transpose2d_backward_input_kernel.has(b)},
      {"conv_transpose2d_backward_weight", kernels::conv_transpose2d_backward_weight_kernel.has(b)},
      {"gemm", kernels::gemm_kernel.has(b)},
      {"binary", kernels::binary_kernel.has(b)},
      {"unary", kernels::unary_kernel.has(b)},
      {"unary_backward", kernels::unary_backward_kernel.has(b)},
      {"reduce", kernels::reduce_kernel.has(b)},
      {"copy", kernels::copy_kernel.has(b)},
  };
  for (const auto& k : needed) {
    const bool transposed = std::string(k.first).rfind("conv_transpose2d", 0) == 0;
    if (!k.second && (model == "unet" || !transposed)) {
      why = std::string("kernel ") + k.first + " has no " + backend_name(b) + " implementation yet";
      return false;
    }
  }
  return true;
}

// Tolerances. An error is relative to the value plus the tensor's largest (|e| + max|e|,
// as test::close), so entries near zero (sums of cancelling terms) are judged against the
// magnitude of the tensor they belong to.
//
// How much these networks amplify round-off is measured by PyTorch's own float32 runs:
// their worst error against float64 is 1e-3 of the tensor (EfficientNet's gradients;
// 2e-6 for the U-Net), i.e. ~2e4 x float32's unit round-off 6e-8. The same amplification
// of float64's 1.1e-16 gives ~2e-12, and that is what glia's float64 runs show (worst:
// 3.4e-12 for gradients, 4e-13 for outputs, 1e-14 for running statistics, on cpu and
// sim). kRtol64 = 1e-10 leaves a margin of 30 for other BLAS kernels and summation orders.
// Adam divides each element by its own gradient's size (m / sqrt(v)), so an element whose
// gradient is 1e-6 of its tensor's largest sees the gradient's round-off (1e-12 of the
// largest) as a 1e-6 relative error of its step: up to 1.5e-6 measured (a unit of the
// B1 head that the ReLU keeps at zero gradient until the third step).
constexpr double kRtol64 = 1e-10, kRtolAdam64 = 1e-5;
// float32: glia's run against PyTorch's float64 (exact to the above), allowed
// kTimesTorch32 times PyTorch's float32 error on the same kind of tensor (its worst
// relative error over e.g. all train gradients of the model), which adapts to each
// network's conditioning (1e-3 vs 2e-6 above), plus kRtol32 (16 units of round-off) for
// tensors PyTorch happens to get exact. glia's error was up to 4x PyTorch's (a single
// output tensor), 1-2x on most kinds.
constexpr double kTimesTorch32 = 10, kRtol32 = 1e-6;
// Tensors that are mathematically zero (the bias gradient of a batch norm whose output the
// next train-mode batch norm re-centres: 16-22 per EfficientNet) hold round-off only and
// have no relative error. A reference tensor below kZeroBelow of the largest of its kind
// (they are ~1e-16 of it in float64, the smallest real one 1e-5) is such a tensor, and
// glia's must stay below kZero64 / kZero32 of that largest: ~1e-16 and ~2e-8 measured
// (PyTorch and glia alike); a real gradient there (a missing mean term) would be ~1e-3.
constexpr double kZeroBelow = 1e-9, kZero64 = 1e-13, kZero32 = 1e-6;

// Checks tensors against the references and keeps, for each kind, the largest fraction of
// its tolerance used, printed at the end so the margins stay visible in every run.
class Comparison {
 public:
  Comparison(const std::map<std::string, Tensor>& refs, DType dtype) : refs_(refs), dtype_(dtype) {}

  // `actual` against the reference `prefix + name` (e.g. "grad." + parameter name); the
  // tensors under `prefix` are one kind (PyTorch's float32 results: "f32." + prefix).
  void check(const std::string& kind, const std::string& what, const Tensor& actual, const std::string& prefix,
             const std::string& name, double rtol64 = kRtol64) {
    const Kind& k = kind_of(prefix);
    const std::vector<double> a = actual.to_vector<double>(), e = ref(prefix + name);
    ASSERT_EQ(a.size(), e.size()) << what << ": shape " << shape_str(actual.sizes()) << " vs the reference's";
    const double scale = max_abs(e);
    const bool zero = scale < kZeroBelow * k.largest;
    const bool f64 = dtype_ == DType::f64;
    const double rtol = f64 ? rtol64 : kTimesTorch32 * k.torch32_error + kRtol32;
    double used = 0, rel = 0;
    size_t at = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      const double r = std::fabs(a[i] - e[i]) / (std::fabs(e[i]) + scale + 1e-300);
      double u = zero ? std::fabs(a[i]) / ((f64 ? kZero64 : kZero32) * k.largest) : r / rtol;
      if (std::isnan(a[i])) u = INFINITY;
      if (!(u <= used)) {
        used = u;
        at = i;
      }
      rel = std::max(rel, r);
    }
    EXPECT_LE(used, 1.0) << what << ": element " << at << " is " << a[at] << ", PyTorch float64 " << e[at]
                         << " (relative error " << rel << ", tensor scale " << scale << "); "
                         << (zero ? "mathematically zero, " : "") << used << " of the tolerance"
                         << (f64 ? "" : ", PyTorch's float32 error on this kind " + std::to_string(k.torch32_error));
    auto& w = worst_[kind];
    if (w.what.empty() || used > w.used) w = {used, rel, what};
  }

  void print() const {
    for (const auto& k : worst_)
      std::cout << "[ WORST    ] " << std::left << std::setw(17) << k.first << std::setprecision(2) << std::scientific
                << k.second.used << " of the tolerance (relative error " << k.second.rel << ") " << k.second.what
                << "\n"
                << std::defaultfloat;
  }

 private:
  struct Kind {
    double largest = 0;        // the largest |value| over the float64 references of the kind
    double torch32_error = 0;  // PyTorch's worst float32 relative error over them (not the zero ones)
  };
  static double max_abs(const std::vector<double>& v) {
    double m = 0;
    for (double x : v) m = std::max(m, std::fabs(x));
    return m;
  }
  std::vector<double> ref(const std::string& name) const {
    auto it = refs_.find(name);
    GLIA_CHECK(it != refs_.end(), "reference file has no tensor '" << name << "'");
    return it->second.to_vector<double>();
  }
  const Kind& kind_of(const std::string& prefix) {
    auto it = kinds_.find(prefix);
    if (it != kinds_.end()) return it->second;
    Kind k;
    const auto tensors = test::with_prefix(refs_, prefix);
    for (const auto& t : tensors) k.largest = std::max(k.largest, max_abs(t.second.to_vector<double>()));
    if (dtype_ != DType::f64)
      for (const auto& t : tensors) {
        if (t.second.dtype() == DType::i64) continue;
        const std::vector<double> e = t.second.to_vector<double>(), f = ref("f32." + prefix + t.first);
        const double scale = max_abs(e);
        if (scale < kZeroBelow * k.largest) continue;
        for (size_t i = 0; i < e.size(); ++i)
          k.torch32_error = std::max(k.torch32_error, std::fabs(f[i] - e[i]) / (std::fabs(e[i]) + scale));
      }
    return kinds_[prefix] = k;
  }
  struct Worst {
    double used = 0, rel = 0;
    std::string what;
  };
  const std::map<std::string, Tensor>& refs_;
  DType dtype_;
  std::map<std::string, Kind> kinds_;
  std::map<std::string, Worst> worst_;
};

class Reference : public ::testing::TestWithParam<Case> {};

TEST_P(Reference, EvalTrainGradientsStatisticsAndAdam) {
  const Case& c = GetParam();
  std::string why;
  if (!device_ready(c.device, c.model, why)) GTEST_SKIP() << why;
  auto refs = test::load_refs(c.model);
  ASSERT_FALSE(refs.empty());
  for (const auto& p : test::with_prefix(refs, "adam3.param."))  // compared as changes (below)
    refs["adam3.change." + p.first] = sub(p.second, refs.at("param." + p.first));
  auto ref = [&](const std::string& name) {
    auto it = refs.find(name);
    GLIA_CHECK(it != refs.end(), "reference file for " << c.model << " has no tensor '" << name << "'");
    return it->second.to(c.dtype).to(c.device);
  };
  Comparison cmp(refs, c.dtype);

  auto model = build(c.model);
  model->to(DType::f64);
  nn::LoadOptions lo;
  lo.source = test::refs_path(c.model);
  nn::load_state_dict(*model, test::initial_state(refs), lo);  // strict: every name must match
  model->to(c.dtype);  // exact: the weights are float32 numbers
  model->to(c.device);
  const Tensor x = ref("input"), probe = ref("probe");

  // Eval mode: batch norm on the (random) running statistics, forward and backward.
  model->eval();
  if (c.scope != Scope::full) {
    NoGradGuard no_grad;
    cmp.check("eval output", "eval output", (*model)(x), "eval.out", "");
  } else {
    Tensor out = (*model)(x);
    cmp.check("eval output", "eval output", out, "eval.out", "");
    sum(out * probe).backward();
    for (auto& p : model->named_parameters()) {
      ASSERT_TRUE(p.second.grad().defined()) << "no eval-mode gradient reached " << p.first;
      cmp.check("eval gradients", "eval gradient of " + p.first, p.second.grad(), "eval.grad.", p.first);
      p.second.set_grad(Tensor());
    }
  }
  for (auto& b : model->named_buffers())  // eval mode must leave them as loaded
    EXPECT_EQ(b.second.to_vector<double>(), refs.at("buffer." + b.first).to_vector<double>())
        << "buffer " << b.first << " changed in eval mode";

  model->train();
  if (c.scope == Scope::forward) {
    NoGradGuard no_grad;
    cmp.check("train output", "train output", (*model)(x), "train.out", "");
  } else {
    Tensor out = (*model)(x);
    cmp.check("train output", "train output", out, "train.out", "");
    sum(out * probe).backward();
    for (auto& p : model->named_parameters()) {
      ASSERT_TRUE(p.second.grad().defined()) << "no gradient reached " << p.first;
      cmp.check("train gradients", "gradient of " + p.first, p.second.grad(), "grad.", p.first);
    }
  }
  for (auto& b : model->named_buffers()) {
    if (b.second.dtype() == DType::i64)  // num_batches_tracked: loaded + 1
      EXPECT_EQ(b.second.to_vector<double>(), refs.at("train.buffer." + b.first).to_vector<double>()) << b.first;
    else
      cmp.check("train statistics", "buffer " + b.first, b.second, "train.buffer.", b.first);
  }

  // float32: Adam's m / sqrt(v) turns the round-off of near-zero gradients into O(lr)
  // changes of single weights, so only the float64 runs compare the Adam steps.
  if (c.scope != Scope::full) {
    std::cout << "[ NOTE     ] " << scope_name(c.scope)
              << " only (time on the emulator); GLIA_REFERENCE_ALL_DEVICES=1 runs everything\n";
  } else if (c.dtype == DType::f64 && !kernels::adam_step_kernel.has(hand_backend(c.device))) {
    std::cout << "[ NOTE     ] Adam steps not compared on " << device_name(c.device)
              << ": kernel adam_step has no implementation there yet\n";
  } else if (c.dtype == DType::f64) {
    // PyTorch: Adam(lr 1e-3, weight_decay 1e-4 as L2); 3 x (zero_grad, train forward, backward, step).
    // Compared as the change from the initial weights, so a wrong update cannot hide
    // behind the much larger weights themselves.
    std::map<std::string, Tensor> initial;
    for (auto& p : model->named_parameters()) initial[p.first] = p.second.detach().clone();
    Adam::Options ao;
    ao.lr = 1e-3;
    ao.weight_decay = 1e-4;
    Adam adam(model->named_parameters(), ao);
    for (int step = 0; step < 3; ++step) {
      adam.zero_grad();
      sum((*model)(x) * probe).backward();
      adam.step();
    }
    for (auto& p : model->named_parameters())
      cmp.check("Adam changes", "Adam change of " + p.first, sub(p.second.detach(), initial[p.first]), "adam3.change.",
                p.first, kRtolAdam64);
  }
  cmp.print();
}

// Every model in both dtypes on cpu. On the emulator (sim) the U-Net, and the B1
// classifier at 40x40 (batch 2) in part: its backward runs ~40 s per pass there (one
// block per channel and tap in the depthwise weight gradient), so CI compares its float64
// outputs, statistics and train gradients and its float32 outputs and statistics.
// GLIA_REFERENCE_ALL_DEVICES=1 runs every case fully on every device, the 64x64
// EfficientNets included (minutes each under the emulator).
std::vector<Case> cases() {
  const char* all = std::getenv("GLIA_REFERENCE_ALL_DEVICES");
  const bool all_devices = all != nullptr && std::string(all) == "1";
  std::vector<Case> out;
  for (Device d : test::devices()) {  // cpu, sim when built, cuda when a GPU is present
    for (const char* m : {"efficientnet_b0", "efficientnet_b1_classifier", "efficientnet_b1_classifier_40px", "unet"})
      for (DType t : {DType::f64, DType::f32}) {
        const std::string model = m;
        if (d == Device::cpu || all_devices || model == "unet")
          out.push_back(Case{model, t, d, Scope::full});
        else if (model == "efficientnet_b1_classifier_40px")
          out.push_back(Case{model, t, d, t == DType::f64 ? Scope::train_backward : Scope::forward});
      }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Nets, Reference, ::testing::ValuesIn(cases()), case_name);

}  // namespace
}  // namespace glia
