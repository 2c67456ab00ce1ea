// CPU conv2d on bfloat16/float16 tensors, the ops autocast runs in low precision: every
// product and sum in float32 (kernels/cpu/half_gemm.h: AVX512-BF16 or widened operands and
// OpenBLAS), the output written in float32 or rounded once to the inputs' dtype (out_dtype).
//
// General convs are im2col + GEMM as in conv2d.cpp, with the column matrix built in 16 bits
// (half the bytes) and the GEMM writing float32. Winograd is not used: its transforms would
// add their own rounding on top of the 16-bit inputs'. Depthwise convs (no reduction to
// speak of) widen their operands and run the float32 depthwise kernel.
#include <algorithm>
#include <vector>

#include "kernels/cpu/conv2d_internal.h"
#include "kernels/cpu/half_gemm.h"
#include "kernels/error.h"

namespace glia::kernels::cpu {

using namespace conv_detail;

namespace {

template <class Params>
DType checked_output(const Params& p, const char* op) {
  const DType out = output_dtype(p);
  GLIA_CHECK(out == p.dtype || out == DType::f32, op << ": " << dtype_name(p.dtype) << " inputs write float32 or "
                                                     << dtype_name(p.dtype) << " on cpu, not " << dtype_name(out));
  return out;
}

std::vector<float> widened(DType t, const void* x, int64_t n) {
  std::vector<float> out(size_t(std::max<int64_t>(n, 0)));
  if (x != nullptr && n > 0) widen(t, x, out.data(), n);
  return out;
}

// Where a kernel writes its float32 result: the output itself, or a buffer to round from.
class Float32Output {
 public:
  Float32Output(DType out, void* dst, int64_t n) : out_(out), dst_(dst), n_(n) {
    if (out_ != DType::f32) buffer_.resize(size_t(n));
  }
  float* data() { return out_ == DType::f32 ? static_cast<float*>(dst_) : buffer_.data(); }
  void finish() {
    if (out_ != DType::f32) narrow(out_, buffer_.data(), dst_, n_);
  }

 private:
  DType out_;
  void* dst_;
  int64_t n_;
  std::vector<float> buffer_;
};

int64_t weight_numel(const Conv2dShape& s) { return s.c_out * (s.c_in / s.groups) * s.kh * s.kw; }

}  // namespace

void conv2d_16bit(const Conv2dParams& p) {
  const DType out = checked_output(p, "conv2d");
  validate_conv2d(p.shape, "conv2d");
  const Conv2dShape& s = p.shape;
  const int64_t G = s.groups, cg = s.c_in / G, og = s.c_out / G, kg = cg * s.kh * s.kw;
  const int64_t P = s.h_out() * s.w_out(), HW = s.h_in * s.w_in;
  Float32Output y(out, p.y, s.n * s.c_out * P);
  const std::vector<float> bias = widened(p.dtype, p.bias, p.bias ? s.c_out : 0);
  if (s.is_depthwise()) {
    const std::vector<float> x = widened(p.dtype, p.x, s.n * s.c_in * HW), w = widened(p.dtype, p.w, weight_numel(s));
    depthwise_forward<float>(s, x.data(), w.data(), p.bias ? bias.data() : nullptr, y.data());
    return y.finish();
  }
  const auto* x = static_cast<const uint16_t*>(p.x);
  const auto* w = static_cast<const uint16_t*>(p.w);
  if (is_pointwise(s)) {
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t g = 0; g < G; ++g)
        gemm_16bit(p.dtype, false, false, og, P, cg, 1.0f, w + g * og * kg, kg, x + (n * s.c_in + g * cg) * HW, P,
                   0.0f, y.data() + (n * s.c_out + g * og) * P, P);
  } else {
    // Every (image, group, pixel chunk) writes its own columns of y: one task each.
    const int64_t len_max = chunk_pixels(kg, P), chunks = (P + len_max - 1) / len_max, tasks = s.n * G * chunks;
    float* y32 = y.data();
#pragma omp parallel for schedule(dynamic) if (tasks > 1)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t n = t / (G * chunks), g = (t / chunks) % G, p0 = (t % chunks) * len_max;
      const int64_t len = std::min(len_max, P - p0);
      uint16_t* col = scratch<uint16_t>(size_t(kg * len_max));
      im2col_chunk(s, x + (n * s.c_in + g * cg) * HW, cg, p0, len, col);
      gemm_16bit(p.dtype, false, false, og, len, kg, 1.0f, w + g * og * kg, kg, col, len, 0.0f,
                 y32 + (n * s.c_out + g * og) * P + p0, P);
    }
  }
  if (p.bias != nullptr) add_bias<float>(s.n, s.c_out, P, bias.data(), y.data());
  y.finish();
}

void conv2d_backward_input_16bit(const Conv2dBackwardInputParams& p) {
  const DType out = checked_output(p, "conv2d_backward_input");
  validate_conv2d(p.shape, "conv2d_backward_input");
  const Conv2dShape& s = p.shape;
  const int64_t G = s.groups, cg = s.c_in / G, og = s.c_out / G, kg = cg * s.kh * s.kw;
  const int64_t P = s.h_out() * s.w_out(), HW = s.h_in * s.w_in;
  Float32Output gx(out, p.gx, s.n * s.c_in * HW);
  if (s.is_depthwise()) {
    const std::vector<float> gy = widened(p.dtype, p.gy, s.n * s.c_out * P), w = widened(p.dtype, p.w, weight_numel(s));
    depthwise_backward_input<float>(s, gy.data(), w.data(), gx.data());
    return gx.finish();
  }
  const auto* gy = static_cast<const uint16_t*>(p.gy);
  const auto* w = static_cast<const uint16_t*>(p.w);
  const bool pointwise = is_pointwise(s);
  const int64_t len_max = chunk_pixels(kg, P);
  float* col = pointwise ? nullptr : scratch<float>(size_t(kg * len_max), 1);
  if (!pointwise) std::fill(gx.data(), gx.data() + s.n * s.c_in * HW, 0.0f);
  for (int64_t n = 0; n < s.n; ++n) {
    for (int64_t g = 0; g < G; ++g) {
      float* gxg = gx.data() + (n * s.c_in + g * cg) * HW;
      const uint16_t* wg = w + g * og * kg;
      const uint16_t* gyg = gy + (n * s.c_out + g * og) * P;
      if (pointwise) {
        gemm_16bit(p.dtype, true, false, cg, P, og, 1.0f, wg, kg, gyg, P, 0.0f, gxg, P);
        continue;
      }
      for (int64_t p0 = 0; p0 < P; p0 += len_max) {
        const int64_t len = std::min(len_max, P - p0);
        gemm_16bit(p.dtype, true, false, kg, len, og, 1.0f, wg, kg, gyg + p0, P, 0.0f, col, len);
        col2im_chunk(s, col, cg, p0, len, gxg);
      }
    }
  }
  gx.finish();
}

void conv2d_backward_weight_16bit(const Conv2dBackwardWeightParams& p) {
  const DType out = checked_output(p, "conv2d_backward_weight");
  validate_conv2d(p.shape, "conv2d_backward_weight");
  const Conv2dShape& s = p.shape;
  const int64_t G = s.groups, cg = s.c_in / G, og = s.c_out / G, kg = cg * s.kh * s.kw;
  const int64_t P = s.h_out() * s.w_out(), HW = s.h_in * s.w_in;
  Float32Output gw(out, p.gw, weight_numel(s));
  if (s.is_depthwise()) {
    const std::vector<float> x = widened(p.dtype, p.x, s.n * s.c_in * HW), gy = widened(p.dtype, p.gy, s.n * s.c_out * P);
    depthwise_backward_weight<float>(s, x.data(), gy.data(), gw.data());
    return gw.finish();
  }
  const auto* x = static_cast<const uint16_t*>(p.x);
  const auto* gy = static_cast<const uint16_t*>(p.gy);
  const bool pointwise = is_pointwise(s);
  const int64_t len_max = chunk_pixels(kg, P);
  uint16_t* col = pointwise ? nullptr : scratch<uint16_t>(size_t(kg * len_max));
  if (s.n == 0) std::fill(gw.data(), gw.data() + weight_numel(s), 0.0f);
  // Accumulates over images and chunks in float32 (beta = 1 after the first product).
  for (int64_t n = 0; n < s.n; ++n) {
    for (int64_t g = 0; g < G; ++g) {
      const uint16_t* xg = x + (n * s.c_in + g * cg) * HW;
      const uint16_t* gyg = gy + (n * s.c_out + g * og) * P;
      float* gwg = gw.data() + g * og * kg;
      if (pointwise) {
        gemm_16bit(p.dtype, false, true, og, kg, P, 1.0f, gyg, P, xg, P, n == 0 ? 0.0f : 1.0f, gwg, kg);
        continue;
      }
      for (int64_t p0 = 0; p0 < P; p0 += len_max) {
        const int64_t len = std::min(len_max, P - p0);
        im2col_chunk(s, xg, cg, p0, len, col);
        gemm_16bit(p.dtype, false, true, og, kg, len, 1.0f, gyg + p0, P, col, len, (n == 0 && p0 == 0) ? 0.0f : 1.0f,
                   gwg, kg);
      }
    }
  }
  gw.finish();
}

void conv2d_backward_bias_16bit(const Conv2dBackwardBiasParams& p) {
  const DType out = checked_output(p, "conv2d_backward_bias");
  GLIA_CHECK(p.n >= 0 && p.c >= 0 && p.hw >= 0,
             "conv2d_backward_bias: negative size n=" << p.n << " c=" << p.c << " hw=" << p.hw);
  Float32Output gb(out, p.gbias, p.c);
  const auto* gy = static_cast<const uint16_t*>(p.gy);
  float* sums = gb.data();
#pragma omp parallel for schedule(static) if (p.n * p.c * p.hw > 32768)
  for (int64_t c = 0; c < p.c; ++c) {
    std::vector<float> row(size_t(p.hw));
    double acc = 0;
    for (int64_t n = 0; n < p.n; ++n) {
      widen(p.dtype, gy + (n * p.c + c) * p.hw, row.data(), p.hw);
      float part = 0;
      for (int64_t j = 0; j < p.hw; ++j) part += row[size_t(j)];
      acc += part;
    }
    sums[c] = float(acc);
  }
  gb.finish();
}

}  // namespace glia::kernels::cpu
