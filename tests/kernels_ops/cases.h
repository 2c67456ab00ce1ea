// The op case table of the cross-backend kernel harness (tests/kernels_ops, in the spirit
// of ggml's test-backend-ops): one small description per case (shape, parameters), plain
// data with no test code, so the benchmarks can include it too (bench/gemm.cpp runs the
// GEMM cases). Every case runs in float32 and float64 on every backend of the build (cpu,
// sim, cuda when a GPU is present, cudnn where the slot has a library variant) against a
// float64 reference, forward and backward.
//
// sim runs the CUDA kernels on the SIMT emulator in checked mode (each block three times,
// one fiber per thread): a case whose work() is above kSimMaxWork runs on cpu and the GPU
// only. Big cases are there for the CPU paths that only large shapes reach (the threaded
// GEMM split, Winograd's second channel block).
//
// Adding an op: a case struct and list here, a test file that runs the list, and the slot
// names in kHarnessSlots; registry_test fails while a registered slot is not covered.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/batch_norm.h"
#include "kernels/conv2d.h"
#include "kernels/conv_transpose2d.h"
#include "kernels/elementwise.h"
#include "kernels/pool.h"
#include "kernels/reduce.h"
#include "kernels/resample.h"

namespace glia::test::ops {

constexpr double kSimMaxWork = 1.0e6;  // multiply-adds (or elements) per case on sim

// Every slot some case below exercises. Removing an op family: delete its list, its test
// file and its names here.
inline const std::vector<std::string> kHarnessSlots = {
    "binary", "unary", "unary_backward", "fill", "copy", "reduce", "gemm",
    "softmax", "softmax_backward", "cross_entropy", "cross_entropy_backward",
    "bce_with_logits", "bce_with_logits_backward", "adam_step", "adam_multi_step", "sgd_step",
    "conv2d", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias",
    "conv_transpose2d", "conv_transpose2d_backward_input", "conv_transpose2d_backward_weight",
    "batch_norm", "batch_norm_backward",
    "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward", "global_avg_pool", "global_avg_pool_backward",
    "dropout", "dropout_backward", "stochastic_depth", "upsample2d", "upsample2d_backward",
};

// ---- GEMM (kernels/gemm.h) --------------------------------------------------------------
struct GemmCase {
  const char* name;
  int64_t m, n, k;
  bool trans_a, trans_b;
  int64_t pad;    // extra elements at the end of every stored row (lda = cols + pad, ...)
  int64_t batch;  // batch items are stored with a gap of 3 elements (not packed)
  double alpha, beta;  // beta == 0: C starts as NaN and must not be read
  int cpu_threads;     // OpenMP threads for the cpu backend (0: leave as is)
  double work() const { return double(m) * double(n) * double(k) * double(batch); }
};

inline std::vector<GemmCase> gemm_cases() {
  std::vector<GemmCase> out;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      // Odd sizes, padded rows, batch, alpha/beta; beta = 0 with NaN in C.
      out.push_back({"odd_37x53x29", 37, 53, 29, ta, tb, 3, 2, 1.5, 0.5, 0});
      out.push_back({"odd_beta0_37x53x29", 37, 53, 29, ta, tb, 1, 1, -0.75, 0.0, 0});
      // 16-byte aligned rows over more than one 128-wide tile (the GPU kernel's float4 paths);
      // k = 44 is not a multiple of its 8-deep slice.
      out.push_back({"tiles_132x136x44", 132, 136, 44, ta, tb, 4, 1, 1.0, 1.0, 0});
      // Above 2^20 multiply-adds kernels/cpu/blas.cpp splits C over the OpenMP threads in
      // slices of whole 16s: by columns when n >= m (64 + 64 + 22 with 3 threads), by rows
      // otherwise, and with 4 threads over 40 one thread gets nothing.
      out.push_back({"split_cols_37x150x200", 37, 150, 200, ta, tb, 0, 1, 1.0, 0.0, 3});
      out.push_back({"split_rows_150x37x200", 150, 37, 200, ta, tb, 3, 2, -0.5, 0.25, 3});
      out.push_back({"split_idle_40x40x700", 40, 40, 700, ta, tb, 1, 1, 2.0, 0.0, 4});
    }
  out.push_back({"one_1x1x1", 1, 1, 1, false, false, 0, 1, 2.0, 0.0, 0});
  out.push_back({"k0_5x3x0", 5, 3, 0, false, true, 1, 2, 1.0, 0.5, 0});  // C = beta * C
  out.push_back({"empty_0x4x5", 0, 4, 5, true, false, 1, 2, 1.0, 0.0, 0});  // (sim refuses lda=0 for m=0)
  return out;
}

// ---- elementwise (kernels/elementwise.h) and copy (kernels/copy.h) ----------------------
struct BinaryCase {
  const char* name;
  std::vector<int64_t> sizes, a_strides, b_strides;  // output shape; strides 0 broadcast
  int64_t a_len, b_len;
  int64_t offset;  // a and out start this many elements into their buffers (1: misaligned)
  double work() const { return double(a_len + b_len); }
};

inline const std::vector<BinaryCase> kBinaryCases = {
    {"same_1031_float4_tail", {1031}, {1}, {1}, 1031, 1031, 0},
    {"same_3x5x7_misaligned", {3, 5, 7}, {35, 7, 1}, {35, 7, 1}, 105, 105, 1},
    {"broadcast_3x1x7_by_5", {3, 5, 7}, {7, 0, 1}, {0, 1, 0}, 21, 5, 0},
    {"transposed_by_scalar", {3, 7}, {1, 3}, {0, 0}, 21, 1, 0},
    {"scalar_a_4x9", {4, 9}, {0, 0}, {9, 1}, 1, 36, 0},
    // a is a transposed [7,5,3] buffer, b every other column of a [3,5,14] buffer
    {"both_strided_3x5x7", {3, 5, 7}, {1, 3, 15}, {70, 14, 2}, 105, 210, 0},
    {"zero_dim", {}, {}, {}, 1, 1, 0},
    // At or above kernels/cpu/dispatch.h's kParallelMin (2^15) the cpu runs threaded: many
    // rows with a broadcast row, one long row, a broadcast scalar.
    {"threaded_rows_301x257", {301, 257}, {257, 1}, {0, 1}, 301 * 257, 257, 0},
    {"threaded_flat_70001", {70001}, {1}, {1}, 70001, 70001, 0},
    {"threaded_scalar_70001", {70001}, {1}, {0}, 70001, 1, 0},
};
inline const kernels::BinaryOp kBinaryOps[] = {kernels::BinaryOp::add, kernels::BinaryOp::sub,
                                               kernels::BinaryOp::mul, kernels::BinaryOp::div,
                                               kernels::BinaryOp::maximum, kernels::BinaryOp::minimum};

struct UnaryCase {
  kernels::UnaryOp op;
  double scalar;
  bool positive_input;  // log, sqrt, pow need x > 0 (then x is in [0.05, hi])
  double lo = -4.0, hi = 4.0;  // [-4, 4] crosses relu's 0 and hardswish's knees at -3 and 3
};
inline const std::vector<UnaryCase> kUnaryCases = {
    {kernels::UnaryOp::neg, 0, false},         {kernels::UnaryOp::exp, 0, false},
    {kernels::UnaryOp::log, 0, true},          {kernels::UnaryOp::sqrt, 0, true},
    {kernels::UnaryOp::abs, 0, false},         {kernels::UnaryOp::relu, 0, false},
    {kernels::UnaryOp::relu6, 0, false, -4.0, 10.0},  // and relu6's clamp at 6
    {kernels::UnaryOp::sigmoid, 0, false, -8.0, 8.0},
    {kernels::UnaryOp::silu, 0, false, -8.0, 8.0},        {kernels::UnaryOp::tanh, 0, false},
    {kernels::UnaryOp::hardswish, 0, false},   {kernels::UnaryOp::leaky_relu, 0.1, false},
    {kernels::UnaryOp::pow_scalar, 2.5, true}, {kernels::UnaryOp::add_scalar, 0.7, false},
    {kernels::UnaryOp::mul_scalar, -1.3, false},
};
// Lengths (and offsets into the buffer) every unary op runs at: a float4 body with a tail,
// a misaligned view, one element, and a length the cpu runs threaded (>= 2^15).
struct UnaryLength {
  int64_t n, offset;
};
inline const std::vector<UnaryLength> kUnaryLengths = {{517, 0}, {130, 1}, {1, 0}, {40001, 0}};

struct CopyCase {
  const char* name;
  std::vector<int64_t> sizes, src_strides, dst_strides;
  int64_t src_len, dst_len, dst_offset;  // elements of dst outside the view keep their value
};
inline const std::vector<CopyCase> kCopyCases = {
    {"permuted_read_5x7x3", {5, 7, 3}, {1, 15, 5}, {21, 3, 1}, 105, 105, 0},
    {"into_narrowed_view_5x7of9x3", {5, 7, 3}, {21, 3, 1}, {27, 3, 1}, 105, 135, 6},
    {"transposed_11x7", {11, 7}, {1, 11}, {7, 1}, 77, 77, 0},
    {"contiguous_1029", {1029}, {1}, {1}, 1029, 1029, 0},
    {"broadcast_and_stride2_3x4x5", {3, 4, 5}, {10, 0, 2}, {20, 5, 1}, 30, 60, 0},
    // threaded on the cpu (>= 2^15 elements): one long row, many rows, a transposed matrix
    {"threaded_flat_70001", {70001}, {1}, {1}, 70001, 70001, 0},
    {"threaded_rows_300x257", {300, 257}, {257, 1}, {257, 1}, 300 * 257, 300 * 257, 0},
    {"threaded_transposed_300x257", {300, 257}, {1, 300}, {257, 1}, 300 * 257, 300 * 257, 0},
    {"empty_0x3", {0, 3}, {3, 1}, {3, 1}, 1, 1, 0},
    {"zero_dim", {}, {}, {}, 1, 1, 0},
};

// ---- reductions and softmax family (kernels/reduce.h, kernels/softmax.h) ----------------
struct RowsCase {  // a contiguous [outer, dim, inner] buffer reduced over dim
  const char* name;
  int64_t outer, dim, inner;
  double work() const { return double(outer) * double(dim) * double(inner); }
};
// Rows shorter and longer than a GPU block; columns with one and two 32-wide tiles, and
// with fewer reduce elements than the 8 slices of a column block; a row longer than the
// CPU's vector chunks.
inline const std::vector<RowsCase> kReduceCases = {
    {"rows_3x37", 3, 37, 1},         {"rows_2x700", 2, 700, 1},     {"columns_3x37x5", 3, 37, 5},
    {"columns_2x19x45", 2, 19, 45},  {"columns_2x3x33", 2, 3, 33},  {"single_1x1x1", 1, 1, 1},
    {"long_row_1x4099", 1, 4099, 1}, {"single_3x1x4", 3, 1, 4},
    // cpu paths: lane blocks of 64 with a remainder; rows of several 4096 chunks; at or
    // above 2^15 elements threaded rows, a threaded long row and threaded columns.
    {"lanes_4x33x70", 4, 33, 70},    {"chunks_2x10001", 2, 10001, 1}, {"threaded_rows_40x3001", 40, 3001, 1},
    {"threaded_row_1x150001", 1, 150001, 1}, {"threaded_columns_3x200x131", 3, 200, 131},
};
inline const kernels::ReduceOp kReduceOps[] = {kernels::ReduceOp::sum, kernels::ReduceOp::mean, kernels::ReduceOp::max,
                                               kernels::ReduceOp::min, kernels::ReduceOp::argmax};
inline const std::vector<RowsCase> kSoftmaxCases = {
    {"classes_4x10", 4, 10, 1}, {"wide_3x1000", 3, 1000, 1}, {"channels_2x5x33", 2, 5, 33}, {"one_class_3x1", 3, 1, 1},
    // cpu paths: lane blocks of 32 with a remainder, one class with inner > 1, and
    // threaded (>= 2^15 elements) columns and rows.
    {"lanes_2x3x70", 2, 3, 70}, {"one_class_5x1x3", 5, 1, 3}, {"threaded_columns_4x201x41", 4, 201, 41},
    {"threaded_rows_80x411", 80, 411, 1},
};

struct CrossEntropyCase {
  const char* name;
  int64_t n, classes;
  bool prob_targets;
  double label_smoothing;
};
inline const std::vector<CrossEntropyCase> kCrossEntropyCases = {
    {"index_5x4", 5, 4, false, 0.0},     {"index_smooth_5x4", 5, 4, false, 0.1},
    {"prob_5x4", 5, 4, true, 0.0},       {"prob_smooth_3x300", 3, 300, true, 0.1},
    {"index_smooth_3x300", 3, 300, false, 0.1},
};
inline const std::vector<int64_t> kBceLengths = {1001, 7};

// ---- optimizers (kernels/optim.h): three steps from the same state ----------------------
struct AdamCase {
  const char* name;
  int64_t n;
  double lr, weight_decay;
  bool decoupled;
};
inline const std::vector<AdamCase> kAdamCases = {
    {"l2_1037", 1037, 1e-2, 0.1, false}, {"decoupled_1037", 1037, 1e-2, 0.1, true}, {"plain_5", 5, 1e-3, 0.0, false}};
// Multi-tensor Adam: tensor sizes of one call (steps differ per tensor: 1 + i % 3). The
// GPU kernel takes 4096-element chunks and tables of up to 32 tensors, or up to 448.
struct AdamMultiCase {
  const char* name;
  std::vector<int64_t> sizes;
  double lr, weight_decay;
  bool decoupled;
};
inline std::vector<AdamMultiCase> adam_multi_cases() {
  std::vector<AdamMultiCase> out;
  out.push_back({"chunks_7", {1, 4096, 4097, 0, 9000, 31, 5}, 1e-2, 0.1, false});
  std::vector<int64_t> many;  // the large table
  for (int i = 0; i < 33; ++i) many.push_back(1 + 37 * i);
  out.push_back({"tensors_33_decoupled", many, 1e-3, 0.05, true});
  return out;
}
struct SgdCase {
  const char* name;
  int64_t n;
  double lr, momentum, dampening, weight_decay;
  bool nesterov;
};
inline const std::vector<SgdCase> kSgdCases = {{"nesterov_1037", 1037, 0.05, 0.9, 0.0, 1e-3, true},
                                               {"momentum_damped_513", 513, 0.1, 0.8, 0.2, 0.0, false},
                                               {"plain_7", 7, 0.1, 0.0, 0.0, 0.01, false}};

// ---- convolutions (kernels/conv2d.h, kernels/conv_transpose2d.h) ------------------------
struct Conv2dCase {
  const char* name;
  kernels::Conv2dShape shape;
  bool bias;
  double work() const {
    const auto& s = shape;
    return double(s.n * s.c_out * s.h_out() * s.w_out()) * double(s.c_in / s.groups * s.kh * s.kw);
  }
};

// n, c_in, h, w, c_out, k, stride, pad (all sides), dilation, groups.
inline kernels::Conv2dShape conv_shape(int64_t n, int64_t ci, int64_t h, int64_t w, int64_t co, int64_t k,
                                       int64_t stride, int64_t pad, int64_t dil = 1, int64_t groups = 1) {
  kernels::Conv2dShape s;
  s.n = n, s.c_in = ci, s.h_in = h, s.w_in = w, s.c_out = co, s.kh = k, s.kw = k;
  s.stride_h = s.stride_w = stride;
  s.pad_top = s.pad_bottom = s.pad_left = s.pad_right = pad;
  s.dilation_h = s.dilation_w = dil;
  s.groups = groups;
  return s;
}
inline kernels::Conv2dShape with_padding(kernels::Conv2dShape s, int64_t top, int64_t bottom, int64_t left,
                                         int64_t right) {
  s.pad_top = top, s.pad_bottom = bottom, s.pad_left = left, s.pad_right = right;
  return s;
}

// TensorFlow "same" padding (the odd pixel after), as EfficientNet's stride-2 convs use.
inline kernels::Conv2dShape same_padded(kernels::Conv2dShape s) {
  const auto ph = kernels::same_padding(s.h_in, s.kh, s.stride_h, s.dilation_h);
  const auto pw = kernels::same_padding(s.w_in, s.kw, s.stride_w, s.dilation_w);
  return with_padding(s, ph.before, ph.after, pw.before, pw.after);
}
// kh 3 x kw 2, stride 2 x 1, padding 1/1 rows and 0/2 columns (rectangular everything).
inline kernels::Conv2dShape rect_kernel(kernels::Conv2dShape s) {
  s.kw = 2, s.stride_h = 2, s.stride_w = 1;
  return with_padding(s, 1, 1, 0, 2);
}

inline const std::vector<Conv2dCase> kConv2dCases = {
    {"3x3_5to6", conv_shape(3, 5, 7, 9, 6, 3, 1, 1), true},
    {"3x3s2_6to10", conv_shape(3, 6, 9, 7, 10, 3, 2, 1), false},
    {"3x3_dilated2", conv_shape(3, 5, 9, 11, 3, 3, 1, 2, 2), true},
    {"3x3_groups2", conv_shape(3, 6, 7, 5, 10, 3, 1, 1, 1, 2), true},
    {"1x1_groups2_14to70", conv_shape(1, 14, 5, 3, 70, 1, 1, 0, 1, 2), false},  // > one 64-row tile
    {"3x3s2_same_9x8", with_padding(conv_shape(3, 5, 9, 8, 7, 3, 2, 0), 1, 1, 0, 1), true},
    {"4x4_pad1_2", with_padding(conv_shape(3, 3, 7, 7, 5, 4, 1, 0), 1, 2, 1, 2), false},
    {"1x1_7to11", conv_shape(3, 7, 5, 9, 11, 1, 1, 0), true},
    {"1x1s2_8to4", conv_shape(2, 8, 7, 6, 4, 1, 2, 0), false},
    {"dw3x3s1", conv_shape(3, 7, 9, 7, 7, 3, 1, 1, 1, 7), true},
    {"dw3x3s2", conv_shape(3, 7, 9, 7, 7, 3, 2, 1, 1, 7), false},
    {"dw5x5s1", conv_shape(3, 5, 11, 9, 5, 5, 1, 2, 1, 5), true},
    {"dw5x5s2", conv_shape(3, 5, 11, 9, 5, 5, 2, 2, 1, 5), false},
    {"dw5x5s2_same", with_padding(conv_shape(3, 6, 8, 10, 6, 5, 2, 0, 1, 6), 1, 2, 1, 2), true},
    {"dw3x3_dilated2", conv_shape(3, 5, 9, 9, 5, 3, 1, 2, 2, 5), false},
    {"dw4x4_pad1_2", with_padding(conv_shape(3, 5, 7, 9, 5, 4, 1, 0, 1, 5), 1, 2, 1, 2), true},
    {"dw_multiplier2", conv_shape(3, 3, 7, 5, 6, 3, 1, 1, 1, 3), true},
    // No padding, a dense 5x5, a rectangular kernel and stride, padding wider than the
    // kernel's reach, and a kernel as large as the input (one output pixel).
    {"3x3_unpadded", conv_shape(3, 5, 7, 9, 6, 3, 1, 0), true},
    {"5x5s2_same", same_padded(conv_shape(2, 3, 9, 8, 4, 5, 2, 0)), false},
    {"3x2_s2x1_rect", rect_kernel(conv_shape(3, 5, 7, 9, 6, 3, 1, 1)), true},
    {"dw3x3_unpadded", conv_shape(2, 5, 7, 9, 5, 3, 1, 0, 1, 5), true},
    {"dw5x5s2_unpadded", conv_shape(2, 5, 11, 12, 5, 5, 2, 0, 1, 5), true},
    {"dw3x3_pad3", conv_shape(2, 3, 5, 6, 3, 3, 1, 3, 1, 3), true},
    {"kernel_equals_input_5x5", conv_shape(2, 3, 5, 5, 4, 5, 1, 0), true},
    // Depthwise rows wide enough for the cpu's vector blocks (16 f32 / 8 f64 outputs per
    // block) with a partial last block, and a row narrower than the kernel.
    {"dw3x3s1_wide41", same_padded(conv_shape(2, 3, 5, 41, 3, 3, 1, 0, 1, 3)), true},
    {"dw3x3s2_wide70", same_padded(conv_shape(2, 3, 6, 70, 3, 3, 2, 0, 1, 3)), true},
    {"dw5x5s1_wide37", same_padded(conv_shape(2, 3, 6, 37, 3, 5, 1, 0, 1, 3)), true},
    {"dw5x5s2_wide45", same_padded(conv_shape(2, 3, 7, 45, 3, 5, 2, 0, 1, 3)), false},
    {"dw3x3s2_narrow_w2", same_padded(conv_shape(3, 4, 9, 2, 4, 3, 2, 0, 1, 4)), true},
    // The GPU depthwise weight gradient splits N*Ho*Wo over blocks when the channels are
    // few (slices of >= 1024 pixels merged in a fixed order): 3 slices, the last partial;
    // a 7x7 kernel is two tap chunks (25 + 24) of the one-pass kernel.
    {"dw3x3_weight_split3", conv_shape(2, 3, 40, 36, 3, 3, 1, 1, 1, 3), false},
    {"dw7x7_tap_chunks_split", conv_shape(2, 2, 33, 31, 2, 7, 1, 3, 1, 2), true},
    // Winograd F(2x2, 3x3) on cpu (3x3 stride 1 pad 1, >= 16 channels): odd sizes, and more
    // than 64 input channels (its second, partial channel block), 130 -> 72.
    {"winograd_16to20_odd", conv_shape(2, 16, 9, 7, 20, 3, 1, 1), true},
    {"winograd_130to72", conv_shape(2, 130, 10, 9, 72, 3, 1, 1), true},
    // cuda runs float32 1x1 stride-1 convs as batched 128 x 128 SGEMMs: two row tiles
    // (C_out 130) with float4 rows (HW 32), a bias with odd HW (scalar loads); a strided
    // 1x1 stays on the implicit GEMM.
    {"1x1_gemm_9to130", conv_shape(2, 9, 4, 8, 130, 1, 1, 0), false},
    {"1x1_gemm_bias_hw15", conv_shape(2, 5, 3, 5, 7, 1, 1, 0), true},
    {"1x1s2_gemm_fallback", conv_shape(2, 6, 5, 5, 4, 1, 2, 0), true},
};

struct ConvTranspose2dCase {
  const char* name;
  kernels::ConvTranspose2dShape shape;
  bool bias;
  double work() const {
    const auto& s = shape;
    return double(s.n * s.c_in * s.h_in * s.w_in) * double(s.c_out * s.kh * s.kw);
  }
};
// n, c_in, h, w, c_out, k, stride, pad, output padding.
inline kernels::ConvTranspose2dShape up_shape(int64_t n, int64_t ci, int64_t h, int64_t w, int64_t co, int64_t k,
                                              int64_t stride, int64_t pad, int64_t out_pad) {
  kernels::ConvTranspose2dShape s;
  s.n = n, s.c_in = ci, s.h_in = h, s.w_in = w, s.c_out = co, s.kh = s.kw = k;
  s.stride_h = s.stride_w = stride;
  s.pad_h = s.pad_w = pad;
  s.output_pad_h = s.output_pad_w = out_pad;
  return s;
}
inline kernels::ConvTranspose2dShape rows_dilated(kernels::ConvTranspose2dShape s) {
  s.kw = 2, s.stride_w = 1, s.pad_w = 0, s.output_pad_w = 0, s.dilation_h = 2;
  return s;
}
// kh 3 x kw 2, stride 2 x 3, output padding 1 x 2 (rectangular everything).
inline kernels::ConvTranspose2dShape rect_transpose(kernels::ConvTranspose2dShape s) {
  s.kw = 2, s.stride_w = 3, s.pad_w = 0, s.output_pad_w = 2;
  return s;
}
inline kernels::ConvTranspose2dShape dilated_transpose(kernels::ConvTranspose2dShape s) {
  s.dilation_h = s.dilation_w = 2;
  return s;
}
inline const std::vector<ConvTranspose2dCase> kConvTranspose2dCases = {
    {"k2s2_6to5", up_shape(3, 6, 5, 7, 5, 2, 2, 0, 0), true},
    {"k3s2_p1_op1", up_shape(3, 5, 5, 3, 7, 3, 2, 1, 1), true},
    {"k3s2_p0_op1", up_shape(3, 4, 3, 5, 3, 3, 2, 0, 1), false},
    {"k3x2_dilated_rows", rows_dilated(up_shape(3, 3, 4, 5, 5, 3, 2, 1, 0)), true},
    {"k2s2_40to24", up_shape(2, 40, 6, 6, 24, 2, 2, 0, 0), true},
    {"k3s2_p1", up_shape(3, 5, 7, 9, 6, 3, 2, 1, 0), true},
    {"k3s1_p1", up_shape(2, 4, 5, 7, 3, 3, 1, 1, 0), false},
    {"k3x2_s2x3_op1x2", rect_transpose(up_shape(2, 3, 5, 4, 5, 3, 2, 1, 1)), true},
    {"k3s1_dilated2", dilated_transpose(up_shape(2, 3, 4, 5, 2, 3, 1, 1, 0)), true},
};

// ---- batch norm (kernels/batch_norm.h) ---------------------------------------------------
struct BatchNormCase {
  const char* name;
  int64_t n, c, hw;
  bool training, affine;
  double offset;  // added to x: |mean| >> std checks the variance for cancellation
  kernels::NormActivation act;
  bool residual;  // relu(bn(x) + r)
};
inline const std::vector<BatchNormCase> kBatchNormCases = {
    {"train_3x5x35", 3, 5, 35, true, true, 0.0, kernels::NormActivation::identity, false},
    {"train_hw1_no_affine", 3, 7, 1, true, false, 0.0, kernels::NormActivation::identity, false},
    {"train_offset100", 3, 3, 77, true, true, 100.0, kernels::NormActivation::identity, false},
    {"eval_3x5x35", 3, 5, 35, false, true, 0.0, kernels::NormActivation::identity, false},
    {"eval_no_affine", 3, 6, 9, false, false, 0.0, kernels::NormActivation::identity, false},
    {"train_relu", 3, 5, 35, true, true, 0.0, kernels::NormActivation::relu, false},
    {"eval_relu", 2, 4, 9, false, true, 0.0, kernels::NormActivation::relu, false},
    {"train_silu", 3, 5, 35, true, true, 0.0, kernels::NormActivation::silu, false},
    {"eval_silu", 2, 4, 9, false, true, 0.0, kernels::NormActivation::silu, false},
    {"train_silu_no_affine", 3, 3, 10, true, false, 0.0, kernels::NormActivation::silu, false},
    {"train_relu_residual", 3, 5, 35, true, true, 0.0, kernels::NormActivation::relu, true},
    {"eval_relu_residual", 2, 4, 9, false, true, 0.0, kernels::NormActivation::relu, true},
    // Channels of more than 4096 values (kernels/cuda/batch_norm.cu's kSplitChunk) take the
    // split path: several blocks per channel merged in a fixed order; hw % 4 == 0 runs its
    // float4 loads, odd hw the scalar ones; the last run is partial in both.
    {"train_split_float4", 2, 3, 2500, true, true, 50.0, kernels::NormActivation::identity, false},
    {"train_split_scalar", 3, 2, 1501, true, false, 0.0, kernels::NormActivation::identity, false},
    {"train_split_silu", 2, 2, 2500, true, true, 0.0, kernels::NormActivation::silu, false},
    {"train_split_relu_residual", 2, 2, 2500, true, true, 0.0, kernels::NormActivation::relu, true},
};

// ---- pooling (kernels/pool.h) ------------------------------------------------------------
struct Pool2dCase {
  const char* name;
  kernels::Pool2dShape shape;
};
inline kernels::Pool2dShape pool_shape(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t stride,
                                       int64_t pad) {
  kernels::Pool2dShape s;
  s.n = n, s.c = c, s.h_in = h, s.w_in = w, s.kh = s.kw = k, s.stride_h = s.stride_w = stride, s.pad_h = s.pad_w = pad;
  return s;
}
inline const std::vector<Pool2dCase> kPool2dCases = {
    {"k2s2_odd", pool_shape(3, 4, 9, 7, 2, 2, 0)},
    {"k3s2_pad1", pool_shape(2, 3, 8, 9, 3, 2, 1)},
    {"k3s1_pad1_overlap", pool_shape(2, 3, 5, 6, 3, 1, 1)},
    {"k3s3_tiling", pool_shape(3, 5, 7, 9, 3, 3, 0)},  // windows that tile, rows left over
    {"k5s2_pad2", pool_shape(2, 3, 11, 8, 5, 2, 2)},
};
struct AdaptivePoolCase {
  const char* name;
  int64_t n, c, h_in, w_in, h_out, w_out;
};
inline const std::vector<AdaptivePoolCase> kAdaptivePoolCases = {
    {"7x9_to_3x4", 2, 3, 7, 9, 3, 4}, {"5x5_to_1x1", 2, 3, 5, 5, 1, 1}, {"4x6_to_4x6", 1, 2, 4, 6, 4, 6},
    {"7x9_to_5x2", 2, 3, 7, 9, 5, 2},  // overlapping windows
    {"7x9_to_9x10", 2, 3, 7, 9, 9, 10},  // more outputs than inputs: windows of one repeat
};
struct GlobalPoolCase {
  const char* name;
  int64_t n, c, hw;
};
inline const std::vector<GlobalPoolCase> kGlobalPoolCases = {{"3x5x49", 3, 5, 49}, {"2x7x1", 2, 7, 1}, {"1x3x1030", 1, 3, 1030}};

// ---- dropout and resampling (kernels/dropout.h, kernels/resample.h) ----------------------
struct DropoutCase {
  const char* name;
  int64_t n;
  double p;
  uint64_t seed, offset;
};
inline const std::vector<DropoutCase> kDropoutCases = {
    {"p0_1001", 1001, 0.0, 1234, 77}, {"p03_1001", 1001, 0.3, 1234, 77}, {"p05_13", 13, 0.5, 7, 0},
    {"p1_1001", 1001, 1.0, 1234, 77},
};
struct StochasticDepthCase {
  const char* name;
  int64_t batch, per_sample;
  double p;
  uint64_t seed, offset;
};
inline const std::vector<StochasticDepthCase> kStochasticDepthCases = {
    {"p04_9x35", 9, 35, 0.4, 99, 5}, {"p0_4x7", 4, 7, 0.0, 1, 0}, {"p1_3x5", 3, 5, 1.0, 1, 0}};
struct UpsampleCase {
  const char* name;
  kernels::UpsampleMode mode;
  int64_t n, c, h, w, scale;
};
inline const std::vector<UpsampleCase> kUpsampleCases = {
    {"nearest_x2", kernels::UpsampleMode::nearest, 3, 3, 5, 7, 2},
    {"nearest_x3", kernels::UpsampleMode::nearest, 2, 2, 4, 3, 3},
    {"bilinear_x2", kernels::UpsampleMode::bilinear, 3, 3, 5, 7, 2},
    {"bilinear_x3", kernels::UpsampleMode::bilinear, 2, 2, 4, 3, 3},
    {"bilinear_x2_1x1", kernels::UpsampleMode::bilinear, 1, 2, 1, 1, 2},
};

}  // namespace glia::test::ops
