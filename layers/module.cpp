// Module tree, modes, placement, and the summary recorder.
#include "layers/module.h"

#include "layers/layer_span.h"

#include <iomanip>
#include <sstream>
#include <unordered_map>

#include "kernels/profile.h"
#include "tensor/autograd.h"

namespace glia::nn {
namespace {

// The summary being recorded on this thread (null when none): operator() reports to it.
struct Recorder {
  std::unordered_map<const Module*, std::string> names;
  std::vector<SummaryRow> rows;
};
thread_local Recorder* active_recorder = nullptr;
thread_local const ForwardObserver* active_observer = nullptr;
thread_local const std::unordered_map<const Module*, std::string>* active_profile_names = nullptr;

int64_t own_count(const std::vector<std::pair<std::string, Tensor*>>& params) {
  int64_t n = 0;
  for (const auto& p : params)
    if (p.second->defined()) n += p.second->numel();
  return n;
}

}  // namespace

Tensor Module::operator()(const Tensor& x) {
  if (prof::on()) {
    LayerSpan span(*this);
    return recorded(x, forward(x));
  }
  return recorded(x, forward(x));
}

LayerSpan::LayerSpan(const Module& m) {
  if (!prof::on() || active_profile_names == nullptr) return;
  auto it = active_profile_names->find(&m);
  if (it != active_profile_names->end()) span_ = prof::open(prof::Kind::layer, it->second);
}

LayerSpan::~LayerSpan() { prof::close(span_); }

ProfileLayers::ProfileLayers(Module& root) : previous_(active_profile_names) {
  for (auto& [name, m] : root.named_modules()) names_[m] = name.empty() ? "(model)" : name;
  active_profile_names = &names_;
}

ProfileLayers::~ProfileLayers() { active_profile_names = previous_; }

Tensor Module::recorded(const Tensor& x, Tensor y) {
  if (active_recorder != nullptr && children_.empty()) {
    SummaryRow row;
    auto it = active_recorder->names.find(this);
    row.name = it != active_recorder->names.end() ? it->second : "?";
    row.type = type_name_;
    row.describe = describe();
    row.output = y.sizes();
    row.params = own_count(params_);
    row.macs = macs(x.sizes(), y.sizes());
    active_recorder->rows.push_back(std::move(row));
  }
  if (active_observer != nullptr) (*active_observer)(*this, x, y);
  return y;
}

ObserveForward::ObserveForward(ForwardObserver observer) : observer_(std::move(observer)), previous_(active_observer) {
  active_observer = &observer_;
}

ObserveForward::~ObserveForward() { active_observer = previous_; }

int64_t Module::macs(const Shape&, const Shape&) const { return 0; }

void Module::register_parameter(const std::string& name, Tensor* t) {
  GLIA_CHECK(t != nullptr, type_name_ << ": parameter '" << name << "' is null");
  if (t->defined()) t->requires_grad_(!frozen_);
  params_.emplace_back(name, t);
}

void Module::register_buffer(const std::string& name, Tensor* t) {
  GLIA_CHECK(t != nullptr, type_name_ << ": buffer '" << name << "' is null");
  buffers_.emplace_back(name, t);
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  GLIA_CHECK(m != nullptr, type_name_ << ": child module '" << name << "' is null");
  for (const auto& c : children_) GLIA_CHECK(c.first != name, type_name_ << ": two child modules named '" << name << "'");
  m->train(training_);
  if (frozen_) m->freeze(true);
  children_.emplace_back(name, std::move(m));
}

std::vector<std::pair<std::string, Module*>> Module::named_modules(const std::string& prefix) {
  std::vector<std::pair<std::string, Module*>> out{{prefix, this}};
  for (auto& c : children_) {
    auto sub = c.second->named_modules(prefix.empty() ? c.first : prefix + "." + c.first);
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

void Module::collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out) const {
  const std::string dot = prefix.empty() ? "" : prefix + ".";
  if (params)
    for (const auto& p : params_)
      if (p.second->defined()) out.emplace_back(dot + p.first, *p.second);
  if (buffers)
    for (const auto& b : buffers_)
      if (b.second->defined()) out.emplace_back(dot + b.first, *b.second);
  for (const auto& c : children_) c.second->collect(dot + c.first, params, buffers, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", true, false, out);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", false, true, out);
  return out;
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  collect("", true, true, out);
  return out;
}

std::vector<Tensor> Module::parameters(bool trainable_only) const {
  std::vector<Tensor> out;
  for (auto& p : named_parameters())
    if (!trainable_only || p.second.requires_grad()) out.push_back(p.second);
  return out;
}

int64_t Module::num_parameters(bool trainable_only) const {
  int64_t n = 0;
  for (const Tensor& p : parameters(trainable_only)) n += p.numel();
  return n;
}

Module* Module::child(const std::string& name) const {
  for (const auto& c : children_)
    if (c.first == name) return c.second.get();
  return nullptr;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& c : children_) c.second->train(on);
}

void Module::freeze(bool frozen) {
  frozen_ = frozen;
  for (auto& p : params_)
    if (p.second->defined()) p.second->requires_grad_(!frozen);
  for (auto& c : children_) c.second->freeze(frozen);
}

void Module::replace_tensors(const std::function<Tensor(const Tensor&)>& convert) {
  for (auto& p : params_) {
    if (!p.second->defined()) continue;
    const Tensor current = *p.second;
    Tensor moved = convert(current);
    if (moved.is_same(current)) continue;
    *p.second = moved.detach();  // a new leaf
    p.second->requires_grad_(current.requires_grad());
  }
  for (auto& b : buffers_)
    if (b.second->defined()) *b.second = convert(*b.second);
  for (auto& c : children_) c.second->replace_tensors(convert);
}

void Module::to(Device device) {
  replace_tensors([device](const Tensor& t) { return t.device() == device ? t : t.to(device); });
}

void Module::to(DType dtype) {
  replace_tensors([dtype](const Tensor& t) { return is_floating(t.dtype()) && t.dtype() != dtype ? t.to(dtype) : t; });
}

// ---- Sequential ---------------------------------------------------------------------------

Sequential::Sequential(std::vector<std::shared_ptr<Module>> modules) : Module("Sequential") {
  for (auto& m : modules) add(std::move(m));
}

Module* Sequential::at(int64_t i) const {
  GLIA_CHECK(i >= 0 && i < size_, "Sequential: index " << i << " out of range for " << size_ << " modules");
  return children()[static_cast<size_t>(i)].second.get();
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& c : children()) y = (*c.second)(y);
  return y;
}

// ---- summary -------------------------------------------------------------------------------

Summary summarize(Module& model, const Shape& input_shape, DType dtype, Device device) {
  Recorder rec;
  for (auto& nm : model.named_modules()) rec.names[nm.second] = nm.first.empty() ? "(model)" : nm.first;
  const bool was_training = model.training_flag();
  model.eval();
  {
    NoGradGuard no_grad;
    Recorder* previous = active_recorder;
    active_recorder = &rec;
    try {
      model(zeros(input_shape, dtype, device));
    } catch (...) {
      active_recorder = previous;
      model.train(was_training);
      throw;
    }
    active_recorder = previous;
  }
  model.train(was_training);

  Summary s;
  s.rows = std::move(rec.rows);
  s.total_params = model.num_parameters();
  s.trainable_params = model.num_parameters(true);
  for (const auto& r : s.rows) s.total_macs += r.macs;
  return s;
}

std::string Summary::to_string() const {
  std::ostringstream os;
  os << std::left << std::setw(44) << "layer" << std::setw(18) << "type" << std::setw(22) << "output"
     << std::right << std::setw(12) << "params" << std::setw(16) << "MACs" << "\n";
  for (const auto& r : rows) {
    std::string type = r.type + (r.describe.empty() ? "" : "(" + r.describe + ")");
    os << std::left << std::setw(44) << r.name << std::setw(18) << type.substr(0, 17) << std::setw(22)
       << shape_str(r.output) << std::right << std::setw(12) << r.params << std::setw(16) << r.macs << "\n";
  }
  os << "total parameters " << total_params << " (trainable " << trainable_params << "), total MACs " << total_macs
     << " (FLOPs = 2 x MACs = " << 2 * total_macs << ")\n";
  return os.str();
}

}  // namespace glia::nn
