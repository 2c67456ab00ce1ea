// Hand-written strided copy with dtype cast (kernels/cuda/copy.cu) on sim (and cuda):
// a transposed read, a write into a narrowed view (elements outside it must stay
// untouched), and casts between float and integer types.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "kernels/copy.h"
#include "tests/kernels_sim/backends.h"
#include "tests/support/random_data.h"

namespace glia::test {
namespace {

class CopySim : public KernelTest {};

// Copies `sizes` elements from src (strides src_strides) to dst (strides dst_strides,
// starting at dst_offset) and checks every element of dst: copied ones against the
// reference, the rest still holding the sentinel.
template <class Src, class Dst>
void check_copy(Backend backend, const std::vector<int64_t>& sizes, const std::vector<int64_t>& src_strides,
                size_t src_len, const std::vector<int64_t>& dst_strides, size_t dst_len, int64_t dst_offset,
                const std::vector<Src>& src) {
  ASSERT_EQ(src.size(), src_len);
  const Dst sentinel = Dst(99);
  std::vector<Dst> expected(dst_len, sentinel);
  int64_t numel = 1;
  for (int64_t s : sizes) numel *= s;
  for (int64_t i = 0; i < numel; ++i) {
    int64_t rest = i, is = 0, id = dst_offset;
    for (int d = static_cast<int>(sizes.size()) - 1; d >= 0; --d) {
      is += rest % sizes[d] * src_strides[d];
      id += rest % sizes[d] * dst_strides[d];
      rest /= sizes[d];
    }
    expected[id] = static_cast<Dst>(src[is]);
  }
  DeviceBuffer<Src> dsrc(backend, src);
  DeviceBuffer<Dst> ddst(backend, std::vector<Dst>(dst_len, sentinel));
  kernels::CopyParams p;
  p.src_dtype = dtype_of<Src>::value;
  p.dst_dtype = dtype_of<Dst>::value;
  p.ndim = static_cast<int>(sizes.size());
  for (int d = 0; d < p.ndim; ++d) {
    p.sizes[d] = sizes[d];
    p.src_strides[d] = src_strides[d];
    p.dst_strides[d] = dst_strides[d];
  }
  p.numel = numel;
  p.src = dsrc.data();
  p.dst = ddst.data() + dst_offset;
  kernels::copy_kernel.get(backend)(p);
  std::vector<Dst> got = ddst.download();
  for (size_t i = 0; i < dst_len; ++i) ASSERT_EQ(got[i], expected[i]) << "dst element " << i;
}

TEST_P(CopySim, TransposedReadIntoContiguousWithCast) {
  // src is a contiguous [7, 3, 5] buffer read as its [5, 7, 3] permutation.
  std::vector<float> src = random_vector<float>(105, 31);
  check_copy<float, double>(GetParam(), {5, 7, 3}, {1, 15, 5}, 105, {21, 3, 1}, 105, 0, src);
  check_copy<float, float>(GetParam(), {5, 7, 3}, {1, 15, 5}, 105, {21, 3, 1}, 105, 0, src);
}

TEST_P(CopySim, ContiguousIntoNarrowedView) {
  // dst is a [5, 9, 3] buffer; the copy fills columns 2..8 of dim 1 (a concat's slot).
  std::vector<double> src = random_vector<double>(105, 32);
  check_copy<double, double>(GetParam(), {5, 7, 3}, {21, 3, 1}, 105, {27, 3, 1}, 135, 2 * 3, src);
}

TEST_P(CopySim, IntegerAndFloatCasts) {
  std::vector<int64_t> ints = random_ints(77, 33, -1000, 1000);
  check_copy<int64_t, float>(GetParam(), {7, 11}, {11, 1}, 77, {11, 1}, 77, 0, ints);
  std::vector<uint8_t> bytes = cast_vector<uint8_t>(random_ints(77, 34, 0, 256));
  check_copy<uint8_t, float>(GetParam(), {11, 7}, {1, 11}, 77, {7, 1}, 77, 0, bytes);
  // Integral floats so float->int has one right answer.
  std::vector<float> whole = cast_vector<float>(random_ints(77, 35, -500, 500));
  check_copy<float, int32_t>(GetParam(), {77}, {1}, 77, {1}, 77, 0, whole);
}

INSTANTIATE_TEST_SUITE_P(Backends, CopySim, ::testing::ValuesIn(gpu_backends()), backend_param_name);

}  // namespace
}  // namespace glia::test
