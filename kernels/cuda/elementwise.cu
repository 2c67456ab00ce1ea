// Elementwise kernels: binary ops with broadcasting, unary ops and their backward, fill.
//
// Decomposition: one thread per output element in a grid-stride loop (blocks of 256
// threads, at most ~one wave of blocks; each thread then takes every gridDim*blockDim-th
// element). Same-shape contiguous float32 binary ops take a float4 path: each thread
// loads and stores 16 bytes at a time, and the last n%4 elements go to the first threads.
// Broadcast and strided inputs decompose the linear index into coordinates.
//
// Cost: 1 FLOP per element (a few for activations); bytes moved = (inputs + output) *
// n * sizeof(T), so these are memory-bound: the figure of merit is GB/s.
#include <limits>
#include <type_traits>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/kernels.cuh"

namespace glia::kernels::GLIA_CUDA_NS {
namespace {

constexpr int kThreads = 256;

// ---- the math of each op ----------------------------------------------------------------
template <class T>
__device__ __forceinline__ T apply_binary(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
    // NaN propagates like torch.maximum/minimum (a != a is true only for NaN).
    case BinaryOp::maximum: return (a > b || a != a) ? a : b;
    case BinaryOp::minimum: return (a < b || a != a) ? a : b;
  }
  return a;
}

// Overflow-free logistic function: exp is only taken of a non-positive number.
template <class T>
__device__ __forceinline__ T sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + dev_exp(-x));
  T e = dev_exp(x);
  return e / (T(1) + e);
}

// NaN-propagating clamps (comparisons with NaN are false, so NaN falls through).
template <class T>
__device__ __forceinline__ T relu(T x) { return x < T(0) ? T(0) : x; }
template <class T>
__device__ __forceinline__ T relu6(T x) { return x < T(0) ? T(0) : (x > T(6) ? T(6) : x); }

template <class T>
__device__ __forceinline__ T apply_unary(UnaryOp op, T x, T s) {
  switch (op) {
    case UnaryOp::neg: return -x;
    case UnaryOp::exp: return dev_exp(x);
    case UnaryOp::log: return dev_log(x);
    case UnaryOp::sqrt: return dev_sqrt(x);
    case UnaryOp::abs: return dev_abs(x);
    case UnaryOp::relu: return relu(x);
    case UnaryOp::relu6: return relu6(x);
    case UnaryOp::sigmoid: return sigmoid(x);
    case UnaryOp::silu: return x * sigmoid(x);
    case UnaryOp::tanh: return dev_tanh(x);
    case UnaryOp::hardswish: return x * relu6(x + T(3)) / T(6);
    case UnaryOp::leaky_relu: return x > T(0) ? x : s * x;
    case UnaryOp::pow_scalar: return dev_pow(x, s);
    case UnaryOp::add_scalar: return x + s;
    case UnaryOp::mul_scalar: return x * s;
  }
  return x;
}

// f'(x), written in the forward input x.
template <class T>
__device__ __forceinline__ T unary_derivative(UnaryOp op, T x, T s) {
  switch (op) {
    case UnaryOp::neg: return T(-1);
    case UnaryOp::exp: return dev_exp(x);
    case UnaryOp::log: return T(1) / x;
    case UnaryOp::sqrt: return T(0.5) / dev_sqrt(x);
    case UnaryOp::abs: return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
    case UnaryOp::relu: return x > T(0) ? T(1) : T(0);
    case UnaryOp::relu6: return (x > T(0) && x < T(6)) ? T(1) : T(0);
    // s(x)*s(-x) rather than s*(1-s): no cancellation where s is close to 1.
    case UnaryOp::sigmoid: return sigmoid(x) * sigmoid(-x);
    case UnaryOp::silu: return sigmoid(x) * (T(1) + x * sigmoid(-x));
    case UnaryOp::tanh: {  // 1/cosh^2 rather than 1 - tanh^2, which cancels for |x| > ~2
      T c = dev_cosh(x);
      return T(1) / (c * c);
    }
    case UnaryOp::hardswish:  // like PyTorch: 0 below -3, x/3 + 1/2 on [-3, 3], 1 above
      return x < T(-3) ? T(0) : (x <= T(3) ? x / T(3) + T(0.5) : T(1));
    case UnaryOp::leaky_relu: return x > T(0) ? T(1) : s;
    case UnaryOp::pow_scalar:  // d/dx x^0 is 0 everywhere, also at x = 0
      return s == T(0) ? T(0) : s * dev_pow(x, s - T(1));
    case UnaryOp::add_scalar: return T(1);
    case UnaryOp::mul_scalar: return s;
  }
  return T(0);
}

// ---- kernels ------------------------------------------------------------------------------
// Every kernel is templated on its index type I: int32 when the element count fits
// (fits_int32), so the loop counter and, in the strided kernel, the per-element division
// are 32-bit; int64 for larger tensors.

// Same-shape contiguous float32, 16-byte aligned: float4 loads and stores, then the
// n % 4 leftover elements one per thread.
template <class I>
__global__ void binary_vec4_elements(BinaryOp op, I n, const float* a, const float* b, float* out) {
  const I n4 = n / 4;
  const float4* a4 = reinterpret_cast<const float4*>(a);
  const float4* b4 = reinterpret_cast<const float4*>(b);
  float4* out4 = reinterpret_cast<float4*>(out);
  for (I i : grid_stride(n4)) {
    float4 x = a4[i], y = b4[i], r;
    r.x = apply_binary(op, x.x, y.x);
    r.y = apply_binary(op, x.y, y.y);
    r.z = apply_binary(op, x.z, y.z);
    r.w = apply_binary(op, x.w, y.w);
    out4[i] = r;
  }
  const I tail = static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + static_cast<I>(threadIdx.x) + n4 * 4;
  if (tail < n) out[tail] = apply_binary(op, a[tail], b[tail]);
}

template <class T, class I>
__global__ void binary_contiguous_elements(BinaryOp op, I n, const T* a, const T* b, T* out) {
  for (I i : grid_stride(n)) out[i] = apply_binary(op, a[i], b[i]);
}

// Any strides (0 where broadcast); the output is contiguous so its offset is i.
template <class T, class I>
__global__ void binary_strided_elements(BinaryOp op, TwoOperandLayout layout, I n, const T* a, const T* b, T* out) {
  for (I i : grid_stride(n)) {
    I ia, ib;
    layout_offsets(layout, i, ia, ib);
    out[i] = apply_binary(op, a[ia], b[ib]);
  }
}

template <class T, class I>
__global__ void unary_elements(UnaryOp op, T s, I n, const T* x, T* y) {
  for (I i : grid_stride(n)) y[i] = apply_unary(op, x[i], s);
}

template <class T, class I>
__global__ void unary_backward_elements(UnaryOp op, T s, I n, const T* x, const T* gy, T* gx) {
  for (I i : grid_stride(n)) gx[i] = gy[i] * unary_derivative(op, x[i], s);
}

template <class T, class I>
__global__ void fill_elements(I n, T value, T* out) {
  for (I i : grid_stride(n)) out[i] = value;
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

// ---- host entry points ------------------------------------------------------------------
void binary(const BinaryParams& p) {
  GLIA_CHECK(p.ndim >= 0 && p.ndim <= kMaxDims, "op 'binary': ndim " << p.ndim << " is outside [0, " << kMaxDims << "]");
  if (p.numel == 0) return;
  TwoOperandLayout layout = collapse_dims(p.ndim, p.sizes, p.a_strides, p.b_strides);
  bool contiguous = layout.ndim == 0 || (layout.ndim == 1 && layout.strides0[0] == 1 && layout.strides1[0] == 1);
  const int64_t largest = p.numel > layout_span(layout) ? p.numel : layout_span(layout);
  dispatch_floating(p.dtype, "binary", [&](auto zero) {
    using T = decltype(zero);
    const T* a = static_cast<const T*>(p.a);
    const T* b = static_cast<const T*>(p.b);
    T* out = static_cast<T*>(p.out);
    const int blocks = blocks_for(p.numel, kThreads, kOneWaveBlocks);
    dispatch_index(largest, [&](auto index) {
      using I = decltype(index);
      const I n = static_cast<I>(p.numel);
      if (!contiguous) {
        auto* binary_strided_elements_ = &binary_strided_elements<T, I>;
        GLIA_LAUNCH(binary_strided_elements_, blocks, kThreads, 0, p.op, layout, n, a, b, out);
      } else if (p.dtype == DType::f32 && aligned16(a) && aligned16(b) && aligned16(out)) {
        const int vec_blocks = blocks_for((p.numel + 3) / 4, kThreads, kOneWaveBlocks);
        GLIA_LAUNCH(binary_vec4_elements<I>, vec_blocks, kThreads, 0, p.op, n, reinterpret_cast<const float*>(a),
                    reinterpret_cast<const float*>(b), reinterpret_cast<float*>(out));
      } else {
        auto* binary_contiguous_elements_ = &binary_contiguous_elements<T, I>;
        GLIA_LAUNCH(binary_contiguous_elements_, blocks, kThreads, 0, p.op, n, a, b, out);
      }
    });
  });
}

void unary(const UnaryParams& p) {
  if (p.n == 0) return;
  dispatch_floating(p.dtype, "unary", [&](auto zero) {
    using T = decltype(zero);
    dispatch_index(p.n, [&](auto index) {
      using I = decltype(index);
      auto* unary_elements_ = &unary_elements<T, I>;
      GLIA_LAUNCH(unary_elements_, blocks_for(p.n, kThreads, kOneWaveBlocks), kThreads, 0, p.op,
                  static_cast<T>(p.scalar), static_cast<I>(p.n), static_cast<const T*>(p.x), static_cast<T*>(p.y));
    });
  });
}

void unary_backward(const UnaryBackwardParams& p) {
  if (p.n == 0) return;
  dispatch_floating(p.dtype, "unary_backward", [&](auto zero) {
    using T = decltype(zero);
    dispatch_index(p.n, [&](auto index) {
      using I = decltype(index);
      auto* unary_backward_elements_ = &unary_backward_elements<T, I>;
      GLIA_LAUNCH(unary_backward_elements_, blocks_for(p.n, kThreads, kOneWaveBlocks), kThreads, 0, p.op,
                  static_cast<T>(p.scalar), static_cast<I>(p.n), static_cast<const T*>(p.x),
                  static_cast<const T*>(p.gy), static_cast<T*>(p.gx));
    });
  });
}

void fill(const FillParams& p) {
  if (p.n == 0) return;
  dispatch_any(p.dtype, "fill", [&](auto zero) {
    using T = decltype(zero);
    if constexpr (!std::is_floating_point_v<T>) {  // the cast would be undefined behaviour
      GLIA_CHECK(std::nearbyint(p.value) == p.value && p.value >= double(std::numeric_limits<T>::lowest()) &&
                     p.value <= double(std::numeric_limits<T>::max()),
                 "op 'fill': value " << p.value << " is not representable as " << dtype_name(p.dtype));
    }
    dispatch_index(p.n, [&](auto index) {
      using I = decltype(index);
      auto* fill_elements_ = &fill_elements<T, I>;
      GLIA_LAUNCH(fill_elements_, blocks_for(p.n, kThreads, kOneWaveBlocks), kThreads, 0, static_cast<I>(p.n),
                  static_cast<T>(p.value), static_cast<T*>(p.out));
    });
  });
}

}  // namespace glia::kernels::GLIA_CUDA_NS
