// Joining and splitting along a dim. concat copies each input into a narrowed view of
// the output (the copy kernel does the strides); split/chunk return narrowed views.
#include "tensor/autocast.h"
#include "tensor/autograd.h"
#include "tensor/detail.h"
#include "tensor/ops.h"

namespace glia {

Tensor concat(const std::vector<Tensor>& tensors, int64_t dim) {
  GLIA_CHECK(!tensors.empty(), "concat: no tensors given");
  if (autocast_active()) {
    AutocastCall call("concat", tensors);
    std::vector<Tensor> cast;
    for (const Tensor& t : tensors) cast.push_back(call.cast(t));
    return concat(cast, dim);
  }
  const Tensor& first = tensors[0];
  detail::check_defined("concat", first, "tensor 0");
  GLIA_CHECK(first.dim() > 0, "concat: cannot concatenate 0-dim tensors");
  const int64_t d = normalize_dim("concat", dim, first.dim(), first.sizes());
  Shape out_shape = first.sizes();
  out_shape[static_cast<size_t>(d)] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    detail::check_compatible("concat", first, t);
    bool same = t.dim() == first.dim();
    for (int64_t j = 0; same && j < t.dim(); ++j) {
      same = j == d || t.sizes()[static_cast<size_t>(j)] == first.sizes()[static_cast<size_t>(j)];
    }
    GLIA_CHECK(same, "concat: tensor " << i << " has shape " << shape_str(t.sizes()) << ", tensor 0 has "
                                       << shape_str(first.sizes()) << "; they may differ only in dim " << dim);
    out_shape[static_cast<size_t>(d)] += t.size(d);
  }
  Tensor out = empty(out_shape, first.dtype(), first.device());
  std::vector<int64_t> offsets;
  int64_t offset = 0;
  {
    NoGradGuard no_grad;
    for (const Tensor& t : tensors) {
      offsets.push_back(offset);
      detail::copy_into(out.narrow(d, offset, t.size(d)), t);
      offset += t.size(d);
    }
  }
  std::vector<int64_t> lengths;
  for (const Tensor& t : tensors) lengths.push_back(t.size(d));
  record("concat", out, tensors, {}, [d, offsets, lengths](const Tensor& g, const FunctionNode& n) {
    std::vector<Tensor> grads;
    for (size_t i = 0; i < offsets.size(); ++i) {
      grads.push_back(n.needs_grad(i) ? g.narrow(d, offsets[i], lengths[i]) : Tensor());
    }
    return grads;
  });
  return out;
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  detail::check_defined("split", x);
  GLIA_CHECK(x.dim() > 0, "split: cannot split a 0-dim tensor");
  const int64_t d = normalize_dim("split", dim, x.dim(), x.sizes());
  GLIA_CHECK(split_size > 0, "split: split_size must be positive, got " << split_size);
  std::vector<Tensor> parts;
  for (int64_t start = 0; start < x.size(d); start += split_size) {
    parts.push_back(x.narrow(d, start, std::min(split_size, x.size(d) - start)));
  }
  return parts;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  detail::check_defined("chunk", x);
  GLIA_CHECK(chunks > 0, "chunk: number of chunks must be positive, got " << chunks);
  GLIA_CHECK(x.dim() > 0, "chunk: cannot chunk a 0-dim tensor");
  const int64_t len = x.size(dim);
  const int64_t size = std::max<int64_t>((len + chunks - 1) / chunks, 1);  // like torch.chunk
  return split(x, size, dim);
}

Tensor cast(const Tensor& x, DType dtype) {
  detail::check_defined("cast", x);
  return x.to(dtype);
}

}  // namespace glia
