// CPU reductions: what the cross-backend harness (tests/kernels_ops) does not check, i.e.
// bit-identical results for 1, 2 and 3 threads, NaN propagation with ties, error wording.
#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>

#include "kernels/reduce.h"
#include "tests/support/random_data.h"

namespace glia::kernels {
namespace {

struct Shape {
  int64_t outer, reduce, inner;
};

// Shapes covering: odd sizes, inner == 1 (chunked rows, chunk = 4096), lane blocks of 64
// with a remainder, a single element, and sizes that take the threaded paths.
const Shape kShapes[] = {{3, 5, 7}, {5, 9, 1}, {2, 10001, 1}, {4, 33, 70}, {1, 1, 1},
                         {1, 150001, 1}, {40, 3001, 1}, {3, 200, 131}};

template <class T>
std::vector<T> run_reduce(ReduceOp op, const Shape& s, const std::vector<T>& x, std::vector<int64_t>* indices) {
  const size_t n_out = static_cast<size_t>(s.outer * s.inner);
  std::vector<T> out = test::poisoned<T>(n_out);
  std::vector<int64_t> arg = test::poisoned<int64_t>(n_out);
  ReduceParams p;
  p.dtype = dtype_of<T>::value;
  p.op = op;
  p.outer = s.outer;
  p.reduce = s.reduce;
  p.inner = s.inner;
  p.x = x.data();
  if (op == ReduceOp::argmax) {
    p.out = arg.data();
  } else {
    p.out = out.data();
    if (indices) p.indices = arg.data();
  }
  cpu::reduce(p);
  if (indices) *indices = arg;
  return out;
}

template <class T>
class ReduceTest : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(ReduceTest, FloatTypes);

TYPED_TEST(ReduceTest, BitIdenticalForOneTwoAndThreeThreads) {
  using T = TypeParam;
  const int saved = omp_get_max_threads();
  uint32_t seed = 50;
  for (const Shape& s : kShapes) {
    const auto x = test::random_vector<T>(static_cast<size_t>(s.outer * s.reduce * s.inner), seed++);
    for (ReduceOp op : {ReduceOp::sum, ReduceOp::mean, ReduceOp::max}) {
      std::vector<std::vector<T>> results;
      for (int threads : {1, 2, 3}) {
        omp_set_num_threads(threads);
        results.push_back(run_reduce<T>(op, s, x, nullptr));
      }
      for (size_t t = 1; t < results.size(); ++t)
        EXPECT_EQ(0, std::memcmp(results[0].data(), results[t].data(), results[0].size() * sizeof(T)))
            << "op " << static_cast<int>(op) << " differs between 1 and " << t + 1 << " threads, shape [" << s.outer
            << "," << s.reduce << "," << s.inner << "]";
    }
  }
  omp_set_num_threads(saved);
}

// A long row sums to the same bits whether it is reduced alone (threads share its chunks)
// or as one of many rows (one thread per row).
TYPED_TEST(ReduceTest, LongRowSumDoesNotDependOnHowManyRowsAreReduced) {
  using T = TypeParam;
  const int64_t R = 40001;
  const auto x = test::random_vector<T>(static_cast<size_t>(9 * R), 77);
  const auto all_rows = run_reduce<T>(ReduceOp::sum, Shape{9, R, 1}, x, nullptr);
  for (int64_t o : {0, 8}) {
    const std::vector<T> row(x.begin() + o * R, x.begin() + (o + 1) * R);
    const T alone = run_reduce<T>(ReduceOp::sum, Shape{1, R, 1}, row, nullptr)[0];
    EXPECT_EQ(0, std::memcmp(&alone, &all_rows[o], sizeof(T))) << "row " << o;
  }
}

TYPED_TEST(ReduceTest, FirstOccurrenceWinsTiesAndNaNPropagates) {
  using T = TypeParam;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const Shape row{1, 4, 1};
  std::vector<int64_t> index;
  const std::vector<T> ties = {3, 1, 3, 1};
  EXPECT_EQ(run_reduce<T>(ReduceOp::max, row, ties, &index)[0], T(3));
  EXPECT_EQ(index[0], 0);
  EXPECT_EQ(run_reduce<T>(ReduceOp::min, row, ties, &index)[0], T(1));
  EXPECT_EQ(index[0], 1);
  const std::vector<T> with_nan = {1, nan, 3, nan};  // PyTorch: max = nan at index 1
  for (ReduceOp op : {ReduceOp::max, ReduceOp::min}) {
    EXPECT_TRUE(std::isnan(run_reduce<T>(op, row, with_nan, &index)[0]));
    EXPECT_EQ(index[0], 1);
  }
  run_reduce<T>(ReduceOp::argmax, row, with_nan, &index);
  EXPECT_EQ(index[0], 1);
  // the same with inner > 1: lane 0 has the NaN, lane 1 not
  const std::vector<T> lanes = {1, 5, nan, 2, 3, 7};
  const auto out = run_reduce<T>(ReduceOp::max, Shape{1, 3, 2}, lanes, &index);
  EXPECT_TRUE(std::isnan(out[0]));
  EXPECT_EQ(out[1], T(7));
  EXPECT_EQ(index, (std::vector<int64_t>{1, 2}));
}

TEST(ReduceErrors, EmptyMaxAndUnsupportedDtypeNameTheProblem) {
  float x[1] = {1}, out[1];
  ReduceParams p;
  p.op = ReduceOp::max;
  p.reduce = 0;
  p.x = x;
  p.out = out;
  try {
    cpu::reduce(p);
    ADD_FAILURE() << "expected an error for max over an empty axis";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("empty"), std::string::npos) << e.what();
  }
  p.op = ReduceOp::sum;
  p.reduce = 1;
  p.dtype = DType::i64;
  try {
    cpu::reduce(p);
    ADD_FAILURE() << "expected an error for int64";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("reduce"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("int64"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace glia::kernels
