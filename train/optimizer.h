// Optimizers over named parameters: Adam (L2 weight decay as PyTorch's Adam, or decoupled
// as AdamW / Keras) and SGD with momentum. Each step is one fused kernel per parameter
// (kernels/optim.h) on the parameter's device; Adam's is one multi-tensor launch for all
// of them. Parameters without a gradient (frozen, or unused this step) are skipped and
// keep their own step count, as in PyTorch.
// State (moments, step counts, learning rate) round-trips for checkpoints.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tensor/json.h"
#include "tensor/tensor.h"

namespace glia {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Optimizer {
 public:
  explicit Optimizer(NamedTensors params, double lr);
  virtual ~Optimizer() = default;

  virtual void step() = 0;
  void zero_grad();  // drops every parameter's gradient

  double lr() const { return lr_; }
  void set_lr(double lr);
  // The momentum a one-cycle schedule cycles (train/lr_schedule.h), as PyTorch does:
  // Adam's beta1 (its bias correction then uses the new value, as torch.optim.Adam), SGD's
  // momentum (which must have been > 0 from the start: the buffers exist then).
  virtual void set_momentum(double momentum) = 0;
  const NamedTensors& params() const { return params_; }

  // Checkpoint state: tensors named "<slot>.<parameter name>" and a JSON of scalars.
  virtual NamedTensors state_tensors() const = 0;
  virtual Json state_json() const = 0;
  // Restores from what state_tensors()/state_json() produced; errors name what is missing.
  virtual void load_state(const std::map<std::string, Tensor>& tensors, const Json& json) = 0;

 protected:
  NamedTensors params_;
  double lr_;
};

class Adam : public Optimizer {
 public:
  struct Options {
    double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
    bool decoupled_weight_decay = false;  // false: PyTorch Adam (L2); true: AdamW / Keras
  };
  Adam(NamedTensors params, Options options);
  void step() override;
  void set_momentum(double beta1) override;
  NamedTensors state_tensors() const override;
  Json state_json() const override;
  void load_state(const std::map<std::string, Tensor>& tensors, const Json& json) override;
  const Options& options() const { return options_; }

 private:
  struct Slot {
    Tensor exp_avg, exp_avg_sq;
    int64_t step = 0;
  };
  Options options_;
  std::vector<Slot> slots_;
};

class SGD : public Optimizer {
 public:
  struct Options {
    double lr = 1e-2, momentum = 0.9, dampening = 0, weight_decay = 0;
    bool nesterov = false;
  };
  SGD(NamedTensors params, Options options);
  void step() override;
  void set_momentum(double momentum) override;
  NamedTensors state_tensors() const override;
  Json state_json() const override;
  void load_state(const std::map<std::string, Tensor>& tensors, const Json& json) override;

 private:
  Options options_;
  std::vector<Tensor> buffers_;
  std::vector<bool> started_;
};

}  // namespace glia
