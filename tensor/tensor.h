// glia::Tensor: a handle to an n-dimensional, strided view of a reference-counted device
// buffer. Layout, dispatch and autograd are explained in tensor/README.md.
//
//   element [i0, i1, ...] lives at  storage.data + (offset + i0*stride0 + i1*stride1 + ...) * itemsize
//
// Copying a Tensor copies the handle (like a shared_ptr); views (view, permute, slice,
// expand, ...) make a new handle onto the same Storage; nothing copies elements except
// contiguous(), clone(), to(), reshape() of a non-viewable layout, and the ops.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "kernels/device.h"
#include "kernels/dtype.h"
#include "kernels/error.h"
#include "tensor/random.h"

namespace glia {

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& shape);  // "[2, 3]"

class Node;
class Generator;

// A device buffer shared by a tensor and all its views. The version counts in-place
// writes, so autograd can tell when a tensor saved for backward was overwritten.
class Storage {
 public:
  Storage(Device device, size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  Device device_;
  size_t bytes_;
  void* data_;
  uint64_t version_ = 0;
};

// What a Tensor handle points at. Fields are public for the ops in tensor/; code outside
// tensor/ uses the Tensor methods.
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape sizes;
  Shape strides;  // in elements
  int64_t offset = 0;  // in elements, from storage->data()
  DType dtype = DType::f32;

  // autograd (tensor/autograd.h)
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<Node> grad_fn;          // null for leaves
  std::weak_ptr<Node> grad_accumulator;   // cached AccumulateGrad node of a leaf
};

class Tensor {
 public:
  Tensor() = default;  // undefined: defined() is false
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }

  // ---- metadata --------------------------------------------------------------------
  const Shape& sizes() const { return checked().sizes; }
  const Shape& strides() const { return checked().strides; }
  int64_t size(int64_t dim) const;    // negative dims count from the end
  int64_t stride(int64_t dim) const;
  int64_t dim() const { return static_cast<int64_t>(sizes().size()); }
  int64_t numel() const;
  DType dtype() const { return checked().dtype; }
  Device device() const { return checked().storage->device(); }
  int64_t storage_offset() const { return checked().offset; }
  const std::shared_ptr<Storage>& storage() const { return checked().storage; }
  uint64_t version() const { return storage()->version(); }
  bool is_contiguous() const;
  size_t itemsize() const { return dtype_size(dtype()); }

  // Address of element [0, ..., 0] on the tensor's device (may be device memory).
  void* data_ptr() const;
  template <class T>
  T* data() const {
    GLIA_CHECK(dtype() == dtype_of<T>::value, "Tensor::data<" << dtype_name(dtype_of<T>::value)
                                                << ">() on a tensor of dtype " << dtype_name(dtype()));
    return static_cast<T*>(data_ptr());
  }

  // ---- conversion (copies) ---------------------------------------------------------
  Tensor to(Device device) const;   // same tensor when already there
  Tensor to(DType dtype) const;     // same tensor when already that dtype
  Tensor contiguous() const;        // same tensor when already contiguous
  Tensor clone() const;             // always a new contiguous buffer
  // Host copies of the values, in row-major order, converted to T.
  template <class T>
  std::vector<T> to_vector() const;
  template <class T>
  T item() const;  // the single element of a one-element tensor

  // ---- views (share storage; differentiable) ----------------------------------------
  Tensor view(const Shape& shape) const;      // error when the layout cannot be viewed
  Tensor reshape(const Shape& shape) const;   // a view when possible, else a copy
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;  // end exclusive, clamped
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor select(int64_t dim, int64_t index) const;  // removes dim
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;  // only a size-1 dim; other sizes are an error
  Tensor squeeze() const;             // every size-1 dim
  Tensor expand(const Shape& shape) const;  // -1 keeps a size; new leading dims allowed

  // ---- autograd (tensor/autograd.h) ------------------------------------------------
  bool requires_grad() const { return checked().requires_grad; }
  const Tensor& requires_grad_(bool requires = true) const;  // only on leaves
  bool is_leaf() const { return checked().grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return checked().grad_fn; }
  Tensor grad() const;  // undefined until a backward reached this leaf
  void set_grad(const Tensor& grad) const;  // e.g. set_grad(Tensor()) to clear
  Tensor detach() const;  // same storage, cut from the graph
  // Gradient of this tensor w.r.t. every leaf that requires grad, accumulated into
  // their .grad(). A non-scalar tensor needs `gradient` (same shape). Unless
  // retain_graph, the saved tensors are freed as the walk goes.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;

  // ---- in-place (bump the version; not recorded by autograd) ------------------------
  // const like every method of a handle: they change the elements, not the handle.
  const Tensor& fill_(double value) const;
  const Tensor& zero_() const { return fill_(0); }
  const Tensor& copy_(const Tensor& src) const;  // src broadcast to this shape; any dtype/device
  const Tensor& add_(const Tensor& other, double alpha = 1) const;  // this += alpha * other
  const Tensor& add_(double value) const;
  const Tensor& mul_(const Tensor& other) const;
  const Tensor& mul_(double value) const;

 private:
  const TensorImpl& checked() const {
    GLIA_CHECK(impl_ != nullptr, "operation on an undefined Tensor");
    return *impl_;
  }
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- factories ----------------------------------------------------------------------
Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
Tensor full(const Shape& shape, double value, DType dtype = DType::f32, Device device = Device::cpu);
Tensor scalar_tensor(double value, DType dtype = DType::f32, Device device = Device::cpu);  // 0-dim
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
// Host values (row-major) → a tensor of dtype T on `device`. shape {} = 1-D of data.size().
template <class T>
Tensor from_vector(const std::vector<T>& data, const Shape& shape = {}, Device device = Device::cpu);
// Same, converting the values to `dtype`.
Tensor from_vector(const std::vector<double>& data, const Shape& shape, DType dtype, Device device = Device::cpu);
Tensor arange(int64_t end, DType dtype = DType::i64, Device device = Device::cpu);
Tensor arange(double start, double end, double step, DType dtype = DType::f32, Device device = Device::cpu);

// Random factories draw from `gen`, or the global default generator when null
// (tensor/random.h). The values do not depend on the device or the thread count.
Tensor rand(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu, Generator* gen = nullptr);
Tensor randn(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu, Generator* gen = nullptr);
Tensor uniform(const Shape& shape, double low, double high, DType dtype = DType::f32, Device device = Device::cpu,
               Generator* gen = nullptr);
Tensor normal(const Shape& shape, double mean, double stddev, DType dtype = DType::f32, Device device = Device::cpu,
              Generator* gen = nullptr);
Tensor bernoulli(const Shape& shape, double p, DType dtype = DType::f32, Device device = Device::cpu,
                 Generator* gen = nullptr);  // 1 with probability p, else 0
Tensor randperm(int64_t n, Device device = Device::cpu, Generator* gen = nullptr);  // int64

// ---- helpers shared by the ops --------------------------------------------------------
Shape contiguous_strides(const Shape& sizes);
int64_t shape_numel(const Shape& shape);
// Normalises a possibly negative dim for a tensor of `rank` dims; error names op, dim and shape.
int64_t normalize_dim(const char* op, int64_t dim, int64_t rank, const Shape& shape);

}  // namespace glia
