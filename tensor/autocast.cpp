#include "tensor/autocast.h"

#include <cstring>

#include "kernels/error.h"
#include "tensor/autograd.h"
#include "tensor/nn_ops.h"
#include "tensor/ops.h"

namespace glia {

const char* cast_policy_name(CastPolicy p) {
  switch (p) {
    case CastPolicy::lower: return "lower";
    case CastPolicy::fp32: return "fp32";
    case CastPolicy::promote: return "promote";
  }
  return "?";
}

// PyTorch's CUDA autocast lists, restricted to the ops glia has (tensor/README.md holds
// the table with PyTorch's CPU list beside it).
const std::vector<AutocastRule>& autocast_table() {
  static const std::vector<AutocastRule> table = {
      // Products: the bulk of the FLOPs, and what tensor cores / AVX512-BF16 speed up.
      {"conv2d", CastPolicy::lower},
      {"conv_transpose2d", CastPolicy::lower},
      {"matmul", CastPolicy::lower},
      // Statistics, normalisers, losses and sums: their accumulations lose too much in
      // an 8-bit (bf16) or 11-bit (f16) mantissa, and exp/log/pow overflow f16's range.
      {"batch_norm", CastPolicy::fp32},
      {"softmax", CastPolicy::fp32},
      {"log_softmax", CastPolicy::fp32},
      {"cross_entropy", CastPolicy::fp32},
      {"binary_cross_entropy_with_logits", CastPolicy::fp32},
      {"sum", CastPolicy::fp32},
      {"mean", CastPolicy::fp32},
      {"exp", CastPolicy::fp32},
      {"log", CastPolicy::fp32},
      {"pow", CastPolicy::fp32},
      // Ops that combine tensors: the widest input's dtype, never a narrowing.
      {"add", CastPolicy::promote},
      {"sub", CastPolicy::promote},
      {"mul", CastPolicy::promote},
      {"div", CastPolicy::promote},
      {"maximum", CastPolicy::promote},
      {"minimum", CastPolicy::promote},
      {"concat", CastPolicy::promote},
  };
  return table;
}

const AutocastRule* autocast_rule(const std::string& op) {
  for (const auto& r : autocast_table())
    if (op == r.op) return &r;
  return nullptr;
}

AutocastGuard::AutocastGuard(DType dtype, bool enabled)
    : previous_active_(autocast_detail::t_active), previous_dtype_(autocast_detail::t_dtype) {
  GLIA_CHECK(!enabled || dtype == DType::bf16 || dtype == DType::f16,
             "autocast: the lower-precision dtype must be bfloat16 or float16, got " << dtype_name(dtype));
  autocast_detail::t_active = enabled;
  if (enabled) autocast_detail::t_dtype = dtype;
}

AutocastGuard::~AutocastGuard() {
  autocast_detail::t_active = previous_active_;
  autocast_detail::t_dtype = previous_dtype_;
}

namespace {

const AutocastRule& rule_of(const char* op) {
  const AutocastRule* r = autocast_rule(op);
  GLIA_CHECK(r != nullptr, "autocast: op '" << op << "' is not in the autocast table (tensor/autocast.cpp)");
  return *r;
}

// Rank of a floating dtype's width; bf16 and f16 are equally wide but not each other's
// superset, so a mix of the two promotes to f32 (as PyTorch's promotion does).
int width(DType t) {
  switch (t) {
    case DType::f16:
    case DType::bf16: return 1;
    case DType::f32: return 2;
    case DType::f64: return 3;
    default: return 0;
  }
}

DType widest(const std::vector<Tensor>& inputs) {
  DType best = DType::f32;
  bool any = false;
  for (const Tensor& t : inputs) {
    if (!t.defined() || !is_floating(t.dtype())) continue;
    if (!any) {
      best = t.dtype();
      any = true;
    } else if (width(t.dtype()) > width(best)) {
      best = t.dtype();
    } else if (width(t.dtype()) == width(best) && t.dtype() != best) {
      best = DType::f32;  // bf16 with f16
    }
  }
  return best;
}

}  // namespace

AutocastCall::AutocastCall(const char* op, const std::vector<Tensor>& inputs)
    : rule_(rule_of(op)), dtype_(DType::f32), previous_active_(autocast_detail::t_active) {
  switch (rule_.policy) {
    case CastPolicy::lower: dtype_ = autocast_detail::t_dtype; break;
    case CastPolicy::fp32: dtype_ = DType::f32; break;
    case CastPolicy::promote: dtype_ = widest(inputs); break;
  }
  // The op's body, called again on the cast inputs, must not cast again; nor must the
  // casts themselves or any op the body composes (PyTorch excludes the autocast key the same way).
  autocast_detail::t_active = false;
}

AutocastCall::~AutocastCall() { autocast_detail::t_active = previous_active_; }

Tensor AutocastCall::cast(const Tensor& t) const {
  if (!t.defined() || !is_floating(t.dtype()) || t.dtype() == dtype_) return t;
  // f64 stays f64 under `lower` and `fp32`: autocast narrows only f32 (as PyTorch does).
  if (t.dtype() == DType::f64 && rule_.policy != CastPolicy::promote) return t;
  return t.to(dtype_);
}

Tensor AutocastCall::result(const Tensor& t) const {
  if (rule_.policy != CastPolicy::lower || !t.defined() || !is_floating(t.dtype())) return t;
  return t.dtype() == DType::f16 || t.dtype() == DType::bf16 ? t.to(DType::f32) : t;
}

std::string autocast_kernels_missing(Device device, DType dtype) {
  try {
    NoGradGuard no_grad;
    const Tensor x = ones({1, 2, 4, 4}, DType::f32, device).to(dtype);
    const Tensor w = ones({2, 2, 3, 3}, DType::f32, device).to(dtype);
    conv2d(x, w, Tensor(), conv_args(1, 1));
    conv_transpose2d(x, w, Tensor(), ConvTranspose2dArgs{});
    matmul(x.flatten(1), x.flatten(1).transpose(0, 1));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace glia
