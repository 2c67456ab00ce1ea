// Reductions over chosen dims (adjacent, non-adjacent, all, negative, keepdim, strided
// input) against a double reference on every available device.
#include <limits>

#include "tests/tensor/helpers.h"

namespace glia {
namespace {

using test::expect_close;
using test::random_tensor;
using test::values_of;

enum class Kind { sum, mean, max, argmax };

// Reference: reduce the row-major values of `shape` over `dims` (sorted, non-negative).
std::vector<double> ref_reduce(const std::vector<double>& x, const Shape& shape, const std::vector<int64_t>& dims,
                               Kind kind) {
  Shape kept;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    if (std::find(dims.begin(), dims.end(), d) == dims.end()) kept.push_back(shape[static_cast<size_t>(d)]);
  }
  const int64_t n_out = shape_numel(kept);
  std::vector<double> acc(static_cast<size_t>(n_out), kind == Kind::sum || kind == Kind::mean ? 0.0 : -INFINITY);
  std::vector<double> arg(static_cast<size_t>(n_out), -1), count(static_cast<size_t>(n_out), 0);
  for (int64_t i = 0; i < shape_numel(shape); ++i) {
    auto idx = test::unravel(i, shape);
    int64_t o = 0, r = 0;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (std::find(dims.begin(), dims.end(), static_cast<int64_t>(d)) == dims.end()) {
        o = o * shape[d] + idx[d];
      } else {
        r = r * shape[d] + idx[d];
      }
    }
    const double v = x[static_cast<size_t>(i)];
    auto& a = acc[static_cast<size_t>(o)];
    if (kind == Kind::sum || kind == Kind::mean) {
      a += v;
    } else if (v > a) {
      a = v;
      arg[static_cast<size_t>(o)] = static_cast<double>(r);
    }
    count[static_cast<size_t>(o)] += 1;
  }
  if (kind == Kind::mean) {
    for (size_t i = 0; i < acc.size(); ++i) acc[i] /= count[i];
  }
  return kind == Kind::argmax ? arg : acc;
}

class Reduce : public ::testing::TestWithParam<Device> {};

TEST_P(Reduce, SumMeanMaxOverChosenDims) {
  const Device dev = GetParam();
  const Shape shape{3, 5, 7};
  const std::vector<std::vector<int64_t>> dim_sets{{}, {0}, {1}, {2}, {0, 1}, {1, 2}, {0, 2}, {-1, 0}, {0, 1, 2}};
  for (DType dt : test::float_dtypes()) {
    Tensor x = random_tensor(shape, dt, dev, 31);
    auto xv = values_of(x);
    for (const auto& dims : dim_sets) {
      std::vector<int64_t> norm;
      for (int64_t d : dims) norm.push_back(d < 0 ? d + 3 : d);
      if (dims.empty()) norm = {0, 1, 2};
      std::sort(norm.begin(), norm.end());
      for (bool keepdim : {false, true}) {
        const std::string what = "dims " + shape_str(dims) + (keepdim ? " keepdim" : "");
        Tensor s = sum(x, dims, keepdim), m = mean(x, dims, keepdim), mx = max(x, dims, keepdim);
        Shape want_shape;
        for (int64_t d = 0; d < 3; ++d) {
          const bool r = std::find(norm.begin(), norm.end(), d) != norm.end();
          if (!r || keepdim) want_shape.push_back(r ? 1 : shape[static_cast<size_t>(d)]);
        }
        EXPECT_EQ(s.sizes(), want_shape) << what;
        EXPECT_EQ(mx.sizes(), want_shape) << what;
        expect_close(values_of(s), ref_reduce(xv, shape, norm, Kind::sum), dt, "sum " + what, 4);
        expect_close(values_of(m), ref_reduce(xv, shape, norm, Kind::mean), dt, "mean " + what, 4);
        expect_close(values_of(mx), ref_reduce(xv, shape, norm, Kind::max), dt, "max " + what);
      }
    }
    // Strided input: a permuted view reduced over its middle dim.
    Tensor p = x.permute({2, 0, 1});
    expect_close(values_of(sum(p, {1})), ref_reduce(values_of(p), {7, 3, 5}, {1}, Kind::sum), dt, "sum strided", 4);
  }
}

TEST_P(Reduce, Argmax) {
  const Device dev = GetParam();
  Tensor x = random_tensor({3, 5, 7}, DType::f32, dev, 41);
  auto xv = values_of(x);
  for (int64_t d = 0; d < 3; ++d) {
    Tensor a = argmax(x, d);
    EXPECT_EQ(a.dtype(), DType::i64);
    auto got = a.to_vector<int64_t>();
    auto want = ref_reduce(xv, {3, 5, 7}, {d}, Kind::argmax);
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(static_cast<double>(got[i]), want[i]) << "dim " << d << " " << i;
  }
  EXPECT_EQ(argmax(x, -1, true).sizes(), (Shape{3, 5, 1}));
  const auto flat = argmax(x).item<int64_t>();
  EXPECT_EQ(static_cast<double>(flat), ref_reduce(xv, {3, 5, 7}, {0, 1, 2}, Kind::argmax)[0]);
}

TEST_P(Reduce, EmptyDimSumIsZeroAndMaxIsAnError) {
  const Device dev = GetParam();
  Tensor e = zeros({3, 0}, DType::f32, dev);
  EXPECT_EQ(sum(e, {1}).to_vector<float>(), std::vector<float>(3, 0.f));
  EXPECT_THROW(max(e, {1}), Error);
}

INSTANTIATE_TEST_SUITE_P(Devices, Reduce, ::testing::ValuesIn(test::devices()), test::device_param_name);

}  // namespace
}  // namespace glia
