// CPU elementwise kernels: binary ops with stride broadcasting, unary ops and their
// derivatives, fill. Each op is a small lambda; loops are written once and specialised
// by the compiler per op and dtype.
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/vec_math.h"
#include "kernels/elementwise.h"

namespace glia::kernels::cpu {
namespace {

// One row of a binary op. The stride combinations that matter get their own loop so the
// compiler vectorises them: same shape (1,1) and scalar broadcast (0,1)/(1,0).
template <class T, class F>
inline void binary_row(int64_t n, const T* a, int64_t sa, const T* b, int64_t sb, T* out, F f) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
  } else if (sa == 0 && sb == 1) {
    const T av = a[0];
    for (int64_t i = 0; i < n; ++i) out[i] = f(av, b[i]);
  } else if (sa == 1 && sb == 0) {
    const T bv = b[0];
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], bv);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i * sa], b[i * sb]);
  }
}

template <class T, class F>
void binary_loop(const BinaryParams& p, F f) {
  if (p.numel == 0) return;
  int64_t sizes[kMaxDims], sa[kMaxDims], sb[kMaxDims], so[kMaxDims];
  int64_t contiguous = 1;
  for (int d = p.ndim - 1; d >= 0; --d) {
    sizes[d] = p.sizes[d];
    sa[d] = p.a_strides[d];
    sb[d] = p.b_strides[d];
    so[d] = contiguous;
    contiguous *= p.sizes[d];
  }
  const int ndim = coalesce_dims(p.ndim, sizes, {sa, sb, so});
  const T* a = static_cast<const T*>(p.a);
  const T* b = static_cast<const T*>(p.b);
  T* out = static_cast<T*>(p.out);
  const int64_t inner = sizes[ndim - 1];
  for_each_row(ndim, sizes, p.numel, [&](int64_t begin, int64_t end, int64_t row) {
    const T* ar = a + row_offset(ndim, sizes, sa, row) + begin * sa[ndim - 1];
    const T* br = b + row_offset(ndim, sizes, sb, row) + begin * sb[ndim - 1];
    binary_row(end - begin, ar, sa[ndim - 1], br, sb[ndim - 1], out + row * inner + begin, f);
  });
}

// Runs y[i] = f(i) over n elements, threaded above the size threshold.
template <class F>
void map_n(int64_t n, F f) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) f(i);
}

// float32 exp, sigmoid and SiLU go through the vectorised loops of vec_math.h (libm's
// expf keeps a loop scalar); float64 keeps the libm lambdas below as the exact path.
bool unary_vectorised_f32(const UnaryParams& p) {
  using ArrayFn = void (*)(const float*, float*, int64_t);
  ArrayFn fn = p.op == UnaryOp::exp ? exp_array_f32
               : p.op == UnaryOp::sigmoid ? sigmoid_array_f32
               : p.op == UnaryOp::silu ? silu_array_f32 : nullptr;
  if (p.dtype != DType::f32 || fn == nullptr) return false;
  const float* x = static_cast<const float*>(p.x);
  float* y = static_cast<float*>(p.y);
  map_chunks(p.n, [&](int64_t b, int64_t e) { fn(x + b, y + b, e - b); });
  return true;
}

bool unary_backward_vectorised_f32(const UnaryBackwardParams& p) {
  using ArrayFn = void (*)(const float*, const float*, float*, int64_t);
  ArrayFn fn = p.op == UnaryOp::exp ? exp_backward_array_f32
               : p.op == UnaryOp::sigmoid ? sigmoid_backward_array_f32
               : p.op == UnaryOp::silu ? silu_backward_array_f32 : nullptr;
  if (p.dtype != DType::f32 || fn == nullptr) return false;
  const float* x = static_cast<const float*>(p.x);
  const float* gy = static_cast<const float*>(p.gy);
  float* gx = static_cast<float*>(p.gx);
  map_chunks(p.n, [&](int64_t b, int64_t e) { fn(x + b, gy + b, gx + b, e - b); });
  return true;
}

// Overflow-free logistic function: exp is only taken of a non-positive number.
template <class T>
inline T sigmoid(T x) {
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

// NaN-propagating clamp (comparisons with NaN are false, so NaN falls through).
template <class T>
inline T relu6(T x) {
  return x < T(0) ? T(0) : (x > T(6) ? T(6) : x);
}

template <class T, class F>
void unary_loop(const UnaryParams& p, F f) {
  const T* x = static_cast<const T*>(p.x);
  T* y = static_cast<T*>(p.y);
  map_n(p.n, [&](int64_t i) { y[i] = f(x[i]); });
}

template <class T, class F>
void unary_backward_loop(const UnaryBackwardParams& p, F df) {
  const T* x = static_cast<const T*>(p.x);
  const T* gy = static_cast<const T*>(p.gy);
  T* gx = static_cast<T*>(p.gx);
  map_n(p.n, [&](int64_t i) { gx[i] = gy[i] * df(x[i]); });
}

const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::neg: return "neg";
    case UnaryOp::exp: return "exp";
    case UnaryOp::log: return "log";
    case UnaryOp::sqrt: return "sqrt";
    case UnaryOp::abs: return "abs";
    case UnaryOp::relu: return "relu";
    case UnaryOp::relu6: return "relu6";
    case UnaryOp::sigmoid: return "sigmoid";
    case UnaryOp::silu: return "silu";
    case UnaryOp::tanh: return "tanh";
    case UnaryOp::hardswish: return "hardswish";
    case UnaryOp::leaky_relu: return "leaky_relu";
    case UnaryOp::pow_scalar: return "pow_scalar";
    case UnaryOp::add_scalar: return "add_scalar";
    case UnaryOp::mul_scalar: return "mul_scalar";
  }
  return "?";
}

// Converts a fill value to T, refusing values the integer types cannot hold (the cast
// would be undefined behaviour).
template <class T>
T fill_value(double v) {
  if constexpr (std::is_integral_v<T>) {
    GLIA_CHECK(std::nearbyint(v) == v && v >= double(std::numeric_limits<T>::lowest()) &&
                   v <= double(std::numeric_limits<T>::max()),
               "cpu kernel 'fill': value " << v << " is not representable as " << dtype_name(dtype_of<T>::value));
  }
  return static_cast<T>(v);
}

}  // namespace

void binary(const BinaryParams& p) {
  GLIA_CHECK(p.ndim >= 0 && p.ndim <= kMaxDims, "cpu kernel 'binary': ndim " << p.ndim << " outside [0, " << kMaxDims << "]");
  dispatch_float(p.dtype, "binary", [&](auto tag) {
    using T = typename decltype(tag)::type;
    switch (p.op) {
      case BinaryOp::add: return binary_loop<T>(p, [](T a, T b) { return a + b; });
      case BinaryOp::sub: return binary_loop<T>(p, [](T a, T b) { return a - b; });
      case BinaryOp::mul: return binary_loop<T>(p, [](T a, T b) { return a * b; });
      case BinaryOp::div: return binary_loop<T>(p, [](T a, T b) { return a / b; });
      // NaN wins, like torch.maximum / torch.minimum.
      case BinaryOp::maximum: return binary_loop<T>(p, [](T a, T b) { return (a > b || a != a) ? a : b; });
      case BinaryOp::minimum: return binary_loop<T>(p, [](T a, T b) { return (a < b || a != a) ? a : b; });
    }
    GLIA_FAIL("cpu kernel 'binary': unknown op " << static_cast<int>(p.op));
  });
}

void unary(const UnaryParams& p) {
  if (unary_vectorised_f32(p)) return;
  dispatch_float(p.dtype, unary_name(p.op), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T s = static_cast<T>(p.scalar);
    switch (p.op) {
      case UnaryOp::neg: return unary_loop<T>(p, [](T x) { return -x; });
      case UnaryOp::exp: return unary_loop<T>(p, [](T x) { return std::exp(x); });
      case UnaryOp::log: return unary_loop<T>(p, [](T x) { return std::log(x); });
      case UnaryOp::sqrt: return unary_loop<T>(p, [](T x) { return std::sqrt(x); });
      case UnaryOp::abs: return unary_loop<T>(p, [](T x) { return std::abs(x); });
      case UnaryOp::relu: return unary_loop<T>(p, [](T x) { return x < T(0) ? T(0) : x; });
      case UnaryOp::relu6: return unary_loop<T>(p, [](T x) { return relu6(x); });
      case UnaryOp::sigmoid: return unary_loop<T>(p, [](T x) { return sigmoid(x); });
      case UnaryOp::silu: return unary_loop<T>(p, [](T x) { return x * sigmoid(x); });
      case UnaryOp::tanh: return unary_loop<T>(p, [](T x) { return std::tanh(x); });
      case UnaryOp::hardswish: return unary_loop<T>(p, [](T x) { return x * relu6(x + T(3)) / T(6); });
      case UnaryOp::leaky_relu: return unary_loop<T>(p, [s](T x) { return x > T(0) ? x : x * s; });
      case UnaryOp::pow_scalar: return unary_loop<T>(p, [s](T x) { return std::pow(x, s); });
      case UnaryOp::add_scalar: return unary_loop<T>(p, [s](T x) { return x + s; });
      case UnaryOp::mul_scalar: return unary_loop<T>(p, [s](T x) { return x * s; });
    }
    GLIA_FAIL("cpu kernel 'unary': unknown op " << static_cast<int>(p.op));
  });
}

// Each lambda is f'(x); the loop multiplies by gy.
void unary_backward(const UnaryBackwardParams& p) {
  if (unary_backward_vectorised_f32(p)) return;
  dispatch_float(p.dtype, unary_name(p.op), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T s = static_cast<T>(p.scalar);
    switch (p.op) {
      case UnaryOp::neg: return unary_backward_loop<T>(p, [](T) { return T(-1); });
      case UnaryOp::exp: return unary_backward_loop<T>(p, [](T x) { return std::exp(x); });
      case UnaryOp::log: return unary_backward_loop<T>(p, [](T x) { return T(1) / x; });
      case UnaryOp::sqrt: return unary_backward_loop<T>(p, [](T x) { return T(0.5) / std::sqrt(x); });
      case UnaryOp::abs: return unary_backward_loop<T>(p, [](T x) { return T((x > 0) - (x < 0)); });
      case UnaryOp::relu: return unary_backward_loop<T>(p, [](T x) { return x > T(0) ? T(1) : T(0); });
      case UnaryOp::relu6:
        return unary_backward_loop<T>(p, [](T x) { return x > T(0) && x < T(6) ? T(1) : T(0); });
      case UnaryOp::sigmoid:
        // s(x)*s(-x) rather than s*(1-s): no cancellation where s is close to 1
        return unary_backward_loop<T>(p, [](T x) { return sigmoid(x) * sigmoid(-x); });
      case UnaryOp::silu:
        return unary_backward_loop<T>(p, [](T x) { return sigmoid(x) * (T(1) + x * sigmoid(-x)); });
      case UnaryOp::tanh:
        // 1/cosh^2 rather than 1 - tanh^2, which cancels for |x| > ~2 (cosh overflow gives 0)
        return unary_backward_loop<T>(p, [](T x) { const T c = std::cosh(x); return T(1) / (c * c); });
      case UnaryOp::hardswish:  // PyTorch: 0 below -3, x/3 + 1/2 on [-3, 3], 1 above
        return unary_backward_loop<T>(p, [](T x) {
          return x < T(-3) ? T(0) : (x <= T(3) ? x / T(3) + T(0.5) : T(1));
        });
      case UnaryOp::leaky_relu: return unary_backward_loop<T>(p, [s](T x) { return x > T(0) ? T(1) : s; });
      case UnaryOp::pow_scalar:  // d/dx x^0 is 0 everywhere, also at x = 0
        return unary_backward_loop<T>(p, [s](T x) { return s == T(0) ? T(0) : s * std::pow(x, s - T(1)); });
      case UnaryOp::add_scalar: return unary_backward_loop<T>(p, [](T) { return T(1); });
      case UnaryOp::mul_scalar: return unary_backward_loop<T>(p, [s](T) { return s; });
    }
    GLIA_FAIL("cpu kernel 'unary_backward': unknown op " << static_cast<int>(p.op));
  });
}

void fill(const FillParams& p) {
  dispatch_all(p.dtype, "fill", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T v = fill_value<T>(p.value);
    T* out = static_cast<T*>(p.out);
    map_n(p.n, [&](int64_t i) { out[i] = v; });
  });
}

}  // namespace glia::kernels::cpu
