// gradcheck: compares the gradients autograd computes with central finite differences,
// in float64. Used by the tests of every differentiable op and layer.
//
//   auto r = gradcheck([](const std::vector<Tensor>& in) { return sigmoid(in[0]) * in[1]; },
//                      {x, y});   // x, y float64; those with requires_grad are checked
//   EXPECT_TRUE(r.ok) << r.message;
//
// A non-scalar output y is reduced to L = sum(y * w) with fixed random weights w, so
// every output element's gradient is tested, not only their sum.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace glia {

struct GradcheckResult {
  bool ok = true;
  double max_error = 0;   // largest |analytic - numeric| over checked elements
  size_t worst_input = 0;  // where the worst element (by error / tolerance) is
  int64_t worst_element = -1;
  double analytic = 0, numeric = 0;  // at the worst element
  std::string message;  // what failed and where, or a one-line summary when ok
};

// `inputs` must be float64; each one with requires_grad() is checked element by element
// (2 evaluations of fn per element, so keep them small). Passes where
// |analytic - numeric| <= atol + rtol * |numeric| for every element.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, double eps = 1e-6, double atol = 1e-5,
                          double rtol = 1e-3);

}  // namespace glia
