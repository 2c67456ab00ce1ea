// operator<< for Tensor, PyTorch style:
//   tensor([[1.0000, 2.0000], [3.0000, 4.0000]], shape=[2, 2], dtype=float32, device=cpu)
// Large tensors show the first and last kEdge entries of each dim with "..." between.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>

#include "tensor/autograd.h"
#include "tensor/tensor.h"

namespace glia {
namespace {

constexpr int64_t kSummarizeAbove = 1000;  // elements; like torch's threshold
constexpr int64_t kEdge = 3;

struct Printer {
  const std::vector<double>& values;
  const Shape& sizes;
  Shape strides;  // contiguous strides of the value array
  bool summarize;
  bool integral;
  bool scientific;

  std::string number(double v) const {
    char buf[64];
    if (integral) {
      std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    } else if (std::isnan(v) || std::isinf(v)) {
      std::snprintf(buf, sizeof buf, "%s", std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf"));
    } else {
      std::snprintf(buf, sizeof buf, scientific ? "%.4e" : "%.4f", v);
    }
    return buf;
  }

  void print(std::ostream& os, size_t dim, int64_t base) const {
    if (dim == sizes.size()) {
      os << number(values[static_cast<size_t>(base)]);
      return;
    }
    const int64_t n = sizes[dim];
    os << '[';
    for (int64_t i = 0; i < n; ++i) {
      if (summarize && n > 2 * kEdge && i == kEdge) {
        os << "..., ";
        i = n - kEdge - 1;
        continue;
      }
      print(os, dim + 1, base + i * strides[dim]);
      if (i + 1 < n) os << ", ";
    }
    os << ']';
  }
};

}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  std::vector<double> values = t.to_vector<double>();
  const bool integral = !is_floating(t.dtype());
  double largest = 0, smallest = INFINITY;
  for (double v : values) {
    if (!std::isfinite(v) || v == 0) continue;
    largest = std::max(largest, std::fabs(v));
    smallest = std::min(smallest, std::fabs(v));
  }
  Printer p{values, t.sizes(), contiguous_strides(t.sizes()), t.numel() > kSummarizeAbove, integral,
            largest >= 1e4 || smallest < 1e-4};
  os << "tensor(";
  p.print(os, 0, 0);
  os << ", shape=" << shape_str(t.sizes()) << ", dtype=" << dtype_name(t.dtype())
     << ", device=" << device_name(t.device());
  if (t.requires_grad()) os << ", requires_grad=true";
  if (t.grad_fn()) os << ", grad_fn=" << t.grad_fn()->name();
  return os << ')';
}

}  // namespace glia
