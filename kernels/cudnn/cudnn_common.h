// What the cuDNN variants share (real-CUDA builds with GLIA_HAVE_CUDNN): one handle per
// (thread, device) bound to glia's current stream, status checks that name the call,
// descriptor owners, a workspace from glia's caching allocator, and the switches read
// from the environment (GLIA_CUDNN_FIND, GLIA_TF32).
//
// glia uses cuDNN's legacy descriptor API (cudnnConvolutionForward & co.): deprecated in
// cuDNN 9 but complete and stable; the graph API would be the way forward.
#pragma once
#include <cudnn.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "kernels/dtype.h"

namespace glia::kernels::cudnn {

// Throws glia::Error "<call> failed: <cudnnGetErrorString> (<status>)" unless success.
void check(cudnnStatus_t s, const char* call);

// This thread's handle for the current device, set to glia's current stream. A cuDNN
// (or cuBLAS) handle belongs to the device current at its creation and holds per-call
// state: sharing one between threads or devices races, and re-binding one handle to
// each caller's stream serialises them. Handles of exited threads go back to a pool
// (creating one costs milliseconds) and are never destroyed (at exit the CUDA context
// may already be gone).
cudnnHandle_t handle();

// The device current on this thread (cudaGetDevice, checked).
int current_device();

// Pool of library handles, one per (thread, device); Create makes a handle for the
// current device. Used for cuDNN here and for cuBLAS in gemm_cublas.cpp.
template <class Handle, Handle (*Create)()>
Handle thread_device_handle() {
  struct Entry {
    int device;
    Handle handle;
  };
  static std::mutex pool_mutex;
  static auto* pool = new std::vector<Entry>();  // never destroyed (see handle())
  struct Owned {
    std::vector<Entry> mine;
    ~Owned() {
      std::lock_guard<std::mutex> lock(pool_mutex);
      pool->insert(pool->end(), mine.begin(), mine.end());
    }
  };
  thread_local Owned owned;
  const int device = current_device();
  for (const Entry& e : owned.mine)
    if (e.device == device) return e.handle;
  Handle h{};
  bool found = false;
  {
    std::lock_guard<std::mutex> lock(pool_mutex);
    for (size_t i = 0; i < pool->size(); ++i) {
      if ((*pool)[i].device != device) continue;
      h = (*pool)[i].handle;
      pool->erase(pool->begin() + static_cast<std::ptrdiff_t>(i));
      found = true;
      break;
    }
  }
  if (!found) h = Create();
  owned.mine.push_back(Entry{device, h});
  return h;
}

// Switches from the environment, read once (documented in the README):
//  GLIA_CUDNN_FIND=1  choose convolution algorithms by timing them (cudnnFind*) on the
//                     first call of each shape instead of cuDNN's heuristics: slower to
//                     start, sometimes faster to run. Default 0.
//  GLIA_TF32=1        let float32 convolutions and GEMMs use TF32 tensor cores (Ampere
//                     and later): much faster, ~1e-3 relative error. Default 0: float32
//                     stays float32, comparable with the hand kernels and the CPU.
bool find_mode();
bool tf32_allowed();
// "0", "1" or unset; anything else is an Error naming the variable.
bool env_flag(const char* name);

// CUDNN_DATA_FLOAT / CUDNN_DATA_DOUBLE; other dtypes are an Error naming op.
cudnnDataType_t data_type(DType t, const char* op);
// The same, and CUDNN_DATA_BFLOAT16 / CUDNN_DATA_HALF for the ops that take 16-bit
// tensors (the convolutions: tensor cores, float32 compute).
cudnnDataType_t data_type_with_16bit(DType t, const char* op);
inline bool is_16bit(DType t) { return t == DType::bf16 || t == DType::f16; }

// cuDNN's alpha/beta scaling factors (1 and 0), typed to match the data: float for
// float32 and 16-bit tensors, double for float64.
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
