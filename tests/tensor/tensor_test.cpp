// Tensor core: factories, metadata, views sharing storage, contiguous(), conversions,
// printing.
#include <sstream>

#include "tests/tensor/helpers.h"

namespace glia {
namespace {

using test::random_tensor;

Tensor iota(const Shape& shape, DType dtype = DType::f32) {
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
  return from_vector(v, shape, dtype);
}

TEST(Tensor, FactoriesFillEveryElement) {
  EXPECT_EQ(zeros({3, 5}).to_vector<float>(), std::vector<float>(15, 0.f));
  EXPECT_EQ(ones({2, 3}, DType::f64).to_vector<double>(), std::vector<double>(6, 1.0));
  EXPECT_EQ(full({7}, 2.5).to_vector<float>(), std::vector<float>(7, 2.5f));
  EXPECT_EQ(arange(5).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(arange(1, 2, 0.25, DType::f64).to_vector<double>(), (std::vector<double>{1, 1.25, 1.5, 1.75}));
  Tensor s = scalar_tensor(3);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.item<float>(), 3.f);
}

TEST(Tensor, MetadataAndNegativeDims) {
  Tensor t = zeros({3, 5, 7});
  EXPECT_EQ(t.dim(), 3);
  EXPECT_EQ(t.numel(), 105);
  EXPECT_EQ(t.size(-1), 7);
  EXPECT_EQ(t.size(0), 3);
  EXPECT_EQ(t.strides(), (Shape{35, 7, 1}));
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.dtype(), DType::f32);
  EXPECT_EQ(t.device(), Device::cpu);
}

TEST(Tensor, FromVectorRoundTripsEveryDtype) {
  std::vector<int32_t> i32{1, -2, 3};
  EXPECT_EQ(from_vector(i32).to_vector<int32_t>(), i32);
  std::vector<double> d{0.5, -1.25};
  EXPECT_EQ(from_vector(d, {2}, DType::f32).to_vector<double>(), d);
  EXPECT_THROW(from_vector(std::vector<float>{1, 2, 3}, {2, 2}), Error);
}

TEST(TensorViews, ViewsShareStorageWithoutCopy) {
  Tensor t = iota({3, 5, 7});
  Tensor v = t.view({15, 7});
  Tensor p = t.permute({2, 0, 1});
  Tensor s = t.slice(1, 1, 4);
  Tensor e = t.select(0, 1).unsqueeze(0).expand({4, 5, 7});
  for (const Tensor& x : {v, p, s, e}) EXPECT_EQ(x.storage(), t.storage());
  EXPECT_EQ(p.sizes(), (Shape{7, 3, 5}));
  EXPECT_EQ(p.strides(), (Shape{1, 35, 7}));
  EXPECT_FALSE(p.is_contiguous());
  EXPECT_EQ(s.storage_offset(), 7);
  EXPECT_EQ(e.strides()[0], 0);
  // A write through a view is seen by the base.
  t.select(0, 2).select(0, 4).fill_(-1);
  EXPECT_EQ(v.to_vector<float>()[2 * 35 + 4 * 7 + 3], -1.f);
}

TEST(TensorViews, ValuesOfViewsMatchIndexArithmetic) {
  Tensor t = iota({3, 5, 7});
  auto p = t.permute({2, 0, 1}).to_vector<float>();  // p[k][i][j] = t[i][j][k]
  for (int k = 0; k < 7; ++k)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 5; ++j) EXPECT_EQ(p[(k * 3 + i) * 5 + j], static_cast<float>(i * 35 + j * 7 + k));
  auto s = t.slice(2, 1, 7, 2).to_vector<float>();  // columns 1, 3, 5
  ASSERT_EQ(s.size(), 3u * 5 * 3);
  EXPECT_EQ(s[0], 1.f);
  EXPECT_EQ(s[1], 3.f);
  EXPECT_EQ(s[2], 5.f);
  EXPECT_EQ(s[3], 8.f);
  auto n = t.narrow(0, 2, 1).to_vector<float>();
  EXPECT_EQ(n.front(), 70.f);
  EXPECT_EQ(t.transpose(0, 2).sizes(), (Shape{7, 5, 3}));
  auto e = from_vector(std::vector<float>{1, 2, 3}, {3, 1}).expand({3, 4}).to_vector<float>();
  EXPECT_EQ(e, (std::vector<float>{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3}));
  EXPECT_EQ(t.select(-1, -1).to_vector<float>()[0], 6.f);
}

TEST(TensorViews, ReshapeViewsWhenPossibleAndCopiesOtherwise) {
  Tensor t = iota({4, 6});
  Tensor r = t.reshape({2, -1, 3});
  EXPECT_EQ(r.sizes(), (Shape{2, 4, 3}));
  EXPECT_EQ(r.storage(), t.storage());
  Tensor tt = t.transpose(0, 1);  // [6, 4], not contiguous
  EXPECT_THROW(tt.view({24}), Error);
  Tensor flat = tt.reshape({24});
  EXPECT_NE(flat.storage(), t.storage());
  auto f = flat.to_vector<float>();
  EXPECT_EQ(f[1], 6.f);  // tt[0][1] = t[1][0]
  EXPECT_EQ(t.slice(1, 0, 3).reshape({12}).storage() == t.storage(), false);  // gaps: copy
  EXPECT_EQ(t.unsqueeze(1).squeeze(1).sizes(), (Shape{4, 6}));
  EXPECT_EQ(zeros({1, 3, 1}).squeeze().sizes(), (Shape{3}));
  EXPECT_EQ(t.flatten().sizes(), (Shape{24}));
  EXPECT_EQ(iota({2, 3, 4}).flatten(1).sizes(), (Shape{2, 12}));
}

TEST(TensorViews, ContiguousCopiesOnlyWhenNeeded) {
  Tensor t = random_tensor({3, 5, 7}, DType::f32, Device::cpu, 1);
  EXPECT_TRUE(t.contiguous().is_same(t));
  Tensor p = t.permute({1, 2, 0});
  Tensor c = p.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_NE(c.storage(), t.storage());
  EXPECT_EQ(c.to_vector<float>(), p.to_vector<float>());
}

TEST(TensorViews, BadDimsNameTheDimAndShape) {
  Tensor t = zeros({3, 5});
  try {
    t.size(2);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dim 2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[3, 5]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(t.permute({0, 0}), Error);
  EXPECT_THROW(t.permute({0}), Error);
  EXPECT_THROW(t.select(1, 5), Error);
  EXPECT_THROW(t.narrow(0, 2, 2), Error);
  EXPECT_THROW(t.squeeze(0), Error);
  EXPECT_THROW(t.expand({4, 5}), Error);
  EXPECT_THROW(t.view({4, 4}), Error);
  EXPECT_THROW(t.unsqueeze(3), Error);
  EXPECT_THROW(t.transpose(0, -3), Error);
}

TEST(TensorConvert, DtypeAndCopies) {
  Tensor t = from_vector(std::vector<double>{1.5, -2.25, 3}, {3});
  EXPECT_EQ(t.to(DType::f32).to_vector<float>(), (std::vector<float>{1.5f, -2.25f, 3.f}));
  EXPECT_EQ(t.to(DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{1, -2, 3}));
  Tensor c = t.clone();
  c.fill_(0);
  EXPECT_EQ(t.to_vector<double>()[0], 1.5);
  EXPECT_THROW(t.item<double>(), Error);
}

TEST(TensorInPlace, BumpVersionAndWriteThroughStrides) {
  Tensor t = zeros({3, 4});
  const uint64_t v0 = t.version();
  Tensor col = t.select(1, 2);  // strided view
  col.fill_(5);
  EXPECT_GT(t.version(), v0);
  col.add_(1);
  col.mul_(2);
  col.copy_(mul(from_vector(std::vector<float>{1, 2, 3}), 1.0).add_(from_vector(std::vector<float>{1, 1, 1})));
  auto v = t.to_vector<float>();
  EXPECT_EQ(v, (std::vector<float>{0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0}));
  t.copy_(from_vector(std::vector<float>{1, 2, 3, 4}));  // broadcast over rows
  EXPECT_EQ(t.to_vector<float>()[5], 2.f);
  t.zero_();
  EXPECT_EQ(t.to_vector<float>(), std::vector<float>(12, 0.f));
  Tensor d = from_vector(std::vector<double>{1, 2});
  t.narrow(1, 0, 2).copy_(d);  // dtype conversion on copy
  EXPECT_EQ(t.to_vector<float>()[1], 2.f);
}

TEST(TensorPrint, LooksLikePyTorch) {
  Tensor t = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  std::ostringstream os;
  os << t;
  EXPECT_EQ(os.str(), "tensor([[1.0000, 2.0000, 3.0000], [4.0000, 5.0000, 6.0000]], shape=[2, 3], dtype=float32, device=cpu)");
  std::ostringstream g;
  g << t.to(DType::f64).requires_grad_();
  EXPECT_NE(g.str().find("dtype=float64"), std::string::npos) << g.str();
  EXPECT_NE(g.str().find("requires_grad=true"), std::string::npos) << g.str();
  std::ostringstream big;
  big << arange(2000);
  EXPECT_EQ(big.str(), "tensor([0, 1, 2, ..., 1997, 1998, 1999], shape=[2000], dtype=int64, device=cpu)");
  std::ostringstream s;
  s << scalar_tensor(0.5, DType::f64);
  EXPECT_EQ(s.str(), "tensor(0.5000, shape=[], dtype=float64, device=cpu)");
}

// The same tensors on every available device: factories, views, copies across devices.
class TensorDevices : public ::testing::TestWithParam<Device> {};

TEST_P(TensorDevices, RoundTripAndViewsOnDevice) {
  const Device dev = GetParam();
  Tensor host = random_tensor({3, 5, 7}, DType::f32, Device::cpu, 7);
  Tensor d = host.to(dev);
  EXPECT_EQ(d.device(), dev);
  EXPECT_EQ(d.to_vector<float>(), host.to_vector<float>());
  EXPECT_EQ(d.select(1, 2).to(Device::cpu).sizes(), (Shape{3, 7}));
  EXPECT_EQ(d.permute({2, 1, 0}).contiguous().to_vector<float>(), host.permute({2, 1, 0}).to_vector<float>());
  EXPECT_EQ(zeros({3, 5}, DType::f64, dev).to_vector<double>(), std::vector<double>(15, 0.0));
}

INSTANTIATE_TEST_SUITE_P(Devices, TensorDevices, ::testing::ValuesIn(test::devices()), test::device_param_name);

}  // namespace
}  // namespace glia
