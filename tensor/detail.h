// Helpers shared by the op files in tensor/ (not part of the public API).
#pragma once
#include <string>
#include <vector>

#include "kernels/copy.h"
#include "kernels/elementwise.h"
#include "tensor/tensor.h"

namespace glia::detail {

// Error unless a and b live on the same device and have the same dtype (names both).
void check_compatible(const char* op, const Tensor& a, const Tensor& b);
void check_floating(const char* op, const Tensor& t);
void check_defined(const char* op, const Tensor& t, const char* what = "input");

// The broadcast shape of a and b (numpy rules); error names both shapes.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);
// Strides that read t as if it had shape `out` (0 along broadcast dims), left-padded.
Shape broadcast_strides(const Tensor& t, const Shape& out);

// dst <- src elementwise (src already has dst's shape, any strides, maybe another dtype;
// same device). The copy kernel of dst's device does it.
void copy_into(const Tensor& dst, const Tensor& src);
void fill_contiguous(const Tensor& dst, double value);

// A new tensor sharing t's storage with the given geometry (no autograd).
Tensor make_view(const Tensor& t, const Shape& sizes, const Shape& strides, int64_t offset);

// Sorted, deduplicated, normalised dims; empty means every dim.
std::vector<int64_t> normalize_dims(const char* op, const std::vector<int64_t>& dims, const Tensor& t);

// Sums `grad` down to `shape` (undoes broadcasting): the backward of every broadcasting op.
Tensor sum_to(const Tensor& grad, const Shape& shape);

// 1 where d > 0, else 0 (exact; used for the gradients of max, maximum, minimum).
Tensor step_positive(const Tensor& d);

// Fills the kernel's fixed-size arrays; a 0-dim tensor is passed as one dim of size 1.
int fill_dims(const Shape& sizes, int64_t* out);
int fill_strides(const Shape& strides, int64_t* out);

}  // namespace glia::detail
