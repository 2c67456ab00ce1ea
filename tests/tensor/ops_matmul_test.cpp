// matmul (2-D, transposed views, batched, broadcast weight) and linear against a double
// reference on every available device.
#include "tests/tensor/helpers.h"

namespace glia {
namespace {

using test::expect_close;
using test::random_tensor;
using test::values_of;

// C[b] = A[b] B[b] for row-major values; a batch of 1 is broadcast.
std::vector<double> ref_matmul(const std::vector<double>& a, int64_t ba, const std::vector<double>& b, int64_t bb,
                               int64_t m, int64_t k, int64_t n) {
  const int64_t batch = std::max(ba, bb);
  std::vector<double> c(static_cast<size_t>(batch * m * n), 0.0);
  for (int64_t p = 0; p < batch; ++p)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t q = 0; q < k; ++q) {
          s += a[static_cast<size_t>((ba == 1 ? 0 : p) * m * k + i * k + q)] *
               b[static_cast<size_t>((bb == 1 ? 0 : p) * k * n + q * n + j)];
        }
        c[static_cast<size_t>(p * m * n + i * n + j)] = s;
      }
  return c;
}

class Matmul : public ::testing::TestWithParam<Device> {};

TEST_P(Matmul, TwoDimensionalAndTransposedViews) {
  const Device dev = GetParam();
  for (DType dt : test::float_dtypes()) {
    Tensor a = random_tensor({5, 7}, dt, dev, 51), b = random_tensor({7, 3}, dt, dev, 52);
    expect_close(values_of(matmul(a, b)), ref_matmul(values_of(a), 1, values_of(b), 1, 5, 7, 3), dt, "a@b", 4);
    // Transposed operands, passed by strides.
    Tensor at = random_tensor({7, 5}, dt, dev, 53).transpose(0, 1);
    Tensor bt = random_tensor({3, 7}, dt, dev, 54).transpose(0, 1);
    expect_close(values_of(matmul(at, bt)), ref_matmul(values_of(at), 1, values_of(bt), 1, 5, 7, 3), dt, "a^T@b^T", 4);
    // A row slice with a leading dimension larger than its width.
    Tensor as = random_tensor({5, 11}, dt, dev, 55).slice(1, 2, 9);
    expect_close(values_of(matmul(as, b)), ref_matmul(values_of(as), 1, values_of(b), 1, 5, 7, 3), dt, "slice@b", 4);
    // Neither rows nor columns contiguous: copied first.
    Tensor ag = random_tensor({10, 14}, dt, dev, 56).slice(0, 0, 10, 2).slice(1, 0, 14, 2);
    expect_close(values_of(matmul(ag, b)), ref_matmul(values_of(ag), 1, values_of(b), 1, 5, 7, 3), dt, "strided@b", 4);
  }
}

TEST_P(Matmul, Batched) {
  const Device dev = GetParam();
  for (DType dt : test::float_dtypes()) {
    Tensor a = random_tensor({3, 5, 7}, dt, dev, 61), b = random_tensor({3, 7, 4}, dt, dev, 62);
    Tensor c = matmul(a, b);
    EXPECT_EQ(c.sizes(), (Shape{3, 5, 4}));
    expect_close(values_of(c), ref_matmul(values_of(a), 3, values_of(b), 3, 5, 7, 4), dt, "batched", 4);
    Tensor w = random_tensor({7, 4}, dt, dev, 63);
    expect_close(values_of(matmul(a, w)), ref_matmul(values_of(a), 3, values_of(w), 1, 5, 7, 4), dt, "3d@2d", 4);
    Tensor l = random_tensor({5, 7}, dt, dev, 64);
    expect_close(values_of(matmul(l, b)), ref_matmul(values_of(l), 1, values_of(b), 3, 5, 7, 4), dt, "2d@3d", 4);
    Tensor bt = random_tensor({3, 4, 7}, dt, dev, 65).transpose(1, 2);
    expect_close(values_of(matmul(a, bt)), ref_matmul(values_of(a), 3, values_of(bt), 3, 5, 7, 4), dt, "a@b^T batched", 4);
  }
}

TEST_P(Matmul, LinearWithPyTorchWeightLayout) {
  const Device dev = GetParam();
  for (DType dt : test::float_dtypes()) {
    Tensor x = random_tensor({2, 3, 7}, dt, dev, 71), w = random_tensor({5, 7}, dt, dev, 72);
    Tensor b = random_tensor({5}, dt, dev, 73);
    Tensor y = linear(x, w, b);
    EXPECT_EQ(y.sizes(), (Shape{2, 3, 5}));
    auto xv = values_of(x), wv = values_of(w), bv = values_of(b);
    std::vector<double> want(30);
    for (int r = 0; r < 6; ++r)
      for (int o = 0; o < 5; ++o) {
        double s = bv[o];
        for (int i = 0; i < 7; ++i) s += xv[r * 7 + i] * wv[o * 7 + i];
        want[r * 5 + o] = s;
      }
    expect_close(values_of(y), want, dt, "linear", 4);
    EXPECT_EQ(linear(x, w).sizes(), (Shape{2, 3, 5}));
  }
}

INSTANTIATE_TEST_SUITE_P(Devices, Matmul, ::testing::ValuesIn(test::devices()), test::device_param_name);

}  // namespace
}  // namespace glia
