// ConvTranspose2d forward and backward (see kernels/conv_transpose2d.h), built from the
// conv2d kernels of conv2d.cu through the equivalent conv (conv_transpose2d_as_conv):
//   forward          = conv2d backward-to-input of that conv (the implicit-GEMM gather),
//                      then a bias pass (one thread per output element) when there is a bias
//   backward input   = conv2d forward of that conv on gy
//   backward weight  = conv2d backward-to-weight with the roles of x and gy swapped
// Weights [C_in, C_out, KH, KW] are exactly the conv's [C_out', C_in', KH, KW], so nothing is
// transposed in memory. Cost: as conv2d (2 * N * C_in * H_in * W_in * C_out * KH * KW FLOPs
// per product).
#include "kernels/conv_transpose2d.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels.cuh"
#include "kernels/half.h"

namespace glia::kernels::GLIA_CUDA_NS {
namespace {

constexpr int kThreads = 256;

// The type a bias is added in: bfloat16 adds in float and rounds once more (the conv's
// own output was rounded already, so a sum can differ from the CPU's, which adds the bias
// before its single rounding, by one bfloat16 ulp).
template <class T>
struct BiasSum {
  using type = T;
};
template <>
struct BiasSum<bfloat16> {
  using type = float;
};

// y[n, c, hw] += bias[c], one thread per element (grid-stride).
template <class T>
__global__ void add_channel_bias(int64_t total, int64_t c, int64_t hw, const T* bias, T* y) {
  using A = typename BiasSum<T>::type;
  for (int64_t i : grid_stride(total))
    y[i] = static_cast<T>(static_cast<A>(y[i]) + static_cast<A>(bias[(i / hw) % c]));
}

template <class T>
void launch_add_channel_bias(const ConvTranspose2dShape& s, const void* bias, void* y) {
  const int64_t hw = s.h_out() * s.w_out(), total = s.n * s.c_out * hw;
  if (total == 0) return;
  GLIA_LAUNCH(add_channel_bias<T>, blocks_for(total, kThreads), kThreads, 0, total, s.c_out, hw,
              static_cast<const T*>(bias), static_cast<T*>(y));
}

}  // namespace

void conv_transpose2d(const ConvTranspose2dParams& p) {
  require_output_in_input_dtype(p, "conv_transpose2d", GLIA_CUDA_STR_(GLIA_CUDA_NS));
  validate_conv_transpose2d(p.shape, "conv_transpose2d");
  Conv2dBackwardInputParams c{p.dtype, conv_transpose2d_as_conv(p.shape), p.x, p.w, p.y};
  conv2d_backward_input(c);
  if (p.bias == nullptr) return;
  if (p.dtype == DType::bf16) return launch_add_channel_bias<bfloat16>(p.shape, p.bias, p.y);  // the conv was tensor-core
  dispatch_floating(p.dtype, "conv_transpose2d", [&](auto tag) { launch_add_channel_bias<decltype(tag)>(p.shape, p.bias, p.y); });
}

void conv_transpose2d_backward_input(const ConvTranspose2dBackwardInputParams& p) {
  require_output_in_input_dtype(p, "conv_transpose2d_backward_input", GLIA_CUDA_STR_(GLIA_CUDA_NS));
  validate_conv_transpose2d(p.shape, "conv_transpose2d_backward_input");
  Conv2dParams c{p.dtype, conv_transpose2d_as_conv(p.shape), p.gy, p.w, nullptr, p.gx};
  conv2d(c);
}

void conv_transpose2d_backward_weight(const ConvTranspose2dBackwardWeightParams& p) {
  require_output_in_input_dtype(p, "conv_transpose2d_backward_weight", GLIA_CUDA_STR_(GLIA_CUDA_NS));
  validate_conv_transpose2d(p.shape, "conv_transpose2d_backward_weight");
  Conv2dBackwardWeightParams c{p.dtype, conv_transpose2d_as_conv(p.shape), p.gy, p.x, p.gw};
  conv2d_backward_weight(c);
}

}  // namespace glia::kernels::GLIA_CUDA_NS
