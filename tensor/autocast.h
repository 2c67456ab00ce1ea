// Automatic mixed precision (torch.autocast): while an AutocastGuard is alive on a
// thread, the ops of tensor/ look themselves up in a policy table and cast their
// floating-point inputs before they run:
//
//   lower      conv2d, conv_transpose2d, matmul (so linear)   operands in the guard's dtype
//                                                               (bf16 or f16), result f32
//   fp32       batch_norm, softmax, log_softmax, losses,      inputs in f32
//              sum, mean, exp, log, pow
//   promote    add, sub, mul, div, maximum, minimum, concat   inputs in the widest input dtype
//   (others)   run in their input's dtype
//
// The casts are the differentiable Tensor::to(DType), so the gradient of an f32
// parameter that an op used in bf16 comes back to it in f32 (fp32 master weights). The
// full table, with PyTorch's CPU/CUDA lists beside it and where glia differs, is in
// tensor/README.md ("Mixed precision").
//
// Off (no guard) costs each op one thread-local load and branch; the f32 path is then
// exactly the one without autocast.
#pragma once
#include <string>
#include <vector>

#include "kernels/dtype.h"
#include "tensor/tensor.h"

namespace glia {

enum class CastPolicy { lower, fp32, promote };
const char* cast_policy_name(CastPolicy p);  // "lower" | "fp32" | "promote"

struct AutocastRule {
  const char* op;      // the op's name, as its errors and autograd nodes name it
  CastPolicy policy;
};
// Every op autocast touches; ops not listed run in their inputs' dtype.
const std::vector<AutocastRule>& autocast_table();
// The op's rule, or nullptr when the op is not in the table.
const AutocastRule* autocast_rule(const std::string& op);

namespace autocast_detail {
inline thread_local bool t_active = false;
inline thread_local DType t_dtype = DType::bf16;
}  // namespace autocast_detail

// True while an enabled AutocastGuard is alive on this thread (and no op of the table is
// running its inner, already-cast body): the one branch of the off path.
inline bool autocast_active() { return autocast_detail::t_active; }
// The lower-precision dtype of the innermost enabled guard (bf16 when none).
inline DType autocast_dtype() { return autocast_detail::t_dtype; }

// Turns autocast on (enabled) or off for this thread while alive; guards nest and
// restore what they found. dtype must be bf16 or f16 when enabled.
class AutocastGuard {
 public:
  explicit AutocastGuard(DType dtype = DType::bf16, bool enabled = true);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool previous_active_;
  DType previous_dtype_;
};

// Empty when `device` has a kernel for every op autocast lowers to `dtype` (the casts,
// conv2d, conv_transpose2d, matmul), else the first missing kernel's error, which names
// the op, the backend and the dtype: a tiny forward of each runs on the device. (sim, and
// cuda's hand-written path, have bf16 kernels and no f16 ones.)
std::string autocast_kernels_missing(Device device, DType dtype);

// What an op of the table does under autocast: computes the dtype its inputs are cast
// to, suspends autocast while the op's own body runs on the cast inputs (so it does not
// cast again), and for `lower` ops turns the result back into f32.
//
//   if (autocast_active()) {
//     AutocastCall call("conv2d", {x, weight, bias});
//     return call.result(conv2d(call.cast(x), call.cast(weight), call.cast(bias), args));
//   }
class AutocastCall {
 public:
  // Error when `op` is not in the table (a programming error, named).
  AutocastCall(const char* op, const std::vector<Tensor>& inputs);
  ~AutocastCall();
  AutocastCall(const AutocastCall&) = delete;
  AutocastCall& operator=(const AutocastCall&) = delete;

  DType dtype() const { return dtype_; }  // what floating inputs become
  // t in dtype() when floating point; undefined and integer tensors as they are.
  Tensor cast(const Tensor& t) const;
  // lower: the result in f32 (activations stay f32 between ops, see tensor/README.md);
  // fp32 and promote: as it is.
  Tensor result(const Tensor& t) const;

 private:
  const AutocastRule& rule_;
  DType dtype_;
  bool previous_active_;
};

}  // namespace glia
