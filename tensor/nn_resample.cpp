// Up-sampling. By an integer factor s (out = s * in on both axes; bilinear without
// align_corners) it runs the device's upsample2d kernels (kernels/resample.h): one pass
// that writes each output once, and a backward that sums each s x s block. Any other size
// is two small matrix products out = A_h · x · A_wᵀ, where row i of A_h holds the
// interpolation weights of output row i (one 1 for nearest, two weights for bilinear);
// exact for nearest, and the backward is matmul's.
#include <cmath>

#include "kernels/resample.h"
#include "tensor/autograd.h"
#include "tensor/nn_ops.h"
#include "tensor/ops.h"

namespace glia {
namespace {

// [out, in] nearest-neighbour selection: source floor(i * in / out), as PyTorch 'nearest'.
std::vector<double> nearest_matrix(int64_t in, int64_t out) {
  std::vector<double> a(static_cast<size_t>(in * out), 0.0);
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (int64_t i = 0; i < out; ++i) {
    int64_t src = std::min<int64_t>(static_cast<int64_t>(std::floor(i * scale)), in - 1);
    a[static_cast<size_t>(i * in + src)] = 1.0;
  }
  return a;
}

// [out, in] linear interpolation weights, PyTorch's source-index convention.
std::vector<double> linear_matrix(int64_t in, int64_t out, bool align_corners) {
  std::vector<double> a(static_cast<size_t>(in * out), 0.0);
  for (int64_t i = 0; i < out; ++i) {
    double src;
    if (align_corners) {
      src = out > 1 ? static_cast<double>(i) * static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0;
    } else {
      src = (static_cast<double>(i) + 0.5) * static_cast<double>(in) / static_cast<double>(out) - 0.5;
      if (src < 0) src = 0;
    }
    int64_t i0 = std::min<int64_t>(static_cast<int64_t>(std::floor(src)), in - 1);
    int64_t i1 = std::min<int64_t>(i0 + 1, in - 1);
    double f = src - static_cast<double>(i0);
    a[static_cast<size_t>(i * in + i0)] += 1.0 - f;
    a[static_cast<size_t>(i * in + i1)] += f;
  }
  return a;
}

Tensor resample(const Tensor& x, int64_t out_h, int64_t out_w, const std::vector<double>& ah,
                const std::vector<double>& aw) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  Tensor mh = from_vector(ah, {out_h, h}, x.dtype(), x.device());
  Tensor mw = from_vector(aw, {out_w, w}, x.dtype(), x.device());
  Tensor flat = x.reshape({n * c, h, w});
  Tensor y = matmul(matmul(mh, flat), mw.transpose(0, 1));
  return y.reshape({n, c, out_h, out_w});
}

// The common integer factor of both axes, or 0 when there is none.
int64_t integer_scale(const Tensor& x, int64_t out_h, int64_t out_w) {
  const int64_t h = x.size(2), w = x.size(3);
  if (h == 0 || w == 0 || out_h % h != 0 || out_w % w != 0 || out_h / h != out_w / w) return 0;
  return out_h / h;
}

Tensor upsample_by_kernel(const Tensor& x, kernels::UpsampleMode mode, int64_t scale) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  Tensor xc = x.contiguous();
  Tensor y = empty({n, c, h * scale, w * scale}, x.dtype(), x.device());
  kernels::Upsample2dParams p{x.dtype(), mode, n, c, h, w, scale, xc.data_ptr(), y.data_ptr()};
  if (y.numel() > 0) kernels::select(kernels::upsample2d_kernel, x.device())(p);
  const char* name = mode == kernels::UpsampleMode::nearest ? "upsample_nearest2d" : "upsample_bilinear2d";
  record(name, y, {x}, {}, [mode, n, c, h, w, scale](const Tensor& g, const FunctionNode&) {
    Tensor gy = g.contiguous();
    Tensor gx = empty({n, c, h, w}, gy.dtype(), gy.device());
    kernels::Upsample2dBackwardParams b{gy.dtype(), mode, n, c, h, w, scale, gy.data_ptr(), gx.data_ptr()};
    if (gx.numel() > 0) kernels::select(kernels::upsample2d_backward_kernel, gy.device())(b);
    return std::vector<Tensor>{gx};
  });
  return y;
}

void check_input(const char* op, const Tensor& x, int64_t out_h, int64_t out_w) {
  GLIA_CHECK(x.defined(), op << ": input is undefined");
  GLIA_CHECK(x.dim() == 4, op << ": input must be [N, C, H, W], got " << shape_str(x.sizes()));
  GLIA_CHECK(is_floating(x.dtype()), op << ": input dtype " << dtype_name(x.dtype()) << " is not floating point");
  GLIA_CHECK(out_h >= 1 && out_w >= 1, op << ": output size " << out_h << "x" << out_w << " must be positive");
}

}  // namespace

Tensor upsample_nearest2d(const Tensor& x, int64_t out_h, int64_t out_w) {
  check_input("upsample_nearest2d", x, out_h, out_w);
  if (const int64_t s = integer_scale(x, out_h, out_w); s > 0 && x.size(1) > 0)
    return upsample_by_kernel(x, kernels::UpsampleMode::nearest, s);
  return resample(x, out_h, out_w, nearest_matrix(x.size(2), out_h),
                  nearest_matrix(x.size(3), out_w));
}

Tensor upsample_bilinear2d(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners) {
  check_input("upsample_bilinear2d", x, out_h, out_w);
  // align_corners maps the corner pixels onto each other, which no integer factor does.
  if (const int64_t s = integer_scale(x, out_h, out_w); s > 0 && x.size(1) > 0 && !align_corners)
    return upsample_by_kernel(x, kernels::UpsampleMode::bilinear, s);
  return resample(x, out_h, out_w, linear_matrix(x.size(2), out_h, align_corners),
                  linear_matrix(x.size(3), out_w, align_corners));
}

}  // namespace glia
