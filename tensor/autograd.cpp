// The autograd engine: recording nodes, saved-tensor version checks, and the backward
// walk (dependency counting, gradient summation, accumulation into leaves).
#include "tensor/autograd.h"

#include <unordered_map>
#include <unordered_set>

#include "kernels/profile.h"
#include "tensor/grad_ready.h"
#include "tensor/ops.h"

namespace glia {
namespace {

thread_local bool t_grad_enabled = true;
thread_local GradReadyObserver* t_grad_ready = nullptr;

// The node that receives a leaf's gradient and adds it to leaf.grad. One per leaf,
// cached (weakly) in the leaf, so a leaf used twice in a graph is accumulated once.
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : Node("AccumulateGrad"), leaf_(std::move(leaf)) {}
  std::vector<Tensor> apply(const Tensor& grad) override {
    GLIA_CHECK(grad.sizes() == leaf_->sizes, "internal: gradient of shape " << shape_str(grad.sizes())
                                                                            << " for a leaf of shape "
                                                                            << shape_str(leaf_->sizes));
    if (leaf_->grad) {
      // Out of place: the old .grad may be shared with the caller.
      leaf_->grad = add(Tensor(leaf_->grad), grad).impl_ptr();
    } else {
      // A private contiguous copy: the incoming gradient may alias another tensor.
      leaf_->grad = grad.clone().impl_ptr();
    }
    if (t_grad_ready != nullptr) t_grad_ready->leaf_grad_ready(Tensor(leaf_));
    return {};
  }

 private:
  std::shared_ptr<TensorImpl> leaf_;
};

Edge edge_for(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return Edge{};
  if (t.grad_fn()) return Edge{t.grad_fn()};
  TensorImpl* impl = t.impl();
  std::shared_ptr<Node> acc = impl->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    impl->grad_accumulator = acc;
  }
  return Edge{acc};
}

}  // namespace

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }
EnableGradGuard::EnableGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = true; }
EnableGradGuard::~EnableGradGuard() { t_grad_enabled = previous_; }

GradReadyObserver* grad_ready_observer() { return t_grad_ready; }
GradReadyScope::GradReadyScope(GradReadyObserver* observer) : previous_(t_grad_ready) { t_grad_ready = observer; }
GradReadyScope::~GradReadyScope() { t_grad_ready = previous_; }

// ---- saved tensors ----------------------------------------------------------------------

SavedTensor::SavedTensor(const Tensor& t) {
  if (!t.defined()) return;
  // Same storage and geometry, no autograd fields: no cycle through the output's grad_fn.
  data_ = std::make_shared<TensorImpl>();
  data_->storage = t.storage();
  data_->sizes = t.sizes();
  data_->strides = t.strides();
  data_->offset = t.storage_offset();
  data_->dtype = t.dtype();
  version_ = t.version();
}

Tensor SavedTensor::unpack(const std::string& op) const {
  GLIA_CHECK(!released_, "backward of " << op << " ran a second time, but its saved tensors were freed by the "
                                        << "first backward; call backward(gradient, /*retain_graph=*/true) to keep them");
  if (!data_) return Tensor();
  const uint64_t now = data_->storage->version();
  GLIA_CHECK(now == version_, "tensor of shape " << shape_str(data_->sizes) << " saved for backward of " << op
                                                 << " was modified in place (version " << now << ", saved at "
                                                 << version_ << "); make a copy with clone() before changing it");
  return Tensor(data_);
}

Tensor FunctionNode::saved(size_t i) const {
  GLIA_CHECK(!released_, "backward of " << name_ << " ran a second time, but its saved tensors were freed by the "
                                        << "first backward; call backward(gradient, /*retain_graph=*/true) to keep them");
  GLIA_CHECK(i < saved_.size(), "internal: " << name_ << " asked for saved tensor " << i << " of " << saved_.size());
  return saved_[i].unpack(name_);
}

std::vector<Tensor> FunctionNode::apply(const Tensor& grad_output) { return backward_(grad_output, *this); }

void FunctionNode::release_saved() {
  for (auto& s : saved_) s.release();
  released_ = true;
}

// ---- recording --------------------------------------------------------------------------

bool needs_recording(const std::vector<Tensor>& inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor& t : inputs) {
    if (t.defined() && t.requires_grad()) return true;
  }
  return false;
}

void record(const char* op, Tensor& out, const std::vector<Tensor>& inputs, const std::vector<Tensor>& to_save,
            FunctionNode::Backward backward) {
  if (!needs_recording(inputs)) return;
  auto node = std::make_shared<FunctionNode>(op, std::move(backward));
  for (const Tensor& t : inputs) node->add_edge(edge_for(t));
  for (const Tensor& t : to_save) node->save(t);
  if (prof::on()) {
    const int layer = prof::current_layer();
    node->set_profile_layer(layer);
    // A leaf's accumulator (its .grad update in the backward) is attributed to the layer
    // that first uses the leaf in this graph: for a parameter, its own module.
    for (const Edge& e : node->next())
      if (e.node && e.node->profile_layer() < 0 && dynamic_cast<AccumulateGrad*>(e.node.get()) != nullptr)
        e.node->set_profile_layer(layer >= 0 ? layer : prof::autograd_layer());
  }
  // `out` was just made by the op; a view shares storage but gets its own impl.
  out.impl()->requires_grad = true;
  out.impl()->grad_fn = std::move(node);
}

void check_inplace(const Tensor& t, const char* op) {
  if (!t_grad_enabled || !t.requires_grad()) return;
  GLIA_CHECK(!t.is_leaf(), op << ": in-place change of a leaf tensor of shape " << shape_str(t.sizes())
                              << " that requires grad; do it inside a NoGradGuard (e.g. a parameter update)");
  GLIA_FAIL(op << ": in-place change of a tensor of shape " << shape_str(t.sizes()) << " that is part of the "
               << "autograd graph (made by " << t.grad_fn()->name() << "); use the out-of-place op instead");
}

// ---- Tensor autograd methods -----------------------------------------------------------

const Tensor& Tensor::requires_grad_(bool requires) const {
  GLIA_CHECK(is_leaf() || requires, "requires_grad_(false) on a non-leaf tensor (made by " << grad_fn()->name()
                                                                                           << "); use detach()");
  GLIA_CHECK(!requires || is_floating(dtype()), "requires_grad_: only floating-point tensors can require grad, got "
                                                    << dtype_name(dtype()) << " of shape " << shape_str(sizes()));
  impl()->requires_grad = requires;
  return *this;
}

Tensor Tensor::grad() const { return Tensor(checked().grad); }

void Tensor::set_grad(const Tensor& g) const {
  if (g.defined()) {
    GLIA_CHECK(g.sizes() == sizes() && g.dtype() == dtype() && g.device() == device(),
               "set_grad: gradient " << shape_str(g.sizes()) << " " << dtype_name(g.dtype()) << " on "
                                     << device_name(g.device()) << " does not match the tensor "
                                     << shape_str(sizes()) << " " << dtype_name(dtype()) << " on "
                                     << device_name(device()));
  }
  impl()->grad = g.impl_ptr();
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = storage();
  impl->sizes = sizes();
  impl->strides = strides();
  impl->offset = storage_offset();
  impl->dtype = dtype();
  return Tensor(std::move(impl));
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const { run_backward(*this, gradient, retain_graph); }

// ---- the backward walk ------------------------------------------------------------------

void run_backward(const Tensor& root, const Tensor& gradient, bool retain_graph) {
  GLIA_CHECK(root.requires_grad(), "backward: the tensor of shape " << shape_str(root.sizes())
                                                                    << " does not require grad (no input of the "
                                                                    << "computation had requires_grad, or it ran under "
                                                                    << "NoGradGuard)");
  Tensor seed = gradient;
  if (!seed.defined()) {
    GLIA_CHECK(root.numel() == 1, "backward: the tensor has shape " << shape_str(root.sizes())
                                                                    << "; a gradient is implicit only for a "
                                                                    << "one-element (scalar) output, so pass one "
                                                                    << "of the same shape");
    seed = ones(root.sizes(), root.dtype(), root.device());
  } else {
    GLIA_CHECK(seed.sizes() == root.sizes() && seed.dtype() == root.dtype() && seed.device() == root.device(),
               "backward: gradient " << shape_str(seed.sizes()) << " " << dtype_name(seed.dtype()) << " on "
                                     << device_name(seed.device()) << " must match the output "
                                     << shape_str(root.sizes()) << " " << dtype_name(root.dtype()) << " on "
                                     << device_name(root.device()));
  }
  NoGradGuard no_grad;  // backward computations are not recorded (no double backward)
  Edge root_edge = edge_for(root);

  // 1. Dependencies: how many edges point at each node reachable from the root.
  std::unordered_map<Node*, int> dependencies;
  std::vector<Node*> stack{root_edge.node.get()};
  std::unordered_set<Node*> seen{root_edge.node.get()};
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next()) {
      if (!e.node) continue;
      ++dependencies[e.node.get()];
      if (seen.insert(e.node.get()).second) stack.push_back(e.node.get());
    }
  }

  // 2. Walk: a node runs when every gradient flowing into it has arrived and been summed.
  std::unordered_map<Node*, Tensor> pending{{root_edge.node.get(), seed}};
  std::vector<std::shared_ptr<Node>> ready{root_edge.node};
  while (!ready.empty()) {
    std::shared_ptr<Node> node = std::move(ready.back());
    ready.pop_back();
    Tensor grad;
    if (auto it = pending.find(node.get()); it != pending.end()) {
      grad = std::move(it->second);
      pending.erase(it);
    }
    // A node none of whose consumers produced a gradient passes nothing on, but still
    // releases its children's dependency counts.
    std::vector<Tensor> input_grads;
    if (prof::on()) prof::enter_layer(node->profile_layer());  // the backward's layer spans
    if (grad.defined()) input_grads = node->apply(grad);
    if (!retain_graph) node->release_saved();
    for (size_t i = 0; i < node->next().size(); ++i) {
      const Edge& e = node->next()[i];
      if (!e.node) continue;
      if (i < input_grads.size() && input_grads[i].defined()) {
        Tensor& slot = pending[e.node.get()];
        slot = slot.defined() ? add(slot, input_grads[i]) : input_grads[i];
      }
      if (--dependencies[e.node.get()] == 0) ready.push_back(e.node);
    }
  }
  if (prof::on()) prof::leave_layer();
}

}  // namespace glia
