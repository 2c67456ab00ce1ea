// What the cuDNN variants share (real-CUDA builds with GLIA_HAVE_CUDNN): one handle per
// process bound to glia's current stream, status checks that name the call, descriptor
// owners, and a workspace from glia's caching allocator.
//
// glia uses cuDNN's legacy descriptor API (cudnnConvolutionForward & co.): deprecated in
// cuDNN 9 but complete and stable; the graph API would be the way forward.
#pragma once
#include <cudnn.h>

#include <cstddef>
#include <cstdint>

#include "kernels/dtype.h"

namespace glia::kernels::cudnn {

// Throws glia::Error "<call> failed: <cudnnGetErrorString> (<status>)" unless success.
void check(cudnnStatus_t s, const char* call);

// The process's handle, set to glia's current stream.
cudnnHandle_t handle();

// CUDNN_DATA_FLOAT / CUDNN_DATA_DOUBLE; other dtypes are an Error naming op.
cudnnDataType_t data_type(DType t, const char* op);

// cuDNN's alpha/beta scaling factors (1 and 0), typed to match the data: float for
// float32 tensors, double for float64.
struct Scalars {
  double one = 1.0, zero = 0.0;
  float onef = 1.0f, zerof = 0.0f;
  bool f64;
  explicit Scalars(DType t) : f64(t == DType::f64) {}
  const void* alpha() const { return f64 ? static_cast<const void*>(&one) : &onef; }
  const void* beta() const { return f64 ? static_cast<const void*>(&zero) : &zerof; }
};

// Checked narrowing to cuDNN's int sizes.
int to_int(int64_t v, const char* op, const char* what);

// Owners of the legacy descriptors (destroyed on scope exit).
struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  TensorDesc();
  ~TensorDesc();
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
  void set_nchw(cudnnDataType_t t, int n, int c, int h, int w);
};

struct FilterDesc {
  cudnnFilterDescriptor_t d = nullptr;
  FilterDesc();
  ~FilterDesc();
  FilterDesc(const FilterDesc&) = delete;
  FilterDesc& operator=(const FilterDesc&) = delete;
};

struct ConvDesc {
  cudnnConvolutionDescriptor_t d = nullptr;
  ConvDesc();
  ~ConvDesc();
  ConvDesc(const ConvDesc&) = delete;
  ConvDesc& operator=(const ConvDesc&) = delete;
};

// Device scratch from glia's caching allocator, released on scope exit.
class Workspace {
 public:
  explicit Workspace(size_t bytes);
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  void* data() const { return ptr_; }
  size_t size() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace glia::kernels::cudnn
