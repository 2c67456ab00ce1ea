#include "train/grad_scaler.h"

#include <cmath>
#include <cstdio>
#include <string>

#include "kernels/error.h"
#include "tensor/autograd.h"
#include "tensor/finite.h"
#include "tensor/ops.h"

namespace glia {

GradScaler::GradScaler(Options options) : options_(options), scale_(options.init_scale) {
  GLIA_CHECK(std::isfinite(options_.init_scale) && options_.init_scale > 0,
             "grad scaler: initial scale " << options_.init_scale << " must be positive and finite");
  GLIA_CHECK(options_.growth_factor > 1, "grad scaler: growth factor " << options_.growth_factor << " must be > 1");
  GLIA_CHECK(options_.backoff_factor > 0 && options_.backoff_factor < 1,
             "grad scaler: backoff factor " << options_.backoff_factor << " must be in (0, 1)");
  GLIA_CHECK(options_.growth_interval >= 1,
             "grad scaler: growth interval " << options_.growth_interval << " must be >= 1");
}

Tensor GradScaler::scale_loss(const Tensor& loss) const { return mul(loss, scale_); }

bool GradScaler::unscale(const NamedTensors& params) const {
  NoGradGuard no_grad;
  const double inverse = 1.0 / scale_;  // exact: the scale is a power of two
  bool finite = true;
  for (const auto& entry : params) {
    const Tensor grad = entry.second.grad();
    if (!grad.defined()) continue;
    grad.mul_(inverse);
    if (!finite) continue;  // every gradient is unscaled, but one bad one decides
    Tensor host = grad;
    if (!host_addressable(grad.device()) || !grad.is_contiguous()) host = grad.to(Device::cpu).contiguous();
    finite = first_non_finite(host.data_ptr(), host.dtype(), host.numel()) < 0;
  }
  return finite;
}

void GradScaler::update(bool found_inf) {
  if (found_inf) {
    scale_ *= options_.backoff_factor;
    growth_tracker_ = 0;
    ++skipped_;
    ++skipped_in_a_row_;
    GLIA_CHECK(scale_ >= std::ldexp(1.0, -24),
               "training stopped: fp16 gradients stayed NaN/inf for " << skipped_in_a_row_
                   << " steps in a row while the loss scale fell to " << scale_
                   << "; that is not an overflow loss scaling can cure (check the data and the learning rate, "
                      "or train with --precision bf16 or fp32)");
    return;
  }
  skipped_in_a_row_ = 0;
  if (++growth_tracker_ >= options_.growth_interval) {
    scale_ *= options_.growth_factor;
    growth_tracker_ = 0;
  }
}

Json GradScaler::state() const {
  Json s = Json::object();
  char text[40];
  std::snprintf(text, sizeof text, "%.17g", scale_);  // as text: JSON numbers print 9 digits
  s["scale"] = Json(std::string(text));
  s["growth_tracker"] = Json(growth_tracker_);
  s["skipped"] = Json(skipped_);
  s["skipped_in_a_row"] = Json(skipped_in_a_row_);
  return s;
}

void GradScaler::load_state(const Json& s) {
  for (const char* key : {"scale", "growth_tracker", "skipped"})
    GLIA_CHECK(s.is_object() && s.contains(key), "grad scaler state has no '" << key << "'");
  const double scale = std::stod(s.at("scale").as_string());
  GLIA_CHECK(std::isfinite(scale) && scale > 0, "grad scaler state: scale " << scale << " must be positive and finite");
  scale_ = scale;
  growth_tracker_ = s.at("growth_tracker").as_integer();
  skipped_ = s.at("skipped").as_integer();
  skipped_in_a_row_ = s.contains("skipped_in_a_row") ? s.at("skipped_in_a_row").as_integer() : 0;
}

}  // namespace glia
