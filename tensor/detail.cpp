// Shared helpers of the op files: checks with clear messages, broadcasting, kernel calls
// that every family needs (strided copy, fill), sum_to.
#include "tensor/detail.h"

#include <algorithm>

#include "kernels/reduce.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"

namespace glia::detail {

void check_defined(const char* op, const Tensor& t, const char* what) {
  GLIA_CHECK(t.defined(), op << ": " << what << " is an undefined Tensor");
}

void check_compatible(const char* op, const Tensor& a, const Tensor& b) {
  check_defined(op, a, "first input");
  check_defined(op, b, "second input");
  GLIA_CHECK(a.device() == b.device(), op << ": tensors on different devices: " << device_name(a.device())
                                          << " (shape " << shape_str(a.sizes()) << ") and "
                                          << device_name(b.device()) << " (shape " << shape_str(b.sizes())
                                          << "); move one with .to(device)");
  GLIA_CHECK(a.dtype() == b.dtype(), op << ": tensors of different dtypes: " << dtype_name(a.dtype()) << " (shape "
                                        << shape_str(a.sizes()) << ") and " << dtype_name(b.dtype()) << " (shape "
                                        << shape_str(b.sizes()) << "); convert one with .to(dtype)");
}

void check_floating(const char* op, const Tensor& t) {
  GLIA_CHECK(is_floating(t.dtype()), op << ": needs a floating-point tensor, got " << dtype_name(t.dtype())
                                        << " of shape " << shape_str(t.sizes()));
}

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t sa = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t sb = i < n - b.size() ? 1 : b[i - (n - b.size())];
    GLIA_CHECK(sa == sb || sa == 1 || sb == 1, op << ": shapes " << shape_str(a) << " and " << shape_str(b)
                                                  << " cannot be broadcast together (dim " << i << ": " << sa
                                                  << " vs " << sb << ")");
    out[i] = sa == 1 ? sb : sa;
  }
  return out;
}

Shape broadcast_strides(const Tensor& t, const Shape& out) {
  Shape strides(out.size(), 0);
  const size_t lead = out.size() - static_cast<size_t>(t.dim());
  for (size_t i = 0; i < static_cast<size_t>(t.dim()); ++i) {
    strides[lead + i] = t.sizes()[i] == 1 ? 0 : t.strides()[i];
  }
  return strides;
}

int fill_dims(const Shape& sizes, int64_t* out) {
  GLIA_CHECK(sizes.size() <= static_cast<size_t>(kernels::kMaxDims),
             "shape " << shape_str(sizes) << " has more than " << kernels::kMaxDims << " dims");
  if (sizes.empty()) {
    out[0] = 1;
    return 1;
  }
  std::copy(sizes.begin(), sizes.end(), out);
  return static_cast<int>(sizes.size());
}

int fill_strides(const Shape& strides, int64_t* out) {
  if (strides.empty()) {
    out[0] = 0;
    return 1;
  }
  std::copy(strides.begin(), strides.end(), out);
  return static_cast<int>(strides.size());
}

void copy_into(const Tensor& dst, const Tensor& src) {
  GLIA_CHECK(dst.device() == src.device(), "copy: source on " << device_name(src.device()) << ", destination on "
                                                              << device_name(dst.device()));
  GLIA_CHECK(dst.sizes() == src.sizes(), "copy: source shape " << shape_str(src.sizes())
                                                               << " differs from destination shape "
                                                               << shape_str(dst.sizes()));
  if (dst.numel() == 0) return;
  kernels::CopyParams p;
  p.src_dtype = src.dtype();
  p.dst_dtype = dst.dtype();
  p.ndim = fill_dims(dst.sizes(), p.sizes);
  fill_strides(src.strides(), p.src_strides);
  fill_strides(dst.strides(), p.dst_strides);
  p.numel = dst.numel();
  p.src = src.data_ptr();
  p.dst = dst.data_ptr();
  kernels::select(kernels::copy_kernel, dst.device())(p);
}

void fill_contiguous(const Tensor& dst, double value) {
  if (dst.numel() == 0) return;
  kernels::FillParams p;
  p.dtype = dst.dtype();
  p.value = value;
  p.n = dst.numel();
  p.out = dst.data_ptr();
  kernels::select(kernels::fill_kernel, dst.device())(p);
}

Tensor make_view(const Tensor& t, const Shape& sizes, const Shape& strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.storage();
  impl->sizes = sizes;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = t.dtype();
  return Tensor(std::move(impl));
}

std::vector<int64_t> normalize_dims(const char* op, const std::vector<int64_t>& dims, const Tensor& t) {
  std::vector<int64_t> out;
  for (int64_t d : dims) out.push_back(normalize_dim(op, d, t.dim(), t.sizes()));
  std::sort(out.begin(), out.end());
  GLIA_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(),
             op << ": a dim is listed twice for shape " << shape_str(t.sizes()));
  if (t.dim() == 0) out.clear();  // dim 0 / -1 of a scalar: the scalar itself
  return out;
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.sizes() == shape) return grad;
  const int64_t lead = grad.dim() - static_cast<int64_t>(shape.size());
  GLIA_CHECK(lead >= 0, "sum_to: gradient of shape " << shape_str(grad.sizes()) << " cannot be summed to "
                                                     << shape_str(shape));
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < grad.dim(); ++i) {
    if (i < lead || (shape[static_cast<size_t>(i - lead)] == 1 && grad.sizes()[static_cast<size_t>(i)] != 1)) {
      dims.push_back(i);
    }
  }
  Tensor s = dims.empty() ? grad : sum(grad, dims, /*keepdim=*/true);
  return s.reshape(shape);
}

}  // namespace glia::detail
