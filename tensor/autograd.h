// Define-by-run autograd. Every differentiable op that sees an input requiring grad
// records one Node: its name, one edge per input (to the node that produced that input,
// or to the AccumulateGrad node of a leaf), the tensors its backward needs, and the
// backward function. Tensor::backward() counts, for every node reachable from the
// output, how many edges point at it, then walks the graph from the output: a node runs
// once all gradients flowing into it have been summed (reverse topological order).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace glia {

// ---- grad mode ------------------------------------------------------------------------
bool grad_enabled();  // per thread; on by default

// Turns recording off for the current thread while alive (parameter updates, evaluation).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Turns recording back on for the current thread while alive (torch.enable_grad): a
// gradient wanted inside an evaluation, e.g. Grad-CAM (nets/gradcam.h) during predict.
class EnableGradGuard {
 public:
  EnableGradGuard();
  ~EnableGradGuard();
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool previous_;
};

// ---- saved tensors --------------------------------------------------------------------
// A tensor kept for backward. It holds the storage (not the graph: no reference cycle
// when an op saves its own output) and the storage version at save time; unpacking a
// tensor that was modified in place since then is an error.
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t);
  Tensor unpack(const std::string& op) const;
  void release() { data_.reset(); released_ = true; }

 private:
  std::shared_ptr<TensorImpl> data_;
  uint64_t version_ = 0;
  bool released_ = false;
};

// ---- graph ----------------------------------------------------------------------------
class Node;
struct Edge {
  std::shared_ptr<Node> node;  // null: this input needs no gradient
};

class Node {
 public:
  explicit Node(std::string name) : name_(std::move(name)) {}
  virtual ~Node() = default;
  const std::string& name() const { return name_; }
  const std::vector<Edge>& next() const { return next_; }
  bool needs_grad(size_t input) const { return input < next_.size() && next_[input].node != nullptr; }

  // Gradients w.r.t. each input (one per edge; undefined where none) from the gradient
  // w.r.t. this node's output.
  virtual std::vector<Tensor> apply(const Tensor& grad_output) = 0;
  virtual void release_saved() {}
  void add_edge(Edge edge) { next_.push_back(std::move(edge)); }
  // The profiler's id of the layer this node was recorded in (kernels/profile.h), so the
  // backward's ops are attributed to the layer whose forward made them; -1: none.
  int profile_layer() const { return profile_layer_; }
  void set_profile_layer(int id) { profile_layer_ = id; }

 protected:
  std::string name_;
  std::vector<Edge> next_;
  int profile_layer_ = -1;
};

// The node every op records: saved tensors plus a backward function.
class FunctionNode : public Node {
 public:
  using Backward = std::function<std::vector<Tensor>(const Tensor& grad, const FunctionNode& node)>;
  FunctionNode(std::string name, Backward backward) : Node(std::move(name)), backward_(std::move(backward)) {}
  Tensor saved(size_t i) const;  // the i-th saved tensor, version-checked
  void save(const Tensor& t) { saved_.emplace_back(t); }
  std::vector<Tensor> apply(const Tensor& grad_output) override;
  void release_saved() override;

 private:
  Backward backward_;
  std::vector<SavedTensor> saved_;
  bool released_ = false;
};

// True when grad mode is on and some input requires grad: the op must be recorded.
bool needs_recording(const std::vector<Tensor>& inputs);

// Records `out = op(inputs)`: makes `out` a non-leaf requiring grad whose grad_fn is a
// FunctionNode named `op` with one edge per input. Does nothing unless
// needs_recording(inputs). `to_save` are version-checked and handed to `backward`
// through node.saved(i).
void record(const char* op, Tensor& out, const std::vector<Tensor>& inputs, const std::vector<Tensor>& to_save,
            FunctionNode::Backward backward);

// The engine behind Tensor::backward().
void run_backward(const Tensor& root, const Tensor& gradient, bool retain_graph);

// Error unless an in-place write to `t` is allowed: not while grad mode is on and t
// requires grad (a leaf parameter, or a tensor of the graph).
void check_inplace(const Tensor& t, const char* op);

}  // namespace glia
