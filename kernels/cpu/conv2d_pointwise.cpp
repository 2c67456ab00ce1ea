// 1x1 convs on small planes as one GEMM over many images. A pointwise conv of one image is
// the GEMM W[O, C] x X[C, P]; in EfficientNet's late stages P is 5x5 to 20x20 pixels
// while C is up to 1920, so a GEMM per image has 25-400 columns, and OpenBLAS packs all of
// W again for each of them: at 160 px, batch 32, these convs ran at ~50 GFLOP/s on two
// AVX-512 cores, half of B1's training step. Here a chunk of images is gathered into one
// [C, images * P] matrix (NCHW keeps each image's [C, P] block apart), multiplied once,
// and the result scattered back. The copies cost a pass over the inputs and outputs,
// small beside a GEMM whose reduction is C long.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/conv2d_internal.h"

namespace glia::kernels::cpu::conv_detail {

namespace {

// Planes below this many pixels go through the batched path; at 512 a GEMM per image
// already has enough columns.
constexpr int64_t kBatchBelowPixels = 512;
// Elements of the larger gathered matrix per chunk (16 MiB of f32): B1's largest at
// 160 px, batch 32 (1920 channels x 25 pixels x 32 images) is one chunk.
int64_t pointwise_budget = int64_t(1) << 22;

// Images of a chunk for `channels` planes of `pixels` each.
int64_t images_per_chunk(int64_t channels, int64_t pixels) {
  return std::max<int64_t>(1, pointwise_budget / std::max<int64_t>(1, channels * pixels));
}

// dst[c, i * P + p] = src[(n0 + i), c, p] for i < count: images n0.. side by side.
template <class T>
void gather_images(const T* src, int64_t channels, int64_t pixels, int64_t n0, int64_t count, T* dst) {
  const int64_t row = count * pixels;
#pragma omp parallel for schedule(static) if (channels * row > 65536)
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i = 0; i < count; ++i)
      std::memcpy(dst + c * row + i * pixels, src + ((n0 + i) * channels + c) * pixels, sizeof(T) * pixels);
}

// The inverse of gather_images.
template <class T>
void scatter_images(const T* src, int64_t channels, int64_t pixels, int64_t n0, int64_t count, T* dst) {
  const int64_t row = count * pixels;
#pragma omp parallel for schedule(static) if (channels * row > 65536)
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i = 0; i < count; ++i)
      std::memcpy(dst + ((n0 + i) * channels + c) * pixels, src + c * row + i * pixels, sizeof(T) * pixels);
}

// Calls fn(n0, count) for the chunks of images.
template <class Fn>
void for_image_chunks(const Conv2dShape& s, Fn&& fn) {
  const int64_t per_chunk = images_per_chunk(std::max(s.c_in, s.c_out), s.h_in * s.w_in);
  for (int64_t n0 = 0; n0 < s.n; n0 += per_chunk) fn(n0, std::min(per_chunk, s.n - n0));
}

// out[n] = op(W) x in[n] for every image, a chunk of images per GEMM: W is [C_out, C_in];
// the forward multiplies by W (in: x, out: y), the backward to the input by W^T (in: gy,
// out: gx).
template <class T>
void multiply_images(const Conv2dShape& s, bool transpose_w, const T* w, const T* in, int64_t in_channels, T* out,
                     int64_t out_channels) {
  const int64_t P = s.h_in * s.w_in;
  for_image_chunks(s, [&](int64_t n0, int64_t count) {
    const int64_t len = count * P;
    T* in_b = scratch<T>(size_t(in_channels * len), 0);
    T* out_b = scratch<T>(size_t(out_channels * len), 1);
    gather_images(in, in_channels, P, n0, count, in_b);
    gemm<T>(transpose_w, false, out_channels, len, in_channels, T(1), w, s.c_in, in_b, len, T(0), out_b, len);
    scatter_images(out_b, out_channels, P, n0, count, out);
  });
}

}  // namespace

bool pointwise_batch_applies(const Conv2dShape& s) {
  return is_pointwise(s) && s.groups == 1 && s.n > 1 && s.h_in * s.w_in < kBatchBelowPixels;
}

int64_t set_pointwise_batch_budget(int64_t elements) {
  const int64_t old = pointwise_budget;
  pointwise_budget = elements;
  return old;
}

template <class T>
void pointwise_batched_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  multiply_images(s, false, w, x, s.c_in, y, s.c_out);
  add_bias(s.n, s.c_out, s.h_in * s.w_in, bias, y);
}

template <class T>
void pointwise_batched_backward_input(const Conv2dShape& s, const T* gy, const T* w, T* gx) {
  multiply_images(s, true, w, gy, s.c_out, gx, s.c_in);
}

template <class T>
void pointwise_batched_backward_weight(const Conv2dShape& s, const T* x, const T* gy, T* gw) {
  const int64_t P = s.h_in * s.w_in;
  for_image_chunks(s, [&](int64_t n0, int64_t count) {
    const int64_t len = count * P;
    T* gyb = scratch<T>(size_t(s.c_out * len), 0);
    T* xb = scratch<T>(size_t(s.c_in * len), 1);
    gather_images(gy, s.c_out, P, n0, count, gyb);
    gather_images(x, s.c_in, P, n0, count, xb);
    gemm<T>(false, true, s.c_out, s.c_in, len, T(1), gyb, len, xb, len, n0 == 0 ? T(0) : T(1), gw, s.c_in);
  });
}

#define GLIA_POINTWISE_INSTANTIATE(T)                                                                  \
  template void pointwise_batched_forward<T>(const Conv2dShape&, const T*, const T*, const T*, T*);   \
  template void pointwise_batched_backward_input<T>(const Conv2dShape&, const T*, const T*, T*);      \
  template void pointwise_batched_backward_weight<T>(const Conv2dShape&, const T*, const T*, T*);
GLIA_POINTWISE_INSTANTIATE(float)
GLIA_POINTWISE_INSTANTIATE(double)
#undef GLIA_POINTWISE_INSTANTIATE

}  // namespace glia::kernels::cpu::conv_detail
