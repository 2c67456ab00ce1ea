// A batch's host values (io::Batch images, masks, labels) as a tensor on the training
// device, through the staged upload (kernels/upload.h): on cuda pinned memory and a copy
// stream, so the host does not wait for the GPU's queued work (rt::copy from pageable
// memory would); a plain copy on cpu.
#pragma once
#include <vector>

#include "kernels/error.h"
#include "kernels/upload.h"
#include "tensor/tensor.h"

namespace glia {

template <class T>
Tensor upload_batch_values(const std::vector<T>& values, const Shape& shape, Device device) {
  Tensor t = empty(shape, dtype_of<T>::value, device);
  GLIA_CHECK(static_cast<size_t>(t.numel()) == values.size(),
             "batch upload: " << values.size() << " values for shape " << shape_str(shape));
  rt::upload(t.data_ptr(), device, values.data(), values.size() * sizeof(T));
  return t;
}

}  // namespace glia
