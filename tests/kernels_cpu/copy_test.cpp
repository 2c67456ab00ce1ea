// CPU strided copy: every pair of dtypes, 16-bit floats included (the cross-backend
// harness in tests/kernels_ops checks the layouts and 8 of these pairs) and the error wording.
#include <gtest/gtest.h>

#include "kernels/copy.h"
#include "tests/support/random_data.h"

namespace glia::kernels {
namespace {

CopyParams make_copy(DType src_dtype, DType dst_dtype, const std::vector<int64_t>& sizes,
                     const std::vector<int64_t>& src_strides, const std::vector<int64_t>& dst_strides,
                     const void* src, void* dst) {
  CopyParams p;
  p.src_dtype = src_dtype;
  p.dst_dtype = dst_dtype;
  p.ndim = static_cast<int>(sizes.size());
  for (int d = 0; d < p.ndim; ++d) {
    p.sizes[d] = sizes[d];
    p.src_strides[d] = src_strides[d];
    p.dst_strides[d] = dst_strides[d];
  }
  p.numel = test::shape_numel(sizes);
  p.src = src;
  p.dst = dst;
  return p;
}

// Copies src (viewed with src_strides) into a poisoned dst buffer of dst_len elements
// viewed with dst_strides; checks every viewed element and that nothing else was written.
template <class S, class D>
void check_copy(const std::vector<int64_t>& sizes, const std::vector<int64_t>& src_strides, size_t src_len,
                const std::vector<int64_t>& dst_strides, size_t dst_len, uint32_t seed) {
  // Small integers are exact in every dtype, so any conversion must round-trip them.
  const auto src = test::cast_vector<S>(test::random_ints(src_len, seed, 0, 120));
  auto dst = test::poisoned<D>(dst_len);
  cpu::copy(make_copy(dtype_of<S>::value, dtype_of<D>::value, sizes, src_strides, dst_strides, src.data(), dst.data()));
  auto expected = test::poisoned<D>(dst_len);
  for (int64_t i = 0; i < test::shape_numel(sizes); ++i)
    expected[test::strided_offset(sizes, dst_strides, i)] =
        static_cast<D>(src[test::strided_offset(sizes, src_strides, i)]);
  for (size_t i = 0; i < dst_len; ++i) {
    if constexpr (std::numeric_limits<D>::has_quiet_NaN) {
      if (std::isnan(expected[i])) {
        ASSERT_TRUE(std::isnan(dst[i])) << "element " << i << " outside the view was written";
        continue;
      }
    }
    ASSERT_EQ(dst[i], expected[i]) << "element " << i << " " << dtype_name(dtype_of<S>::value) << " -> "
                                   << dtype_name(dtype_of<D>::value);
  }
}

template <class S>
void check_all_destinations(uint32_t seed) {
  // transposed [5,3,7] source into a contiguous [3,5,7] destination
  const std::vector<int64_t> sizes = {3, 5, 7}, transposed = {7, 21, 1}, contiguous = {35, 7, 1};
  check_copy<S, float>(sizes, transposed, 105, contiguous, 105, seed);
  check_copy<S, double>(sizes, transposed, 105, contiguous, 105, seed);
  check_copy<S, int32_t>(sizes, transposed, 105, contiguous, 105, seed);
  check_copy<S, int64_t>(sizes, transposed, 105, contiguous, 105, seed);
  check_copy<S, uint8_t>(sizes, transposed, 105, contiguous, 105, seed);
  check_copy<S, float16>(sizes, transposed, 105, contiguous, 105, seed);
  check_copy<S, bfloat16>(sizes, transposed, 105, contiguous, 105, seed);
}

TEST(CopyCpu, ConvertsBetweenEveryPairOfDtypes) {
  check_all_destinations<float>(1);
  check_all_destinations<double>(2);
  check_all_destinations<int32_t>(3);
  check_all_destinations<int64_t>(4);
  check_all_destinations<uint8_t>(5);
  check_all_destinations<float16>(6);
  check_all_destinations<bfloat16>(7);
}

// Casts to the 16-bit formats round to nearest even: 1 + 2^-8 is a tie between bfloat16's
// 1 and 1 + 2^-7 (goes to 1, the even one), 1 + 3 * 2^-8 a tie that goes up; the same
// for float16 at 2^-11. kernels_cpu/half_test.cpp checks the conversions exhaustively.
TEST(CopyCpu, RoundsToNearestEvenInto16BitFormats) {
  const float src[4] = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, 1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f};
  bfloat16 b[4];
  float16 h[4];
  cpu::copy(make_copy(DType::f32, DType::bf16, {4}, {1}, {1}, src, b));
  cpu::copy(make_copy(DType::f32, DType::f16, {4}, {1}, {1}, src, h));
  EXPECT_EQ(float(b[0]), 1.0f);
  EXPECT_EQ(float(b[1]), 1.0f + 0x1p-6f);
  EXPECT_EQ(float(h[2]), 1.0f);
  EXPECT_EQ(float(h[3]), 1.0f + 0x1p-9f);
}

TEST(CopyCpu, UnsupportedDtypeNamesOpAndDtype) {
  float src[1] = {1}, dst[1] = {0};
  try {
    cpu::copy(make_copy(DType::f32, static_cast<DType>(99), {1}, {1}, {1}, src, dst));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("copy"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unsupported dtype"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace glia::kernels
