// Shared cuDNN plumbing: handle, status checks, descriptors, workspace.
#include "kernels/cudnn/cudnn_common.h"

#include <cuda_runtime_api.h>

#include <climits>
#include <cstdlib>
#include <mutex>
#include <string>

#include "kernels/cuda/cuda_runtime_wrappers.h"
#include "kernels/error.h"

namespace glia::kernels::cudnn {

void check(cudnnStatus_t s, const char* call) {
  GLIA_CHECK(s == CUDNN_STATUS_SUCCESS,
             call << " failed: " << cudnnGetErrorString(s) << " (" << static_cast<int>(s) << ")");
}

int current_device() {
  int device = 0;
  const cudaError_t status = cudaGetDevice(&device);
  GLIA_CHECK(status == cudaSuccess, "cudaGetDevice failed: " << cudaGetErrorName(status) << " ("
                                                            << cudaGetErrorString(status) << ")");
  return device;
}

namespace {
cudnnHandle_t create_handle() {
  cudnnHandle_t h = nullptr;
  check(cudnnCreate(&h), "cudnnCreate");
  return h;
}
}  // namespace

cudnnHandle_t handle() {
  cudnnHandle_t h = thread_device_handle<cudnnHandle_t, &create_handle>();
  check(cudnnSetStream(h, static_cast<cudaStream_t>(cuda_rt::current_stream())), "cudnnSetStream");
  return h;
}

bool env_flag(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return false;
  const std::string value(text);
  GLIA_CHECK(value == "0" || value == "1", name << "='" << value << "' is not 0 or 1");
  return value == "1";
}

bool find_mode() {
  static const bool on = env_flag("GLIA_CUDNN_FIND");
  return on;
}

bool tf32_allowed() {
  static const bool on = env_flag("GLIA_TF32");
  return on;
}

cudnnDataType_t data_type(DType t, const char* op) {
  if (t == DType::f32) return CUDNN_DATA_FLOAT;
  if (t == DType::f64) return CUDNN_DATA_DOUBLE;
  GLIA_FAIL("op '" << op << "' on backend 'cudnn' supports float32 and float64, not " << dtype_name(t));
}

cudnnDataType_t data_type_with_16bit(DType t, const char* op) {
  if (t == DType::bf16) return CUDNN_DATA_BFLOAT16;
  if (t == DType::f16) return CUDNN_DATA_HALF;
  if (t == DType::f32 || t == DType::f64) return data_type(t, op);
  GLIA_FAIL("op '" << op << "' on backend 'cudnn' supports float32, float64, bfloat16 and float16, not "
                   << dtype_name(t));
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
