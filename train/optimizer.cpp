#include "train/optimizer.h"

#include <cmath>

#include "kernels/error.h"
#include "kernels/optim.h"
#include "tensor/autograd.h"

namespace glia {
namespace {

void check_param(const std::string& name, const Tensor& p, const Tensor& g) {
  GLIA_CHECK(p.is_contiguous(), "optimizer: parameter '" << name << "' is not contiguous");
  GLIA_CHECK(g.sizes() == p.sizes() && g.dtype() == p.dtype() && g.device() == p.device() && g.is_contiguous(),
             "optimizer: gradient of '" << name << "' (" << shape_str(g.sizes()) << ", " << dtype_name(g.dtype())
                                        << ", " << device_name(g.device()) << ") does not match the parameter ("
                                        << shape_str(p.sizes()) << ", " << dtype_name(p.dtype()) << ", "
                                        << device_name(p.device()) << ")");
}

const Tensor& state_tensor(const std::map<std::string, Tensor>& tensors, const std::string& key, const Tensor& like) {
  auto it = tensors.find(key);
  GLIA_CHECK(it != tensors.end(), "optimizer state has no tensor '" << key << "'");
  GLIA_CHECK(it->second.sizes() == like.sizes(), "optimizer state '" << key << "' has shape "
                                                                      << shape_str(it->second.sizes())
                                                                      << " but the parameter has "
                                                                      << shape_str(like.sizes()));
  return it->second;
}

// Copies a loaded state tensor into the slot (keeping the slot's device and dtype).
void restore_into(Tensor& slot, const Tensor& loaded) {
  NoGradGuard no_grad;
  slot.copy_(loaded);
}

}  // namespace

Optimizer::Optimizer(NamedTensors params, double lr) : params_(std::move(params)), lr_(lr) {
  set_lr(lr);
  for (auto& [name, p] : params_)
    GLIA_CHECK(p.defined() && is_floating(p.dtype()), "optimizer: parameter '" << name << "' is not a floating tensor");
}

void Optimizer::set_lr(double lr) {
  GLIA_CHECK(lr >= 0 && std::isfinite(lr), "optimizer: learning rate " << lr << " must be finite and >= 0");
  lr_ = lr;
}

void Optimizer::zero_grad() {
  for (auto& [name, p] : params_) p.set_grad(Tensor());
}

Adam::Adam(NamedTensors params, Options options) : Optimizer(std::move(params), options.lr), options_(options) {
  GLIA_CHECK(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1,
             "Adam: betas (" << options.beta1 << ", " << options.beta2 << ") must be in [0, 1)");
  GLIA_CHECK(options.eps >= 0 && options.weight_decay >= 0, "Adam: eps and weight_decay must be >= 0");
  for (auto& [name, p] : params_) slots_.push_back({zeros_like(p), zeros_like(p), 0});
}

void Adam::set_momentum(double beta1) {
  GLIA_CHECK(beta1 >= 0 && beta1 < 1, "Adam: beta1 " << beta1 << " must be in [0, 1)");
  options_.beta1 = beta1;
}

// Every parameter with a gradient in one multi-tensor update per (device, dtype) group
// (one kernel launch on a GPU; kernels/optim.h), bit-identical to one update per tensor.
void Adam::step() {
  std::vector<kernels::AdamMultiParams> groups;
  std::vector<std::pair<Device, std::vector<size_t>>> members;  // group g: its device and params
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& [name, p] = params_[i];
    Tensor g = p.grad();
    if (!g.defined()) continue;
    check_param(name, p, g);
    size_t group = 0;
    while (group < groups.size() && (groups[group].dtype != p.dtype() || members[group].first != p.device())) ++group;
    if (group == groups.size()) {
      kernels::AdamMultiParams k;
      k.dtype = p.dtype();
      k.lr = lr_;
      k.beta1 = options_.beta1;
      k.beta2 = options_.beta2;
      k.eps = options_.eps;
      k.weight_decay = options_.weight_decay;
      k.decoupled = options_.decoupled_weight_decay;
      groups.push_back(std::move(k));
      members.emplace_back(p.device(), std::vector<size_t>{});
    }
    Slot& s = slots_[i];
    groups[group].tensors.push_back(
        {p.data_ptr(), g.data_ptr(), s.exp_avg.data_ptr(), s.exp_avg_sq.data_ptr(), p.numel(), s.step + 1});
    members[group].second.push_back(i);
  }
  for (size_t group = 0; group < groups.size(); ++group) {
    kernels::select(kernels::adam_multi_step_kernel, members[group].first)(groups[group]);
    for (size_t i : members[group].second) {
      ++slots_[i].step;
      params_[i].second.storage()->bump_version();
    }
  }
}

NamedTensors Adam::state_tensors() const {
  NamedTensors out;
  for (size_t i = 0; i < params_.size(); ++i) {
    out.emplace_back("exp_avg." + params_[i].first, slots_[i].exp_avg);
    out.emplace_back("exp_avg_sq." + params_[i].first, slots_[i].exp_avg_sq);
  }
  return out;
}

Json Adam::state_json() const {
  Json j = Json::object();
  j["type"] = Json("adam");
  j["lr"] = Json(lr_);
  Json steps = Json::object();
  for (size_t i = 0; i < params_.size(); ++i) steps[params_[i].first] = Json(slots_[i].step);
  j["steps"] = steps;
  return j;
}

void Adam::load_state(const std::map<std::string, Tensor>& tensors, const Json& json) {
  GLIA_CHECK(json.at("type").as_string() == "adam", "optimizer state is for '" << json.at("type").as_string()
                                                                                << "', not adam");
  set_lr(json.at("lr").as_number());
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string& name = params_[i].first;
    restore_into(slots_[i].exp_avg, state_tensor(tensors, "exp_avg." + name, params_[i].second));
    restore_into(slots_[i].exp_avg_sq, state_tensor(tensors, "exp_avg_sq." + name, params_[i].second));
    GLIA_CHECK(json.at("steps").contains(name), "optimizer state has no step count for '" << name << "'");
    slots_[i].step = json.at("steps").at(name).as_integer();
  }
}

SGD::SGD(NamedTensors params, Options options) : Optimizer(std::move(params), options.lr), options_(options) {
  GLIA_CHECK(options.momentum >= 0 && options.weight_decay >= 0, "SGD: momentum and weight_decay must be >= 0");
  GLIA_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
             "SGD: nesterov needs momentum > 0 and dampening 0");
  for (auto& [name, p] : params_) buffers_.push_back(options.momentum > 0 ? zeros_like(p) : Tensor());
  started_.assign(params_.size(), false);
}

void SGD::set_momentum(double momentum) {
  GLIA_CHECK(momentum > 0 && options_.momentum > 0,
             "SGD: momentum can be changed to " << momentum << " only when it was > 0 from the start");
  options_.momentum = momentum;
}

void SGD::step() {
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& [name, p] = params_[i];
    Tensor g = p.grad();
    if (!g.defined()) continue;
    check_param(name, p, g);
    kernels::SgdParams k;
    k.dtype = p.dtype();
    k.n = p.numel();
    k.param = p.data_ptr();
    k.grad = g.data_ptr();
    k.momentum_buffer = buffers_[i].defined() ? buffers_[i].data_ptr() : nullptr;
    k.lr = lr_;
    k.momentum = options_.momentum;
    k.dampening = options_.dampening;
    k.weight_decay = options_.weight_decay;
    k.nesterov = options_.nesterov;
    k.first_step = !started_[i];
    started_[i] = true;
    kernels::select(kernels::sgd_step_kernel, p.device())(k);
    p.storage()->bump_version();
  }
}

NamedTensors SGD::state_tensors() const {
  NamedTensors out;
  for (size_t i = 0; i < params_.size(); ++i)
    if (buffers_[i].defined()) out.emplace_back("momentum_buffer." + params_[i].first, buffers_[i]);
  return out;
}

Json SGD::state_json() const {
  Json j = Json::object();
  j["type"] = Json("sgd");
  j["lr"] = Json(lr_);
  Json started = Json::object();
  for (size_t i = 0; i < params_.size(); ++i) started[params_[i].first] = Json(static_cast<bool>(started_[i]));
  j["started"] = started;
  return j;
}

void SGD::load_state(const std::map<std::string, Tensor>& tensors, const Json& json) {
  GLIA_CHECK(json.at("type").as_string() == "sgd", "optimizer state is for '" << json.at("type").as_string()
                                                                               << "', not sgd");
  set_lr(json.at("lr").as_number());
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string& name = params_[i].first;
    started_[i] = json.at("started").at(name).as_bool();
    if (buffers_[i].defined()) restore_into(buffers_[i], state_tensor(tensors, "momentum_buffer." + name, params_[i].second));
  }
}

}  // namespace glia
