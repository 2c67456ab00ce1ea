#include "layers/non_finite.h"

#include <sstream>
#include <unordered_map>

#include "tensor/autograd.h"
#include "tensor/finite.h"

namespace glia::nn {
namespace {

// Thrown by the observer to end the forward at the first non-finite module: everything
// after it is non-finite anyway and not worth computing.
struct Found {
  NonFiniteOrigin origin;
};

}  // namespace

NonFiniteCount count_non_finite(const Tensor& t) {
  NonFiniteCount c;
  if (!t.defined() || !is_floating(t.dtype())) return c;
  const Tensor host = t.to(Device::cpu).contiguous();
  const auto* data = static_cast<const uint8_t*>(host.data_ptr());
  const int64_t n = host.numel();
  const size_t item = dtype_size(host.dtype());
  c.first = first_non_finite(data, host.dtype(), n);
  if (c.first < 0) return c;
  c.first_value = non_finite_name(data, host.dtype(), c.first);
  for (int64_t i = c.first; i < n; ++i) c.count += first_non_finite(data + i * item, host.dtype(), 1) == 0;
  return c;
}

std::optional<NonFiniteOrigin> locate_non_finite(Module& model, const Tensor& input) {
  const NonFiniteCount in = count_non_finite(input);
  if (in.count > 0) return NonFiniteOrigin{"", "input", input.sizes(), in};
  std::unordered_map<const Module*, std::string> names;
  for (auto& [name, m] : model.named_modules()) names[m] = name.empty() ? "(model)" : name;
  NoGradGuard no_grad;
  try {
    ObserveForward observe([&](const Module& m, const Tensor&, const Tensor& out) {
      const NonFiniteCount c = count_non_finite(out);
      if (c.count == 0) return;
      auto it = names.find(&m);
      throw Found{NonFiniteOrigin{it != names.end() ? it->second : "?", m.type_name(), out.sizes(), c}};
    });
    // The model itself is observed last, so a value made by a functional op in some
    // forward is blamed on the module whose forward it is.
    model(input);
  } catch (const Found& f) {
    return f.origin;
  }
  return std::nullopt;
}

std::string describe(const NonFiniteOrigin& o) {
  std::ostringstream s;
  if (o.module.empty()) s << "the input " << shape_str(o.output_shape);
  else s << "module '" << o.module << "' (" << o.type << ", output " << shape_str(o.output_shape) << ")";
  s << ": " << o.values.count << " non-finite value(s), the first " << o.values.first_value << " at element "
    << o.values.first;
  return s.str();
}

}  // namespace glia::nn
