// The backward's per-parameter "gradient complete" signal. The engine (tensor/autograd.cpp)
// tells the observer installed on this thread each time a leaf's AccumulateGrad has run:
// every contribution to that leaf's .grad in the running backward has then arrived (a
// leaf used twice is accumulated once, after both uses). Data-parallel training
// (train/data_parallel.h) starts summing a bucket of gradients across ranks from here
// while the backward goes on with the layers below, as PyTorch DDP's reducer does with
// its post-accumulate-grad hooks.
#pragma once

#include "tensor/tensor.h"

namespace glia {

class GradReadyObserver {
 public:
  virtual ~GradReadyObserver() = default;
  // `leaf` is the leaf tensor (a parameter) whose .grad is now final for this backward.
  // Runs on the backward's thread, inside the walk: keep it short, and do not start
  // another backward from it.
  virtual void leaf_grad_ready(const Tensor& leaf) = 0;
};

// The observer installed on this thread, or null.
GradReadyObserver* grad_ready_observer();

// Installs `observer` on this thread while the scope lives (null: none), then restores
// the previous one.
class GradReadyScope {
 public:
  explicit GradReadyScope(GradReadyObserver* observer);
  ~GradReadyScope();
  GradReadyScope(const GradReadyScope&) = delete;
  GradReadyScope& operator=(const GradReadyScope&) = delete;

 private:
  GradReadyObserver* previous_;
};

}  // namespace glia
