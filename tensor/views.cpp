// Views: new sizes/strides/offset over the same storage, no element copied. Each one is
// differentiable; its backward maps the output gradient back onto the input's shape.
#include <algorithm>
#include <numeric>

#include "tensor/autograd.h"
#include "tensor/detail.h"
#include "tensor/ops.h"

namespace glia {
namespace {

// Resolves one -1 in `shape` from numel and checks the element count.
Shape infer_shape(const char* op, const Shape& shape, int64_t numel, const Shape& from) {
  Shape out = shape;
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      GLIA_CHECK(infer < 0, op << ": more than one -1 in shape " << shape_str(shape));
      infer = static_cast<int>(i);
    } else {
      GLIA_CHECK(out[i] >= 0, op << ": invalid size " << out[i] << " in shape " << shape_str(shape));
      known *= out[i];
    }
  }
  if (infer >= 0) {
    GLIA_CHECK(known != 0 && numel % known == 0, op << ": shape " << shape_str(shape) << " is invalid for a tensor of shape "
                                                    << shape_str(from) << " (" << numel << " elements)");
    out[static_cast<size_t>(infer)] = numel / known;
  }
  GLIA_CHECK(shape_numel(out) == numel, op << ": shape " << shape_str(shape) << " is invalid for a tensor of shape "
                                           << shape_str(from) << " (" << numel << " elements)");
  return out;
}

// Strides that view (sizes, strides) as `shape` without copying, or empty when the layout
// does not allow it. Works chunk by chunk: each run of input dims that is contiguous in
// memory can be re-split freely.
bool view_strides(const Shape& sizes, const Shape& strides, const Shape& shape, Shape& out) {
  out.assign(shape.size(), 0);
  if (sizes.empty() || shape_numel(sizes) == 0) {
    out = contiguous_strides(shape);
    return true;
  }
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_base_stride = strides.empty() ? 1 : strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
    tensor_numel *= sizes[static_cast<size_t>(d)];
    // A chunk ends where the next-outer dim is not contiguous with this one.
    if (d == 0 || (sizes[static_cast<size_t>(d - 1)] != 1 &&
                   strides[static_cast<size_t>(d - 1)] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[static_cast<size_t>(view_d)] == 1)) {
        out[static_cast<size_t>(view_d)] = view_numel * chunk_base_stride;
        view_numel *= shape[static_cast<size_t>(view_d)];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (d > 0) {
        chunk_base_stride = strides[static_cast<size_t>(d - 1)];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

Tensor reshape_backward_to(const Tensor& g, const Shape& sizes) { return g.reshape(sizes); }

void record_reshape(const char* op, Tensor& out, const Tensor& in) {
  const Shape sizes = in.sizes();
  record(op, out, {in}, {},
         [sizes](const Tensor& g, const FunctionNode&) { return std::vector<Tensor>{reshape_backward_to(g, sizes)}; });
}

}  // namespace

Tensor Tensor::view(const Shape& shape) const {
  const Shape target = infer_shape("view", shape, numel(), sizes());
  Shape st;
  GLIA_CHECK(view_strides(sizes(), strides(), target, st),
             "view: a tensor of shape " << shape_str(sizes()) << " and strides " << shape_str(strides())
                                        << " cannot be viewed as " << shape_str(target)
                                        << " without a copy; use reshape()");
  Tensor out = detail::make_view(*this, target, st, storage_offset());
  record_reshape("view", out, *this);
  return out;
}

Tensor Tensor::reshape(const Shape& shape) const {
  const Shape target = infer_shape("reshape", shape, numel(), sizes());
  Shape st;
  if (view_strides(sizes(), strides(), target, st)) {
    Tensor out = detail::make_view(*this, target, st, storage_offset());
    record_reshape("reshape", out, *this);
    return out;
  }
  return contiguous().view(target);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  const int64_t s = normalize_dim("flatten", start_dim, dim(), sizes());
  const int64_t e = normalize_dim("flatten", end_dim, dim(), sizes());
  GLIA_CHECK(s <= e, "flatten: start_dim " << start_dim << " comes after end_dim " << end_dim << " for shape "
                                           << shape_str(sizes()));
  Shape target(sizes().begin(), sizes().begin() + s);
  int64_t n = 1;
  for (int64_t d = s; d <= e; ++d) n *= sizes()[static_cast<size_t>(d)];
  target.push_back(n);
  target.insert(target.end(), sizes().begin() + e + 1, sizes().end());
  return reshape(target);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  GLIA_CHECK(static_cast<int64_t>(dims.size()) == dim(), "permute: " << dims.size() << " dims given for a tensor of shape "
                                                                      << shape_str(sizes()) << " (rank " << dim() << ")");
  std::vector<int64_t> perm;
  std::vector<bool> seen(dims.size(), false);
  Shape sz, st;
  for (int64_t d : dims) {
    const int64_t n = normalize_dim("permute", d, dim(), sizes());
    GLIA_CHECK(!seen[static_cast<size_t>(n)], "permute: dim " << d << " appears twice in " << shape_str(dims));
    seen[static_cast<size_t>(n)] = true;
    perm.push_back(n);
    sz.push_back(sizes()[static_cast<size_t>(n)]);
    st.push_back(strides()[static_cast<size_t>(n)]);
  }
  Tensor out = detail::make_view(*this, sz, st, storage_offset());
  std::vector<int64_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inverse[static_cast<size_t>(perm[i])] = static_cast<int64_t>(i);
  record("permute", out, {*this}, {},
         [inverse](const Tensor& g, const FunctionNode&) { return std::vector<Tensor>{g.permute(inverse)}; });
  return out;
}

Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const {
  const int64_t a = normalize_dim("transpose", dim0, dim(), sizes());
  const int64_t b = normalize_dim("transpose", dim1, dim(), sizes());
  if (dim() == 0) return *this;
  std::vector<int64_t> perm(static_cast<size_t>(dim()));
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[static_cast<size_t>(a)], perm[static_cast<size_t>(b)]);
  return permute(perm);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  GLIA_CHECK(dim() > 0, "slice: cannot slice a 0-dim tensor");
  const int64_t n = normalize_dim("slice", d, dim(), sizes());
  GLIA_CHECK(step > 0, "slice: step must be positive, got " << step);
  const int64_t len = sizes()[static_cast<size_t>(n)];
  if (start < 0) start += len;
  if (end < 0) end += len;
  start = std::clamp<int64_t>(start, 0, len);
  end = std::clamp<int64_t>(end, start, len);
  Shape sz = sizes(), st = strides();
  sz[static_cast<size_t>(n)] = (end - start + step - 1) / step;
  st[static_cast<size_t>(n)] *= step;
  Tensor out = detail::make_view(*this, sz, st, storage_offset() + start * strides()[static_cast<size_t>(n)]);
  const Shape in_sizes = sizes();
  record("slice", out, {*this}, {}, [in_sizes, n, start, end, step](const Tensor& g, const FunctionNode&) {
    // Scatter into zeros: the elements not in the slice get no gradient.
    Tensor gx = zeros(in_sizes, g.dtype(), g.device());
    gx.slice(n, start, end, step).copy_(g);
    return std::vector<Tensor>{gx};
  });
  return out;
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  GLIA_CHECK(dim() > 0, "narrow: cannot narrow a 0-dim tensor");
  const int64_t n = normalize_dim("narrow", d, dim(), sizes());
  const int64_t len = sizes()[static_cast<size_t>(n)];
  GLIA_CHECK(start >= 0 && length >= 0 && start + length <= len,
             "narrow: [" << start << ", " << start + length << ") is outside dim " << d << " of size " << len
                         << " (shape " << shape_str(sizes()) << ")");
  return slice(n, start, start + length);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  GLIA_CHECK(dim() > 0, "select: cannot select from a 0-dim tensor");
  const int64_t n = normalize_dim("select", d, dim(), sizes());
  const int64_t len = sizes()[static_cast<size_t>(n)];
  GLIA_CHECK(index >= -len && index < len, "select: index " << index << " is out of range for dim " << d
                                                            << " of size " << len << " (shape "
                                                            << shape_str(sizes()) << ")");
  if (index < 0) index += len;
  Shape sz = sizes(), st = strides();
  const int64_t offset = storage_offset() + index * st[static_cast<size_t>(n)];
  sz.erase(sz.begin() + n);
  st.erase(st.begin() + n);
  Tensor out = detail::make_view(*this, sz, st, offset);
  const Shape in_sizes = sizes();
  record("select", out, {*this}, {}, [in_sizes, n, index](const Tensor& g, const FunctionNode&) {
    Tensor gx = zeros(in_sizes, g.dtype(), g.device());
    gx.select(n, index).copy_(g);
    return std::vector<Tensor>{gx};
  });
  return out;
}

Tensor Tensor::unsqueeze(int64_t d) const {
  const int64_t rank = dim() + 1;
  GLIA_CHECK(d >= -rank && d < rank, "unsqueeze: dim " << d << " is out of range for a tensor of shape "
                                                       << shape_str(sizes()) << " (valid: " << -rank << " to "
                                                       << rank - 1 << ")");
  const int64_t n = d < 0 ? d + rank : d;
  Shape sz = sizes(), st = strides();
  const int64_t stride = n < dim() ? st[static_cast<size_t>(n)] * sz[static_cast<size_t>(n)] : 1;
  sz.insert(sz.begin() + n, 1);
  st.insert(st.begin() + n, stride);
  Tensor out = detail::make_view(*this, sz, st, storage_offset());
  record_reshape("unsqueeze", out, *this);
  return out;
}

Tensor Tensor::squeeze(int64_t d) const {
  if (dim() == 0) return *this;
  const int64_t n = normalize_dim("squeeze", d, dim(), sizes());
  GLIA_CHECK(sizes()[static_cast<size_t>(n)] == 1, "squeeze: dim " << d << " has size " << sizes()[static_cast<size_t>(n)]
                                                                  << ", not 1 (shape " << shape_str(sizes()) << ")");
  Shape sz = sizes(), st = strides();
  sz.erase(sz.begin() + n);
  st.erase(st.begin() + n);
  Tensor out = detail::make_view(*this, sz, st, storage_offset());
  record_reshape("squeeze", out, *this);
  return out;
}

Tensor Tensor::squeeze() const {
  Shape sz, st;
  for (int64_t i = 0; i < dim(); ++i) {
    if (sizes()[static_cast<size_t>(i)] == 1) continue;
    sz.push_back(sizes()[static_cast<size_t>(i)]);
    st.push_back(strides()[static_cast<size_t>(i)]);
  }
  Tensor out = detail::make_view(*this, sz, st, storage_offset());
  record_reshape("squeeze", out, *this);
  return out;
}

Tensor Tensor::expand(const Shape& shape) const {
  GLIA_CHECK(static_cast<int64_t>(shape.size()) >= dim(), "expand: shape " << shape_str(shape) << " has fewer dims than the tensor's "
                                                                           << shape_str(sizes()));
  const size_t lead = shape.size() - static_cast<size_t>(dim());
  Shape sz(shape.size()), st(shape.size(), 0);
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      GLIA_CHECK(shape[i] >= 0, "expand: new leading dim " << i << " cannot be " << shape[i] << " (target "
                                                           << shape_str(shape) << ")");
      sz[i] = shape[i];
      continue;
    }
    const int64_t have = sizes()[i - lead];
    const int64_t want = shape[i] == -1 ? have : shape[i];
    GLIA_CHECK(want == have || have == 1, "expand: cannot expand shape " << shape_str(sizes()) << " to "
                                                                         << shape_str(shape) << " (dim " << i << ": "
                                                                         << have << " vs " << want << ")");
    sz[i] = want;
    st[i] = want == have ? strides()[i - lead] : 0;
  }
  Tensor out = detail::make_view(*this, sz, st, storage_offset());
  const Shape in_sizes = sizes();
  record("expand", out, {*this}, {},
         [in_sizes](const Tensor& g, const FunctionNode&) { return std::vector<Tensor>{detail::sum_to(g, in_sizes)}; });
  return out;
}

}  // namespace glia
