// Shared cuDNN plumbing: handle, status checks, descriptors, workspace.
#include "kernels/cudnn/cudnn_common.h"

#include <climits>
#include <mutex>

#include "kernels/cuda/cuda_runtime_wrappers.h"
#include "kernels/error.h"

namespace glia::kernels::cudnn {

void check(cudnnStatus_t s, const char* call) {
  GLIA_CHECK(s == CUDNN_STATUS_SUCCESS,
             call << " failed: " << cudnnGetErrorString(s) << " (" << static_cast<int>(s) << ")");
}

cudnnHandle_t handle() {
  static std::once_flag once;
  static cudnnHandle_t h = nullptr;
  std::call_once(once, [] { check(cudnnCreate(&h), "cudnnCreate"); });
  check(cudnnSetStream(h, static_cast<cudaStream_t>(cuda_rt::current_stream())), "cudnnSetStream");
  return h;
}

cudnnDataType_t data_type(DType t, const char* op) {
  if (t == DType::f32) return CUDNN_DATA_FLOAT;
  if (t == DType::f64) return CUDNN_DATA_DOUBLE;
  GLIA_FAIL("op '" << op << "' on backend 'cudnn' supports float32 and float64, not " << dtype_name(t));
}

int to_int(int64_t v, const char* op, const char* what) {
  GLIA_CHECK(v >= 0 && v <= INT_MAX, "op '" << op << "' (cuDNN): " << what << " = " << v << " does not fit an int");
  return static_cast<int>(v);
}

TensorDesc::TensorDesc() { check(cudnnCreateTensorDescriptor(&d), "cudnnCreateTensorDescriptor"); }
TensorDesc::~TensorDesc() { cudnnDestroyTensorDescriptor(d); }
void TensorDesc::set_nchw(cudnnDataType_t t, int n, int c, int h, int w) {
  check(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, t, n, c, h, w), "cudnnSetTensor4dDescriptor");
}

FilterDesc::FilterDesc() { check(cudnnCreateFilterDescriptor(&d), "cudnnCreateFilterDescriptor"); }
FilterDesc::~FilterDesc() { cudnnDestroyFilterDescriptor(d); }

ConvDesc::ConvDesc() { check(cudnnCreateConvolutionDescriptor(&d), "cudnnCreateConvolutionDescriptor"); }
ConvDesc::~ConvDesc() { cudnnDestroyConvolutionDescriptor(d); }

Workspace::Workspace(size_t bytes) : bytes_(bytes) {
  if (bytes_ > 0) ptr_ = cuda_rt::alloc(bytes_);
}
Workspace::~Workspace() {
  if (ptr_ != nullptr) cuda_rt::release(ptr_, bytes_);
}

}  // namespace glia::kernels::cudnn
