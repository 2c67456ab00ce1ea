// Tensor core: storage, metadata, copies between layouts/dtypes/devices, factories.
#include "tensor/tensor.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "kernels/runtime.h"
#include "tensor/autograd.h"
#include "tensor/detail.h"

namespace glia {

std::string shape_str(const Shape& shape) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ']';
  return os.str();
}

Storage::Storage(Device device, size_t bytes) : device_(device), bytes_(bytes), data_(rt::alloc(device, bytes)) {}
Storage::~Storage() { rt::release(device_, data_, bytes_); }

Shape contiguous_strides(const Shape& sizes) {
  Shape strides(sizes.size());
  int64_t s = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    strides[i] = s;
    s *= std::max<int64_t>(sizes[i], 1);
  }
  return strides;
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

int64_t normalize_dim(const char* op, int64_t dim, int64_t rank, const Shape& shape) {
  // A 0-dim tensor accepts dim 0 / -1 where an op treats it as one element.
  const int64_t r = std::max<int64_t>(rank, 1);
  GLIA_CHECK(dim >= -r && dim < r, op << ": dim " << dim << " is out of range for a tensor of rank " << rank
                                       << " with shape " << shape_str(shape) << " (valid: " << -r << " to " << r - 1
                                       << ")");
  return dim < 0 ? dim + r : dim;
}

// ---- metadata ---------------------------------------------------------------------------

int64_t Tensor::size(int64_t d) const { return sizes()[normalize_dim("Tensor::size", d, dim(), sizes())]; }
int64_t Tensor::stride(int64_t d) const { return strides()[normalize_dim("Tensor::stride", d, dim(), sizes())]; }
int64_t Tensor::numel() const { return shape_numel(sizes()); }

bool Tensor::is_contiguous() const {
  const auto& s = sizes();
  const auto& st = strides();
  int64_t expected = 1;
  for (size_t i = s.size(); i-- > 0;) {
    if (s[i] == 1) continue;
    if (st[i] != expected) return false;
    expected *= s[i];
  }
  return true;
}

void* Tensor::data_ptr() const {
  const auto& impl = checked();
  return static_cast<char*>(impl.storage->data()) + impl.offset * static_cast<int64_t>(dtype_size(impl.dtype));
}

// ---- layout / dtype / device conversion --------------------------------------------------
// Each conversion is differentiable: its backward converts the gradient back.

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  Tensor out = empty(sizes(), dtype(), device());
  detail::copy_into(out, *this);
  record("contiguous", out, {*this}, {}, [](const Tensor& g, const FunctionNode&) { return std::vector<Tensor>{g}; });
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = empty(sizes(), dtype(), device());
  detail::copy_into(out, *this);
  record("clone", out, {*this}, {}, [](const Tensor& g, const FunctionNode&) { return std::vector<Tensor>{g}; });
  return out;
}

Tensor Tensor::to(DType target) const {
  if (dtype() == target) return *this;
  Tensor out = empty(sizes(), target, device());
  detail::copy_into(out, *this);
  const DType source = dtype();
  if (is_floating(source) && is_floating(target)) {
    record("to(dtype)", out, {*this}, {},
           [source](const Tensor& g, const FunctionNode&) { return std::vector<Tensor>{g.to(source)}; });
  }
  return out;
}

Tensor Tensor::to(Device target) const {
  if (device() == target) return *this;
  Tensor src = contiguous();
  Tensor out = empty(sizes(), dtype(), target);
  rt::copy(out.data_ptr(), target, src.data_ptr(), src.device(), static_cast<size_t>(numel()) * itemsize());
  const Device source = device();
  record("to(device)", out, {*this}, {},
         [source](const Tensor& g, const FunctionNode&) { return std::vector<Tensor>{g.to(source)}; });
  return out;
}

namespace {
// Host copy of t in row-major order as dtype T (through a contiguous host tensor).
template <class T>
std::vector<T> host_values(const Tensor& t) {
  NoGradGuard no_grad;
  // To the host first, so reading a device tensor needs no kernel there.
  Tensor h = t.to(Device::cpu).to(dtype_of<T>::value).contiguous();
  std::vector<T> out(static_cast<size_t>(h.numel()));
  rt::copy(out.data(), Device::cpu, h.data_ptr(), h.device(), out.size() * sizeof(T));
  return out;
}
}  // namespace

template <class T>
std::vector<T> Tensor::to_vector() const {
  return host_values<T>(*this);
}

template <class T>
T Tensor::item() const {
  GLIA_CHECK(numel() == 1, "item(): tensor of shape " << shape_str(sizes()) << " has " << numel()
                                                      << " elements, expected exactly 1");
  return host_values<T>(*this)[0];
}

#define GLIA_INSTANTIATE(T)                          \
  template std::vector<T> Tensor::to_vector<T>() const; \
  template T Tensor::item<T>() const;
GLIA_INSTANTIATE(float)
GLIA_INSTANTIATE(double)
GLIA_INSTANTIATE(int32_t)
GLIA_INSTANTIATE(int64_t)
GLIA_INSTANTIATE(uint8_t)
GLIA_INSTANTIATE(float16)
GLIA_INSTANTIATE(bfloat16)
#undef GLIA_INSTANTIATE

// ---- factories -------------------------------------------------------------------------

Tensor empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t s : shape) GLIA_CHECK(s >= 0, "empty: negative size in shape " << shape_str(shape));
  GLIA_CHECK(shape.size() <= static_cast<size_t>(kernels::kMaxDims),
             "tensor of shape " << shape_str(shape) << " has more than " << kernels::kMaxDims << " dims");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(device, static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype));
  impl->sizes = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  detail::fill_contiguous(t, value);
  return t;
}
Tensor zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0, dtype, device); }
Tensor ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1, dtype, device); }
Tensor scalar_tensor(double value, DType dtype, Device device) { return full({}, value, dtype, device); }
Tensor empty_like(const Tensor& t) { return empty(t.sizes(), t.dtype(), t.device()); }
Tensor zeros_like(const Tensor& t) { return zeros(t.sizes(), t.dtype(), t.device()); }
Tensor ones_like(const Tensor& t) { return ones(t.sizes(), t.dtype(), t.device()); }

template <class T>
Tensor from_vector(const std::vector<T>& data, const Shape& shape, Device device) {
  Shape s = shape.empty() ? Shape{static_cast<int64_t>(data.size())} : shape;
  GLIA_CHECK(shape_numel(s) == static_cast<int64_t>(data.size()),
             "from_vector: " << data.size() << " values do not fill shape " << shape_str(s) << " ("
                             << shape_numel(s) << " elements)");
  Tensor t = empty(s, dtype_of<T>::value, device);
  rt::copy(t.data_ptr(), device, data.data(), Device::cpu, data.size() * sizeof(T));
  return t;
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&, Device);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, Device);
template Tensor from_vector<int32_t>(const std::vector<int32_t>&, const Shape&, Device);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, Device);
template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&, Device);
template Tensor from_vector<float16>(const std::vector<float16>&, const Shape&, Device);
template Tensor from_vector<bfloat16>(const std::vector<bfloat16>&, const Shape&, Device);

Tensor from_vector(const std::vector<double>& data, const Shape& shape, DType dtype, Device device) {
  Tensor host = from_vector<double>(data, shape, Device::cpu);
  if (dtype != DType::f64) host = host.to(dtype);
  return host.to(device);
}

Tensor arange(int64_t end, DType dtype, Device device) { return arange(0, static_cast<double>(end), 1, dtype, device); }

Tensor arange(double start, double end, double step, DType dtype, Device device) {
  GLIA_CHECK(step != 0, "arange: step must not be 0");
  const double count = std::ceil((end - start) / step);
  const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  std::vector<double> values(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) values[static_cast<size_t>(i)] = start + static_cast<double>(i) * step;
  return from_vector(values, {n}, dtype, device);
}

}  // namespace glia
