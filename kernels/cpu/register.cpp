// Every CPU kernel glia has, registered in its slot. A new CPU kernel adds one line here.
#include "kernels/copy.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/reduce.h"
#include "kernels/softmax.h"

namespace glia::kernels::cpu {

void register_kernels() {
  constexpr Backend b = Backend::cpu;
  binary_kernel.set(b, &binary);
  unary_kernel.set(b, &unary);
  unary_backward_kernel.set(b, &unary_backward);
  fill_kernel.set(b, &fill);
  copy_kernel.set(b, &copy);
  reduce_kernel.set(b, &reduce);
  gemm_kernel.set(b, &gemm);
  softmax_kernel.set(b, &softmax);
  softmax_backward_kernel.set(b, &softmax_backward);
  cross_entropy_kernel.set(b, &cross_entropy);
  cross_entropy_backward_kernel.set(b, &cross_entropy_backward);
  bce_with_logits_kernel.set(b, &bce_with_logits);
  bce_with_logits_backward_kernel.set(b, &bce_with_logits_backward);
}

}  // namespace glia::kernels::cpu
