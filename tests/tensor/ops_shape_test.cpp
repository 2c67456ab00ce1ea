// concat, split, chunk and cast on every available device.
#include "tests/tensor/helpers.h"

namespace glia {
namespace {

using test::random_tensor;
using test::values_of;

class ShapeOps : public ::testing::TestWithParam<Device> {};

TEST_P(ShapeOps, ConcatAlongEveryDimThenSplitBack) {
  const Device dev = GetParam();
  for (int64_t d = 0; d < 3; ++d) {
    Shape s1{3, 5, 7}, s2{3, 5, 7};
    s2[static_cast<size_t>(d)] = 2;
    Tensor a = random_tensor(s1, DType::f32, dev, 111), b = random_tensor(s2, DType::f32, dev, 112);
    Tensor c = concat({a, b}, d);
    Shape want = s1;
    want[static_cast<size_t>(d)] += 2;
    ASSERT_EQ(c.sizes(), want);
    // Every element of c comes from a or b at the shifted index.
    auto cv = values_of(c), av = values_of(a), bv = values_of(b);
    for (int64_t i = 0; i < c.numel(); ++i) {
      auto idx = test::unravel(i, want);
      const bool from_a = idx[static_cast<size_t>(d)] < s1[static_cast<size_t>(d)];
      if (!from_a) idx[static_cast<size_t>(d)] -= s1[static_cast<size_t>(d)];
      const Shape& src = from_a ? s1 : s2;
      int64_t flat = 0;
      for (size_t k = 0; k < 3; ++k) flat = flat * src[k] + idx[k];
      ASSERT_EQ(cv[static_cast<size_t>(i)], (from_a ? av : bv)[static_cast<size_t>(flat)]) << "dim " << d << " " << i;
    }
    auto parts = split(c, s1[static_cast<size_t>(d)], d);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(values_of(parts[0]), av);
    EXPECT_EQ(values_of(parts[1]), bv);
  }
}

TEST_P(ShapeOps, ChunkSizesLikePyTorch) {
  const Device dev = GetParam();
  Tensor x = random_tensor({7, 3}, DType::f32, dev, 121);
  auto parts = chunk(x, 3, 0);  // 3, 3, 1
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].size(0), 3);
  EXPECT_EQ(parts[2].size(0), 1);
  EXPECT_EQ(parts[1].storage(), x.storage());
  EXPECT_EQ(split(x, 2, 1).size(), 2u);
}

TEST_P(ShapeOps, CastBetweenDtypes) {
  const Device dev = GetParam();
  Tensor x = from_vector(std::vector<double>{1.25, -2.5, 3.75}, {3}, DType::f64, dev);
  EXPECT_EQ(cast(x, DType::f32).to_vector<float>(), (std::vector<float>{1.25f, -2.5f, 3.75f}));
  EXPECT_EQ(cast(x, DType::f32).device(), dev);
  EXPECT_EQ(cast(x, DType::i32).to_vector<int32_t>(), (std::vector<int32_t>{1, -2, 3}));
}

INSTANTIATE_TEST_SUITE_P(Devices, ShapeOps, ::testing::ValuesIn(test::devices()), test::device_param_name);

}  // namespace
}  // namespace glia
