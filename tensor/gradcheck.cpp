// Finite-difference gradient check. Every evaluation builds fresh input tensors from host
// values, so fn never sees a tensor modified in place.
#include "tensor/gradcheck.h"

#include <cmath>
#include <sstream>

#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace glia {
namespace {

// L = sum(y * w) as a double.
double weighted_sum(const Tensor& y, const Tensor& w) { return sum(mul(y, w)).item<double>(); }

}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, double eps, double atol, double rtol) {
  GradcheckResult result;
  std::vector<std::vector<double>> values;
  std::vector<Tensor> leaves;
  bool any = false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    GLIA_CHECK(t.defined(), "gradcheck: input " << i << " is undefined");
    if (t.requires_grad()) {
      GLIA_CHECK(t.dtype() == DType::f64, "gradcheck: input " << i << " of shape " << shape_str(t.sizes())
                                                              << " is " << dtype_name(t.dtype())
                                                              << "; finite differences need float64");
      any = true;
    }
    values.push_back(t.requires_grad() ? t.to_vector<double>() : std::vector<double>{});
    // A fresh leaf per input, so gradients from earlier uses of `inputs` do not mix in.
    Tensor leaf = t.requires_grad() ? from_vector(values.back(), t.sizes(), t.device()).requires_grad_() : t;
    leaves.push_back(leaf);
  }
  GLIA_CHECK(any, "gradcheck: no input requires grad, nothing to check");

  Tensor y = fn(leaves);
  GLIA_CHECK(y.defined() && y.requires_grad(), "gradcheck: the function's output does not require grad");
  Generator gen(0x6a09e667f3bcc909ULL);
  const Tensor w = uniform(y.sizes(), 0.5, 1.5, y.dtype(), y.device(), &gen);
  sum(mul(y, w)).backward();

  double worst_ratio = -1;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].requires_grad()) continue;
    const Tensor g = leaves[i].grad();
    std::vector<double> analytic = g.defined() ? g.to_vector<double>() : std::vector<double>(values[i].size(), 0.0);
    for (size_t e = 0; e < values[i].size(); ++e) {
      auto eval = [&](double delta) {
        NoGradGuard no_grad;
        std::vector<Tensor> in = leaves;
        std::vector<double> v = values[i];
        v[e] += delta;
        in[i] = from_vector(v, inputs[i].sizes(), inputs[i].device());
        return weighted_sum(fn(in), w);
      };
      const double numeric = (eval(eps) - eval(-eps)) / (2 * eps);
      const double err = std::fabs(analytic[e] - numeric);
      const double tol = atol + rtol * std::fabs(numeric);
      const double ratio = std::isnan(err) ? INFINITY : err / tol;
      result.max_error = std::max(result.max_error, std::isnan(err) ? INFINITY : err);
      if (ratio > worst_ratio) {
        worst_ratio = ratio;
        result.worst_input = i;
        result.worst_element = static_cast<int64_t>(e);
        result.analytic = analytic[e];
        result.numeric = numeric;
      }
      if (!(err <= tol)) result.ok = false;
    }
  }
  std::ostringstream msg;
  msg << (result.ok ? "gradcheck passed" : "gradcheck FAILED") << ": worst at input " << result.worst_input
      << " (shape " << shape_str(inputs[result.worst_input].sizes()) << ") element " << result.worst_element
      << ": analytic " << result.analytic << ", numeric " << result.numeric << " (|diff| "
      << std::fabs(result.analytic - result.numeric) << ", allowed " << atol << " + " << rtol << " * |numeric|)";
  result.message = msg.str();
  return result;
}

}  // namespace glia
