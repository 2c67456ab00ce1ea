// Module: a node of a network with named parameters, buffers and child modules, whose
// dotted names are PyTorch's state_dict names ("features.1.0.block.0.0.weight"), so
// weights exported from PyTorch load by name.
//
// A layer keeps its tensors as members and registers their addresses; the module tree
// reads and replaces them through those addresses (to(device), to(dtype), loading), so a
// Module is neither copyable nor movable.
//
// Modes: train(bool) is recursive like PyTorch's. freeze() is Keras's frozen base: the
// sub-module's parameters stop requiring gradients and it runs in inference mode even
// while the rest of the network trains (batch norm uses and keeps its running
// statistics; dropout and stochastic depth are off).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace glia::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The computation. Call through operator(), which also feeds summary().
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x);
  // What operator() does after forward: feeds summary() the row of y = this(x). For
  // layers with a second entry point (BatchNorm2d::add_relu).
  Tensor recorded(const Tensor& x, Tensor y);

  const std::string& type_name() const { return type_name_; }
  // One line of hyper-parameters for summaries, e.g. "3->32, k3, s2".
  virtual std::string describe() const { return ""; }
  // Multiply-accumulates of this module's own computation (not its children's) for
  // one forward with the given input and output shapes; 0 for layers that only move or
  // scale data (counted as in fvcore/torchvision: conv, transposed conv, linear).
  virtual int64_t macs(const Shape& in, const Shape& out) const;

  // ---- the tree -------------------------------------------------------------------------
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
  // Every module below and including this one, with dotted names ("" for this one).
  std::vector<std::pair<std::string, Module*>> named_modules(const std::string& prefix = "");
  // PyTorch's order: this module's parameters, then each child's, recursively.
  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  // Parameters and buffers in PyTorch's state_dict order (per module: parameters, then
  // buffers; then children).
  NamedTensors state_dict() const;
  std::vector<Tensor> parameters(bool trainable_only = false) const;
  int64_t num_parameters(bool trainable_only = false) const;
  Module* child(const std::string& name) const;  // null when absent

  // ---- modes ------------------------------------------------------------------------------
  void train(bool on = true);
  void eval() { train(false); }
  // What layers ask: training and not frozen.
  bool is_training() const { return training_ && !frozen_; }
  bool training_flag() const { return training_; }  // the train()/eval() setting alone
  void freeze(bool frozen = true);
  bool is_frozen() const { return frozen_; }

  // ---- placement ------------------------------------------------------------------------
  // Moves/converts every parameter and buffer (dtype: floating tensors only, so integer
  // counters stay integer), keeping requires_grad.
  void to(Device device);
  void to(DType dtype);

 protected:
  // Registers a member tensor; `requires_grad` for parameters follows the frozen state.
  void register_parameter(const std::string& name, Tensor* t);
  void register_buffer(const std::string& name, Tensor* t);
  template <class M>
  M* register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m.get();
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  void collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out) const;
  void replace_tensors(const std::function<Tensor(const Tensor&)>& convert);

  std::string type_name_;
  std::vector<std::pair<std::string, Tensor*>> params_;
  std::vector<std::pair<std::string, Tensor*>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
  bool frozen_ = false;
};

// ---- forward observers --------------------------------------------------------------------
// While an ObserveForward lives, every module's operator() on this thread calls the
// observer with its input and output as it finishes (so inner modules come before the
// module that contains them). A debugging hook: layers/non_finite.h uses it to find the
// first module whose output went NaN. Observers nest; the innermost one is called.
using ForwardObserver = std::function<void(const Module& module, const Tensor& input, const Tensor& output)>;
class ObserveForward {
 public:
  explicit ObserveForward(ForwardObserver observer);
  ~ObserveForward();
  ObserveForward(const ObserveForward&) = delete;
  ObserveForward& operator=(const ObserveForward&) = delete;

 private:
  ForwardObserver observer_;
  const ForwardObserver* previous_;
};

// ---- profiling ----------------------------------------------------------------------------
// While a ProfileLayers lives, every module of `root` that runs through operator() on this
// thread during a profiler recording (kernels/profile.h) opens a layer span named by its
// dotted path ("features.3.1.block.1"; "(model)" for root), so the recorder can say which
// layer each kernel call belongs to. Outside a recording it costs one branch per call.
class ProfileLayers {
 public:
  explicit ProfileLayers(Module& root);
  ~ProfileLayers();
  ProfileLayers(const ProfileLayers&) = delete;
  ProfileLayers& operator=(const ProfileLayers&) = delete;

 private:
  std::unordered_map<const Module*, std::string> names_;
  const std::unordered_map<const Module*, std::string>* previous_;
};

// A chain of modules named "0", "1", ... (nn.Sequential).
class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  explicit Sequential(std::vector<std::shared_ptr<Module>> modules);
  template <class M>
  M* add(std::shared_ptr<M> m) {
    return register_module(std::to_string(size_++), std::move(m));
  }
  int64_t size() const { return size_; }
  Module* at(int64_t i) const;
  Tensor forward(const Tensor& x) override;

 private:
  int64_t size_ = 0;
};

// ---- summary ----------------------------------------------------------------------------
struct SummaryRow {
  std::string name;  // dotted module name
  std::string type;
  std::string describe;
  Shape output;
  int64_t params = 0;  // this module's own parameters
  int64_t macs = 0;    // this module's own multiply-accumulates
};
struct Summary {
  std::vector<SummaryRow> rows;  // leaf modules in call order
  int64_t total_params = 0, trainable_params = 0;
  int64_t total_macs = 0;  // per forward of the given input (batch included)
  std::string to_string() const;
};
// Runs one forward of zeros of `input_shape` (eval mode, no autograd; the mode is
// restored) and records every leaf module's output shape, parameters and MACs.
Summary summarize(Module& model, const Shape& input_shape, DType dtype = DType::f32, Device device = Device::cpu);

}  // namespace glia::nn
